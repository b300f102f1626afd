"""DeH views: dedicated host, host types, quota."""

from __future__ import annotations

from typing import Any

from coldshift.api.views.timefmt import seconds_z
from coldshift.domain.catalog import Catalog, HostType
from coldshift.domain.hosts import Host


def dedicated_host(
    host: Host, catalog: Catalog, instance_ids: list[str] | None, with_uuids: bool
) -> dict[str, Any]:
    host_type = catalog.host_type(host.host_type)
    flavors = catalog.supported_flavors(host_type) if host_type else []
    view: dict[str, Any] = {
        "dedicated_host_id": host.id,
        "name": host.name,
        "auto_placement": host.auto_placement,
        "availability_zone": host.availability_zone,
        "project_id": host.project_id,
        "host_properties": {
            "host_type": host.host_type,
            "host_type_name": host_type.host_type_name if host_type else host.host_type,
            "vcpus": host.vcpus,
            "cores": host.cores,
            "sockets": host.sockets,
            "memory": host.memory_mb,
            "available_instance_capacities": [{"flavor": f.id} for f in flavors],
        },
        "state": host.state.value,
        "available_vcpus": host.available_vcpus,
        "available_memory": host.available_memory,
        "allocated_at": seconds_z(host.allocated_at),
        "released_at": seconds_z(host.released_at) or "",
        "instance_total": len(instance_ids or []),
        "tags": dict(host.tags),
        "sys_tags": {"_sys_enterprise_project_id": "0"},
        # coldshift extension: the NUMA view placement decides on
        "numa_nodes": [
            {
                "node": n.index,
                "vcpus": n.vcpus_total,
                "memory": n.memory_total,
                "available_vcpus": n.vcpus_free,
                "available_memory": n.memory_free,
            }
            for n in host.nodes
        ],
    }
    if with_uuids:
        view["instance_uuids"] = list(instance_ids or [])
    return view


def host_type_brief(host_type: HostType) -> dict[str, Any]:
    return {"host_type": host_type.host_type, "host_type_name": host_type.host_type_name}


def host_type_full(host_type: HostType, catalog: Catalog) -> dict[str, Any]:
    return {
        "host_type": host_type.host_type,
        "vcpus": host_type.vcpus,
        "cores": host_type.cores,
        "sockets": host_type.sockets,
        "memory": host_type.memory_mb,
        "supported_flavors": [f.id for f in catalog.supported_flavors(host_type)],
        "category": host_type.host_type_name,
        "availability_zone_offerings": [
            {"availability_zone": az, "status": "normal"} for az in catalog.availability_zones
        ],
    }
