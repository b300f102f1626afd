"""Reconcile the catalog's public pool with the database at start-up."""

from __future__ import annotations

import uuid

from coldshift.domain.catalog import Catalog, PoolSpec
from coldshift.domain.errors import ColdshiftError
from coldshift.domain.hosts import Host, HostChange, HostKind, HostState, new_numa_nodes
from coldshift.services.ports import PoolInventory

_POOL_NAMESPACE = uuid.UUID("5b0c6f0e-3c1d-4b8e-9a57-6c01d5a00100")


class CatalogConflict(ColdshiftError):
    """The catalog contradicts the state in the database."""


def pool_host_id(name: str) -> str:
    """Stable across restarts, so a pool host keeps its identity when the catalog reloads."""
    return str(uuid.uuid5(_POOL_NAMESPACE, name))


def sync_public_pool(store: PoolInventory, catalog: Catalog, now: float) -> tuple[int, int]:
    """Add the pool hosts the catalog names and the database lacks; remove idle ones it no
    longer names; refuse (CatalogConflict) to remove one that still carries servers.
    Returns (added, removed)."""
    wanted = {
        pool_host_id(name): (spec, name)
        for spec in catalog.public_pool
        for name in spec.host_names()
    }
    existing = {h.id: h for h in store.list_hosts(kind=HostKind.POOL)}
    stale = [h for hid, h in existing.items() if hid not in wanted]
    busy = [h.name for h in stale if store.servers_on_host(h.id) or _claimed(h)]
    if busy:
        raise CatalogConflict(
            f"the catalog removes public pool hosts that still carry servers: {', '.join(busy)}"
        )
    missing = [
        new_pool_host(catalog, spec, name, hid, now)
        for hid, (spec, name) in wanted.items()
        if hid not in existing
    ]
    store.add_hosts(missing)
    store.remove_hosts([h.id for h in stale])
    return len(missing), len(stale)


def sync_host_states(store: PoolInventory, unreachable: set[str]) -> list[str]:
    """Hosts on a physical host that does not answer become "fault" (placement skips them);
    those whose host answers again become "available". The names of the hosts now at fault."""
    faulty = []
    for host in store.list_hosts():
        if host.state is HostState.RELEASED:
            continue
        wanted = HostState.FAULT if host.driver_name in unreachable else HostState.AVAILABLE
        if host.state is not wanted:
            store.update_host(host.id, HostChange(state=wanted))
        if wanted is HostState.FAULT:
            faulty.append(host.name)
    return faulty


def _claimed(host: Host) -> bool:
    return any(n.vcpus_free != n.vcpus_total or n.memory_free != n.memory_total for n in host.nodes)


def new_pool_host(catalog: Catalog, spec: PoolSpec, name: str, host_id: str, now: float) -> Host:
    host_type = catalog.host_type(spec.host_type)
    assert host_type is not None, "the catalog loader checks pool host types"
    nodes = new_numa_nodes(host_type, spec.cpu_allocation_ratio)
    return Host(
        id=host_id,
        kind=HostKind.POOL,
        name=name,
        project_id=None,
        availability_zone=spec.availability_zone,
        host_type=spec.host_type,
        state=HostState.AVAILABLE,
        auto_placement="off",
        vcpus=sum(n.vcpus_total for n in nodes),
        memory_mb=host_type.memory_mb,
        sockets=host_type.sockets,
        cores=host_type.cores,
        allocated_at=now,
        released_at=None,
        nodes=nodes,
    )
