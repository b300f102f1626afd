"""Fit one guest inside one host's NUMA nodes (cold-migration.md, "NUMA" and "Which node")."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

from coldshift.domain.hosts import NumaNode
from coldshift.placement.types import HostView, NumaFit, NumaRequest, Rejection

SINGLE_NODE_RULE = "single-NUMA-node rule"
SPLIT_RULE = "NUMA split rule"


def fit_numa(request: NumaRequest, nodes: tuple[NumaNode, ...]) -> NumaFit | Rejection:
    """Best fit: the node set leaving the least free vCPUs, then memory, then lowest indexes."""
    need_cpu, need_mem = request.vcpus_per_node, request.memory_per_node
    usable = [n for n in nodes if n.vcpus_free >= need_cpu and n.memory_free >= need_mem]
    if len(usable) < request.nodes:
        return _rejection(request, nodes)
    if request.nodes == 1:
        best = min(usable, key=lambda n: (n.vcpus_free, n.memory_free, n.index))
        return NumaFit((best.index,), need_cpu, need_mem)
    best_set = min(combinations(usable, request.nodes), key=_set_leftover)
    return NumaFit(tuple(n.index for n in best_set), need_cpu, need_mem)


def _set_leftover(node_set: tuple[NumaNode, ...]) -> tuple[int, int, tuple[int, ...]]:
    return (
        sum(n.vcpus_free for n in node_set),
        sum(n.memory_free for n in node_set),
        tuple(n.index for n in node_set),
    )


def _rejection(request: NumaRequest, nodes: tuple[NumaNode, ...]) -> Rejection:
    largest = max(nodes, key=lambda n: (n.vcpus_free, n.memory_free), default=None)
    rule = SINGLE_NODE_RULE if request.nodes == 1 else f"{SPLIT_RULE} ({request.nodes} nodes)"
    return Rejection(
        reason=rule,
        vcpus_per_node=request.vcpus_per_node,
        memory_per_node=request.memory_per_node,
        largest_free_vcpus=largest.vcpus_free if largest else 0,
        largest_free_memory=largest.memory_free if largest else 0,
        nodes_needed=request.nodes,
        nodes_with_room=nodes_with_room(request.vcpus_per_node, request.memory_per_node, nodes),
    )


def nodes_with_room(vcpus: int, memory: int, nodes: tuple[NumaNode, ...]) -> int:
    """How many nodes have ``vcpus`` and ``memory`` free: a guest fits iff enough do."""
    return sum(1 for n in nodes if n.vcpus_free >= vcpus and n.memory_free >= memory)


def taken(host: HostView, fit: NumaFit) -> HostView:
    """``host`` once a claim of ``fit`` has taken its room (as the guarded claim does)."""
    return _shifted(host, fit, -1)


def given_back(host: HostView, fit: NumaFit) -> HostView:
    """``host`` once the room of ``fit`` is given back."""
    return _shifted(host, fit, +1)


def _shifted(host: HostView, fit: NumaFit, sign: int) -> HostView:
    nodes = tuple(
        replace(
            n,
            vcpus_free=n.vcpus_free + sign * fit.vcpus_per_node,
            memory_free=n.memory_free + sign * fit.memory_per_node,
        )
        if n.index in fit.node_indexes
        else n
        for n in host.nodes
    )
    return HostView(host.host_id, host.name, nodes)
