"""Domain hosts for the placement tests, built directly (no catalog, no store)."""

from __future__ import annotations

from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode


def domain_host(host_id: str, kind: HostKind, nodes: tuple[NumaNode, ...] = ()) -> Host:
    """An available host of this kind, with these NUMA nodes."""
    return Host(
        id=host_id,
        kind=kind,
        name=f"name-{host_id}",
        project_id="p" if kind is HostKind.DEH else None,
        availability_zone="az",
        host_type="s6",
        state=HostState.AVAILABLE,
        auto_placement="on" if kind is HostKind.DEH else "off",
        vcpus=80,
        memory_mb=327680,
        sockets=2,
        cores=40,
        allocated_at=0.0,
        released_at=None,
        nodes=nodes,
    )
