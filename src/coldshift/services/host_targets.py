"""Where a server may go, checked when the request is accepted: a create's placement hints
and a migration's target DeH (the claim itself comes later, in the job: see ``claims``)."""

from __future__ import annotations

from dataclasses import dataclass

from coldshift.domain.catalog import Flavor
from coldshift.domain.commands import CreateServers
from coldshift.domain.errors import BadRequest, HostDraining, InvalidTarget
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.domain.servers import DEDICATED, SHARED
from coldshift.services.context import Region


@dataclass(frozen=True, slots=True)
class CreateTarget:
    availability_zone: str
    tenancy: str
    dedicated_host_id: str | None


def resolve_create_target(region: Region, cmd: CreateServers, flavor: Flavor) -> CreateTarget:
    az = cmd.availability_zone
    if az is not None and az not in region.catalog.availability_zones:
        raise BadRequest(
            f"availability zone {az!r} does not exist; this region has "
            f"{', '.join(region.catalog.availability_zones)}"
        )
    if cmd.tenancy not in (None, DEDICATED, SHARED, "dedicate", "share"):
        raise BadRequest(
            f"os:scheduler_hints.tenancy must be 'dedicated' or 'shared', got {cmd.tenancy!r}"
        )
    if cmd.tenancy in (DEDICATED, "dedicate"):
        if cmd.dedicated_host_id:
            host = usable_dedicated_host(region, cmd.project_id, cmd.dedicated_host_id, flavor, az)
            return CreateTarget(host.availability_zone, DEDICATED, host.id)
        return CreateTarget(_auto_placement_az(region, cmd.project_id, flavor, az), DEDICATED, None)
    return CreateTarget(az or region.catalog.availability_zones[0], SHARED, None)


def usable_dedicated_host(
    region: Region, project_id: str, host_id: str, flavor: Flavor, az: str | None
) -> Host:
    """The DeH ``host_id`` of this project, available, in ``az`` and able to host ``flavor``.

    A DeH of another project answers exactly like an unknown one.
    """
    host = available_dedicated_host(region, project_id, host_id)
    check_host_takes(region, host, flavor, az)
    return host


def available_dedicated_host(region: Region, project_id: str, host_id: str) -> Host:
    """The DeH ``host_id`` of this project, in state available; another project's DeH
    answers exactly like an unknown one."""
    host = region.store.get_host(host_id)
    if host is None or host.kind is not HostKind.DEH or host.project_id != project_id:
        raise InvalidTarget(f"dedicated host {host_id} does not exist")
    if host.state is not HostState.AVAILABLE:
        raise InvalidTarget(f"dedicated host {host_id} is {host.state.value}, not available")
    if host.draining_job is not None:
        raise HostDraining(host_id, host.draining_job)
    return host


def check_host_takes(region: Region, host: Host, flavor: Flavor, az: str | None) -> None:
    """Refuse a DeH outside ``az`` or whose host type does not support ``flavor``."""
    if az is not None and host.availability_zone != az:
        raise InvalidTarget(
            f"dedicated host {host.id} is in availability zone {host.availability_zone}, not {az}"
        )
    host_type = region.catalog.host_type(host.host_type)
    if host_type is None or not host_type.supports(flavor.id):
        raise InvalidTarget(
            f"flavor {flavor.id} is not supported by host type "
            f"{host.host_type} of dedicated host {host.id}"
        )


def _auto_placement_az(region: Region, project_id: str, flavor: Flavor, az: str | None) -> str:
    hosts = [
        h
        for h in region.store.list_hosts(
            kind=HostKind.DEH, project_id=project_id, availability_zone=az
        )
        if h.state is HostState.AVAILABLE
        and h.auto_placement == "on"
        and h.draining_job is None
        and (t := region.catalog.host_type(h.host_type)) is not None
        and t.supports(flavor.id)
    ]
    if not hosts:
        where = f" in availability zone {az}" if az else ""
        raise InvalidTarget(
            f"no dedicated host with auto_placement on{where} supports flavor "
            f"{flavor.id}; allocate one or name a dedicated_host_id"
        )
    return az or hosts[0].availability_zone
