"""Frozen values that placement reads and returns; it never mutates its inputs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Where a guest takes room is the domain's (the store claims it); placement decides it.
from coldshift.domain.hosts import NumaFit as NumaFit
from coldshift.domain.hosts import NumaNode
from coldshift.domain.hosts import Placement as Placement


@dataclass(frozen=True, slots=True)
class NumaRequest:
    """A guest's demand: ``vcpus``/``memory_mb`` split evenly over ``nodes`` host NUMA nodes."""

    vcpus: int
    memory_mb: int
    nodes: int = 1

    @property
    def vcpus_per_node(self) -> int:
        return self.vcpus // self.nodes

    @property
    def memory_per_node(self) -> int:
        return self.memory_mb // self.nodes


@dataclass(frozen=True, slots=True)
class HostView:
    """One host's NUMA capacity as read for a decision (``snapshot.host_view``)."""

    host_id: str
    name: str
    nodes: tuple[NumaNode, ...]

    @property
    def vcpus_free(self) -> int:
        return sum(n.vcpus_free for n in self.nodes)

    @property
    def memory_free(self) -> int:
        return sum(n.memory_free for n in self.nodes)

    @property
    def vcpus_total(self) -> int:
        return sum(n.vcpus_total for n in self.nodes)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why nothing fits, with the numbers: ready to become a job's ``fail_reason``."""

    reason: str
    vcpus_per_node: int
    memory_per_node: int
    largest_free_vcpus: int
    largest_free_memory: int
    nodes_needed: int = 1
    nodes_with_room: int = 0

    def describe(self) -> str:
        text = (
            f"{self.reason}: needed per NUMA node {self.vcpus_per_node} vCPUs and "
            f"{self.memory_per_node} MiB, largest free node has {self.largest_free_vcpus} vCPUs "
            f"and {self.largest_free_memory} MiB"
        )
        if self.nodes_needed > 1:
            text += (
                f"; {self.nodes_with_room} node(s) have that much free, "
                f"{self.nodes_needed} are needed"
            )
        return text


class Strategy(StrEnum):
    """The order of the hosts that fit (``order_key``); ties go by host name."""

    #: least loaded host first, then the most free memory: the public pool spreads guests
    SPREAD = "spread"
    #: most loaded host that fits first: a project's dedicated hosts keep whole hosts free
    PACK = "pack"
