"""Hosts for the store tests, built directly (no catalog)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode


def deh_with_nodes(host_id: str, sizes: Sequence[tuple[int, int]]) -> Host:
    """An available DeH whose NUMA nodes have these (vCPUs, MiB) sizes, all free."""
    return Host(
        id=host_id,
        kind=HostKind.DEH,
        name=host_id,
        project_id="p",
        availability_zone="az",
        host_type="t1",
        state=HostState.AVAILABLE,
        auto_placement="on",
        vcpus=sum(cpu for cpu, _ in sizes),
        memory_mb=sum(mem for _, mem in sizes),
        sockets=len(sizes),
        cores=len(sizes),
        allocated_at=time.time(),
        released_at=None,
        nodes=tuple(NumaNode(i, cpu, mem, cpu, mem) for i, (cpu, mem) in enumerate(sizes)),
    )
