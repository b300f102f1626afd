"""ECS server views: v1 ServerDetail, v1.1 CloudServer, Nova server, DeH RespServer."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from coldshift.api.views.timefmt import micros, seconds_z
from coldshift.domain.catalog import Flavor
from coldshift.domain.hosts import Host, HostKind
from coldshift.domain.servers import Server, derived_uuid, server_volumes

USER_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"


def display_host(host: Host | None) -> str:
    """Tenants never see pool host names: they get a stable opaque alias."""
    if host is None:
        return ""
    if host.kind is HostKind.DEH:
        return f"deh-{host.id}"
    return _pool_alias(host.name)


def pool_alias(host_name: str) -> str:
    """The alias a tenant sees for the pool host of this name."""
    return _pool_alias(host_name)


# The hashes below are pure functions of ids and are computed for every server of every view:
# a list of 100 servers spent a fifth of its time hashing the same ids again.
_HASHES = 65536


@lru_cache(maxsize=1024)
def _pool_alias(host_name: str) -> str:
    return "pool-" + hashlib.sha1(host_name.encode()).hexdigest()[:12]


def host_id_hash(project_id: str, host: Host | None) -> str:
    """Nova's hostId: SHA-224 of project + host, so it changes with the host."""
    if host is None:
        return ""
    return _host_id_hash(project_id, display_host(host))


@lru_cache(maxsize=_HASHES)
def _host_id_hash(project_id: str, display: str) -> str:
    return hashlib.sha224((project_id + display).encode()).hexdigest()


@lru_cache(maxsize=_HASHES)
def _mac(server_id: str) -> str:
    raw = hashlib.md5(server_id.encode()).hexdigest()
    return "fa:16:3e:" + ":".join(raw[i : i + 2] for i in range(0, 6, 2))


def _volumes(server: Server) -> list[tuple[str, str, int]]:
    return [(v.id, v.device, v.size_gb) for v in server_volumes(server)]


_uuid_from = derived_uuid


def _addresses(server: Server, *, version: int | str, full: bool) -> dict[str, Any]:
    """The server's one fixed address; ``version`` is a string in v1 and an int elsewhere."""
    address: dict[str, Any] = {
        "addr": server.details.get("ip", ""),
        "version": version,
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": _mac(server.id),
    }
    if full:
        address.update({"OS-EXT-IPS:port_id": _uuid_from(server.id, 99), "primary": True})
    return {server.vpc_id: [address]}


def _instance_attributes(server: Server) -> dict[str, Any]:
    """The ``OS-EXT-SRV-ATTR`` members of v1 detail (and of Nova from microversion 2.3)."""
    return {
        "OS-EXT-SRV-ATTR:hostname": server.name,
        "OS-EXT-SRV-ATTR:reservation_id": "r-" + server.id[:8],
        "OS-EXT-SRV-ATTR:launch_index": int(server.details.get("launch_index", 0)),
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:user_data": None,
    }


def scheduler_hints(server: Server) -> dict[str, list[str]]:
    if server.tenancy != "dedicated":
        return {}
    hints = {"tenancy": ["dedicated"]}
    if server.dedicated_host_id:
        hints["dedicated_host_id"] = [server.dedicated_host_id]
    return hints


def _metadata(server: Server) -> dict[str, str]:
    return {
        "charging_mode": "0",
        "vpc_id": server.vpc_id,
        "metering.image_id": server.image_ref,
        "os_type": "Linux",
        **{str(k): str(v) for k, v in server.details.get("metadata", {}).items()},
    }


def _fault(server: Server) -> dict[str, Any] | None:
    fault = server.details.get("fault")
    return dict(fault) if fault else None


def server_detail(server: Server, flavor: Flavor, host: Host | None) -> dict[str, Any]:
    """v1 ``ServerDetail``: flavor numbers are strings here, as the SDK model says."""
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:power_state": server.power_state,
        "OS-EXT-SRV-ATTR:host": display_host(host) or None,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": (display_host(host) + ".local") if host else None,
        "OS-EXT-SRV-ATTR:instance_name": "instance-" + server.id.replace("-", "")[:8],
        "hostId": host_id_hash(server.project_id, host),
        "host_status": "UP" if host else "",
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "os:scheduler_hints": scheduler_hints(server),
        "flavor": {
            "id": flavor.id,
            "name": flavor.id,
            "disk": "0",
            "vcpus": str(flavor.vcpus),
            "ram": str(flavor.ram_mb),
            "gpus": [],
            "asic_accelerators": [],
        },
        "locked": server.locked,
        "image": {"id": server.image_ref},
        "addresses": _addresses(server, version="4", full=True),
        "metadata": _metadata(server),
        "os-extended-volumes:volumes_attached": [
            {"id": vid, "delete_on_termination": "false", "bootIndex": str(i), "device": dev}
            for i, (vid, dev, _) in enumerate(_volumes(server))
        ],
        "security_groups": [{"id": _uuid_from(server.project_id, 7), "name": "default"}],
        "tenant_id": server.project_id,
        "user_id": USER_ID,
        "key_name": server.details.get("key_name"),
        "created": seconds_z(server.created_at),
        "updated": seconds_z(server.updated_at),
        "OS-SRV-USG:launched_at": micros(server.launched_at) or "",
        "OS-SRV-USG:terminated_at": "",
        "OS-DCF:diskConfig": "MANUAL",
        "accessIPv4": "",
        "accessIPv6": "",
        "config_drive": "",
        "progress": 0,
        "fault": _fault(server),
        "description": server.details.get("description", ""),
        "tags": list(server.details.get("tags", [])),
        "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}],
        "enterprise_project_id": "0",
        **_instance_attributes(server),
    }


EXPECT_FIELDS = frozenset(
    {
        "launched_at",
        "key_name",
        "locked",
        "root_device_name",
        "tenancy",
        "dedicated_host_id",
        "enterprise_project_id",
        "tags",
        "metadata",
        "addresses",
        "security_groups",
        "volumes_attached",
        "image",
        "power_state",
        "cpu_options",
        "market_info",
    }
)


def cloud_server(
    server: Server, flavor: Flavor, host: Host | None, expect: frozenset[str]
) -> dict[str, Any]:
    """v1.1 ``CloudServer``: a flattened view; optional members only when asked for."""
    view: dict[str, Any] = {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": USER_ID,
        "availability_zone": server.availability_zone,
        "vm_state": server.vm_state,
        "task_state": server.task_state or "",
        "created": seconds_z(server.created_at),
        "updated": seconds_z(server.updated_at),
        "in_recycle_bin": False,
        "spod_id": "",
        "description": server.details.get("description", ""),
        "flavor": {
            "id": flavor.id,
            "name": flavor.id,
            "vcpus": flavor.vcpus,
            "ram": flavor.ram_mb,
            "disk": 0,
            "gpus": [],
            "asic_accelerators": [],
        },
        "fault": _fault(server),
    }
    optional: dict[str, Any] = {
        "launched_at": seconds_z(server.launched_at) or "",
        "key_name": server.details.get("key_name"),
        "locked": server.locked,
        "root_device_name": "/dev/vda",
        "tenancy": server.tenancy,
        "dedicated_host_id": server.dedicated_host_id or "",
        "enterprise_project_id": "0",
        "tags": list(server.details.get("tags", [])),
        "metadata": _metadata(server),
        "power_state": server.power_state,
        "addresses": _addresses(server, version=4, full=True),
        "security_groups": [{"id": _uuid_from(server.project_id, 7), "name": "default"}],
        "volumes_attached": [
            {
                "id": vid,
                "delete_on_termination": i == 0,
                "device": dev,
                "bootIndex": str(i),
                "size": size,
            }
            for i, (vid, dev, size) in enumerate(_volumes(server))
        ],
        "image": {"id": server.image_ref},
    }
    view.update({k: v for k, v in optional.items() if k in expect})
    return view


def nova_server(
    server: Server,
    flavor: Flavor,
    host: Host | None,
    base_url: str,
    microversion: tuple[int, int] = (2, 1),
    flavor_extra_specs: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Nova-native server: members gated by microversion as upstream (api.md §3.4); ``locked``
    is shown at every microversion, as Huawei does."""
    link = f"{base_url}/v2.1/{server.project_id}/servers/{server.id}"
    view = {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "created": seconds_z(server.created_at),
        "updated": seconds_z(server.updated_at),
        "tenant_id": server.project_id,
        "user_id": USER_ID,
        "key_name": server.details.get("key_name"),
        "metadata": _metadata(server),
        "hostId": host_id_hash(server.project_id, host),
        "addresses": _addresses(server, version=4, full=False),
        "security_groups": [{"name": "default"}],
        "links": [{"rel": "self", "href": link}, {"rel": "bookmark", "href": link}],
        "image": {"id": server.image_ref, "links": []},
        "flavor": {"id": flavor.id, "links": []},
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "OS-EXT-SRV-ATTR:host": display_host(host) or None,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": (display_host(host) + ".local") if host else None,
        "OS-EXT-SRV-ATTR:instance_name": "instance-" + server.id.replace("-", "")[:8],
        "OS-EXT-STS:power_state": server.power_state,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-SRV-USG:launched_at": micros(server.launched_at),
        "OS-SRV-USG:terminated_at": None,
        "os-extended-volumes:volumes_attached": [
            {"id": vid, "delete_on_termination": i == 0}
            for i, (vid, _, _) in enumerate(_volumes(server))
        ],
        "fault": _fault(server),
        "locked": server.locked,
        "accessIPv4": "",
        "accessIPv6": "",
        "config_drive": "",
        "progress": 0,
    }
    hints = scheduler_hints(server)
    if hints:
        view["os:scheduler_hints"] = hints
    _gate_nova_members(view, server, flavor, host, microversion, flavor_extra_specs or {})
    return view


def _gate_nova_members(
    view: dict[str, Any],
    server: Server,
    flavor: Flavor,
    host: Host | None,
    microversion: tuple[int, int],
    extra_specs: dict[str, str],
) -> None:
    if microversion >= (2, 3):
        view.update(_instance_attributes(server))
    if microversion >= (2, 16):
        view["host_status"] = "UP" if host else ""
    if microversion >= (2, 19):
        view["description"] = server.details.get("description", "")
    if microversion >= (2, 26):
        view["tags"] = list(server.details.get("tags", []))
    if microversion >= (2, 47):
        view["flavor"] = {
            "vcpus": flavor.vcpus,
            "ram": flavor.ram_mb,
            "disk": 0,
            "ephemeral": 0,
            "swap": 0,
            "original_name": flavor.id,
            "extra_specs": dict(extra_specs),
        }


def deh_server(server: Server) -> dict[str, Any]:
    """DeH ``RespServer`` (servers on a DeH)."""
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": USER_ID,
        "created": seconds_z(server.created_at),
        "updated": seconds_z(server.updated_at),
        "task_state": server.task_state or "",
        "flavor": {"id": server.flavor_id},
        "image": {"id": server.image_ref},
        "metadata": {"os_type": "Linux"},
        "addresses": _addresses(server, version=4, full=False),
    }


def unknown_server(server_id: str, now: float) -> dict[str, Any]:
    """The entry a v1 ``server_id`` listing gives for an id it does not know."""
    return {
        "id": server_id,
        "fault": {
            "code": 404,
            "message": f"the ECS {server_id} does not exist",
            "details": "",
            "created": seconds_z(now),
        },
    }
