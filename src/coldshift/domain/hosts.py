"""Hosts (public-pool hosts and dedicated hosts), their NUMA nodes, and where a guest takes
room on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from coldshift.domain.catalog import HostType


class HostKind(StrEnum):
    POOL = "pool"
    DEH = "deh"


class HostState(StrEnum):
    AVAILABLE = "available"
    FAULT = "fault"
    RELEASED = "released"


class ClaimRole(StrEnum):
    """What a server's claim of room on a host is for."""

    #: the host the server is placed on
    PLACED = "placed"
    #: a migration's target, until the switch-over
    INCOMING = "incoming"
    #: a migration's source after the switch-over, until the migration ends
    OUTGOING = "outgoing"


@dataclass(frozen=True, slots=True)
class NumaNode:
    index: int
    vcpus_total: int
    memory_total: int
    vcpus_free: int
    memory_free: int


@dataclass(frozen=True, slots=True)
class NumaFit:
    """Where a guest fits inside one host: the chosen node indexes and the amount per node."""

    node_indexes: tuple[int, ...]
    vcpus_per_node: int
    memory_per_node: int


@dataclass(frozen=True, slots=True)
class Placement:
    """A guest's room on one host: what a claim takes."""

    host_id: str
    fit: NumaFit


@dataclass(frozen=True, slots=True)
class HostChange:
    """What a host update changes: a DeH's name and auto placement, and (at start, from what
    the hypervisor answers) a host's state; None: left as it is."""

    name: str | None = None
    auto_placement: str | None = None
    state: HostState | None = None

    @property
    def empty(self) -> bool:
        return self.name is None and self.auto_placement is None and self.state is None


@dataclass(frozen=True, slots=True)
class Host:
    id: str
    kind: HostKind
    name: str
    project_id: str | None
    availability_zone: str
    host_type: str
    state: HostState
    auto_placement: str
    vcpus: int
    memory_mb: int
    sockets: int
    cores: int
    allocated_at: float
    released_at: float | None
    tags: dict[str, Any] = field(default_factory=dict)
    nodes: tuple[NumaNode, ...] = ()
    #: the physical host a DeH of a libvirt region stands on (None: none of its own)
    machine: str | None = None
    #: the drain job fencing this DeH (no new servers while it runs); None: not draining
    draining_job: str | None = None

    @property
    def driver_name(self) -> str:
        """The host as the hypervisor driver knows it."""
        return self.machine or self.name

    @property
    def available_vcpus(self) -> int:
        return sum(n.vcpus_free for n in self.nodes)

    @property
    def available_memory(self) -> int:
        return sum(n.memory_free for n in self.nodes)


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` over ``parts`` nodes; any remainder goes to the lowest nodes."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def new_numa_nodes(host_type: HostType, cpu_ratio: float = 1.0) -> tuple[NumaNode, ...]:
    vcpus = split_evenly(int(host_type.vcpus * cpu_ratio), host_type.sockets)
    memory = split_evenly(host_type.memory_mb, host_type.sockets)
    return tuple(
        NumaNode(i, v, m, v, m) for i, (v, m) in enumerate(zip(vcpus, memory, strict=True))
    )
