"""Dedicated host use cases: allocate, update, release (their reads are in queries.py)."""

from __future__ import annotations

from coldshift.domain.catalog import HostType
from coldshift.domain.commands import AllocateHosts
from coldshift.domain.errors import (
    BadRequest,
    DedicatedHostsSoldOut,
    HostReleased,
    HostTypeNotFound,
    HostTypeNotOffered,
    MachineTaken,
)
from coldshift.domain.hosts import Host, HostChange, HostKind, HostState, new_numa_nodes
from coldshift.domain.ids import new_uuid
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.drivers.base import NoFreeMachines
from coldshift.services.context import Region
from coldshift.services.queries import deh_quota

#: allocations that may lose a physical host to concurrent ones before this one gives up
MAX_LOST_ALLOCATIONS = 8


def allocate_hosts(region: Region, cmd: AllocateHosts) -> list[str]:
    host_type = region.catalog.host_type(cmd.host_type)
    if host_type is None:
        raise HostTypeNotFound(cmd.host_type)
    if cmd.availability_zone not in region.catalog.availability_zones:
        raise HostTypeNotOffered(
            f"host type {cmd.host_type} is not offered in availability "
            f"zone {cmd.availability_zone!r}"
        )
    if cmd.quantity < 1:
        raise BadRequest(f"quantity must be at least 1, got {cmd.quantity}")
    limit = deh_quota(region.catalog, cmd.project_id)
    quota = QuotaGuard(cmd.project_id, Resource.DEDICATED_HOSTS, limit, cmd.quantity)
    # A cheap first answer before the driver's allocation time; the store decides.
    quota.check(len(region.queries.project_dehs(quota.project_id)))
    for _ in range(MAX_LOST_ALLOCATIONS):
        machines = _free_machines(region, cmd)
        now = region.clock()
        hosts = [_new_host(cmd, host_type, now, machine) for machine in machines]
        try:
            region.store.add_hosts(hosts, quota=quota)  # counted again inside the transaction
        except MachineTaken:
            continue  # a concurrent allocation took one of them: choose again
        return [h.id for h in hosts]
    raise DedicatedHostsSoldOut(cmd.host_type, cmd.availability_zone, 0, cmd.quantity)


def _free_machines(region: Region, cmd: AllocateHosts) -> list[str | None]:
    in_use = region.store.machines_in_use()
    try:
        return region.driver.allocate_machines(
            cmd.host_type, cmd.availability_zone, cmd.quantity, in_use
        )
    except NoFreeMachines as exc:
        raise DedicatedHostsSoldOut(
            cmd.host_type, cmd.availability_zone, exc.free, cmd.quantity
        ) from exc


def _new_host(cmd: AllocateHosts, host_type: HostType, now: float, machine: str | None) -> Host:
    return Host(
        id=new_uuid(),
        kind=HostKind.DEH,
        name=cmd.name,
        project_id=cmd.project_id,
        availability_zone=cmd.availability_zone,
        host_type=host_type.host_type,
        state=HostState.AVAILABLE,
        auto_placement=cmd.auto_placement,
        vcpus=host_type.vcpus,
        memory_mb=host_type.memory_mb,
        sockets=host_type.sockets,
        cores=host_type.cores,
        allocated_at=now,
        released_at=None,
        tags=dict(cmd.tags),
        nodes=new_numa_nodes(host_type),
        machine=machine,
    )


def update_host(
    region: Region, project_id: str, host_id: str, name: str | None, auto_placement: str | None
) -> None:
    host = region.queries.deh(project_id, host_id)
    if host.state is HostState.RELEASED:
        raise HostReleased(host_id)
    # An empty name or auto placement, as an absent one, leaves the field as it is.
    change = HostChange(name=name or None, auto_placement=auto_placement or None)
    if not change.empty:
        region.store.update_host(host_id, change)


def release_host(region: Region, project_id: str, host_id: str) -> None:
    host = region.queries.deh(project_id, host_id)
    if host.state is HostState.RELEASED:
        raise HostReleased(host_id)
    region.store.release_host(host_id)
