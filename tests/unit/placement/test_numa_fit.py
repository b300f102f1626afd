"""fit_numa: the single-node rule, best fit inside a host, even splits (cold-migration.md, NUMA)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from coldshift.domain.hosts import NumaNode
from coldshift.placement import NumaFit, NumaRequest, Rejection, fit_numa
from coldshift.placement.numa_fit import SINGLE_NODE_RULE, SPLIT_RULE

NODE_VCPUS = 32
NODE_MEM = 65536


def node(index: int, vcpus_free: int, memory_free: int = NODE_MEM) -> NumaNode:
    return NumaNode(index, NODE_VCPUS, NODE_MEM, vcpus_free, memory_free)


def nodes(*free: tuple[int, int] | int) -> tuple[NumaNode, ...]:
    """``nodes(4, (8, 1024))``: node 0 with 4 free vCPUs and all memory, node 1 8 vCPUs/1 GiB."""
    out = []
    for i, f in enumerate(free):
        cpu, mem = f if isinstance(f, tuple) else (f, NODE_MEM)
        out.append(node(i, cpu, mem))
    return tuple(out)


# --- fits: (request, nodes, expected node indexes) ---------------------------------------------

FITS = [
    pytest.param(NumaRequest(8, 1024), nodes(32, 32), (0,), id="empty-host-lowest-index"),
    pytest.param(NumaRequest(8, 1024), nodes(8), (0,), id="exact-vcpu-fit"),
    pytest.param(NumaRequest(8, 4096), nodes((8, 4096)), (0,), id="exact-vcpu-and-memory-fit"),
    pytest.param(NumaRequest(8, 1024), nodes(0, 8), (1,), id="zero-free-node-skipped"),
    pytest.param(NumaRequest(8, 1024), nodes(32, 10, 8), (2,), id="best-fit-least-free-vcpus"),
    pytest.param(
        NumaRequest(8, 1024),
        nodes(32, 12),
        (1,),
        id="best-fit-keeps-whole-node-free",
    ),
    pytest.param(
        NumaRequest(8, 1024),
        nodes((16, 8192), (16, 4096), (16, 6000)),
        (1,),
        id="vcpu-tie-least-free-memory",
    ),
    pytest.param(
        NumaRequest(8, 1024),
        nodes((16, 4096), (16, 4096), (16, 4096)),
        (0,),
        id="full-tie-lowest-index",
    ),
    pytest.param(
        NumaRequest(8, 8192),
        nodes((8, 4096), (20, 8192)),
        (1,),
        id="tighter-node-skipped-when-memory-short",
    ),
    pytest.param(NumaRequest(0, 0), nodes(0, 0), (0,), id="zero-request-fits-zero-free"),
    # numa_nodes = 2: split evenly over two distinct nodes
    pytest.param(NumaRequest(16, 8192, 2), nodes(32, 32), (0, 1), id="split-two-empty-nodes"),
    pytest.param(NumaRequest(16, 8192, 2), nodes(8, 8), (0, 1), id="split-exact-fit"),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes(32, 8, 32, 10),
        (1, 3),
        id="split-best-pair-least-free-vcpus",
    ),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes(32, 4, 8, 32),
        (0, 2),
        id="split-skips-too-small-node",
    ),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes((8, 9000), (8, 65536), (8, 8192), (8, 8500)),
        (2, 3),
        id="split-vcpu-tie-least-free-memory",
    ),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes(12, 12, 12, 12),
        (0, 1),
        id="split-full-tie-lowest-indexes",
    ),
    pytest.param(
        NumaRequest(24, 3072, 3),
        nodes(8, 32, 8, 8),
        (0, 2, 3),
        id="split-three-nodes",
    ),
]


@pytest.mark.parametrize(("request_", "host_nodes", "expected"), FITS)
def test_fit_picks_best_nodes(
    request_: NumaRequest, host_nodes: tuple[NumaNode, ...], expected: tuple[int, ...]
) -> None:
    before = copy.deepcopy(host_nodes)

    fit = fit_numa(request_, host_nodes)

    assert fit == NumaFit(expected, request_.vcpus_per_node, request_.memory_per_node)
    assert host_nodes == before


@pytest.mark.parametrize(("request_", "host_nodes", "expected"), FITS)
def test_fit_nodes_are_distinct_and_each_holds_its_share(
    request_: NumaRequest, host_nodes: tuple[NumaNode, ...], expected: tuple[int, ...]
) -> None:
    fit = fit_numa(request_, host_nodes)

    assert isinstance(fit, NumaFit)
    assert len(fit.node_indexes) == request_.nodes
    assert len(set(fit.node_indexes)) == request_.nodes
    assert fit.vcpus_per_node * request_.nodes == request_.vcpus
    assert fit.memory_per_node * request_.nodes == request_.memory_mb
    by_index = {n.index: n for n in host_nodes}
    for i in fit.node_indexes:
        assert by_index[i].vcpus_free >= fit.vcpus_per_node
        assert by_index[i].memory_free >= fit.memory_per_node


# --- misfits: (request, nodes, rule, largest free vcpus, largest free memory) ------------------

MISFITS = [
    pytest.param(
        NumaRequest(8, 1024),
        nodes(4, 4),
        SINGLE_NODE_RULE,
        4,
        NODE_MEM,
        id="4+4-free-cannot-take-8-vcpus",
    ),
    pytest.param(
        NumaRequest(8, 1024),
        nodes(7, 6, 5, 4),
        SINGLE_NODE_RULE,
        7,
        NODE_MEM,
        id="many-small-nodes",
    ),
    pytest.param(
        NumaRequest(8, 16384),
        nodes((16, 8192), (16, 12288)),
        SINGLE_NODE_RULE,
        16,
        12288,
        id="memory-bound-misfit",
    ),
    pytest.param(
        NumaRequest(8, 16384),
        nodes((32, 8192), (4, 65536)),
        SINGLE_NODE_RULE,
        32,
        8192,
        id="cpu-and-memory-on-different-nodes",
    ),
    pytest.param(
        NumaRequest(8, 1024), nodes(0, 0), SINGLE_NODE_RULE, 0, NODE_MEM, id="all-nodes-zero-free"
    ),
    pytest.param(
        NumaRequest(8, 1024), nodes((0, 0), (0, 0)), SINGLE_NODE_RULE, 0, 0, id="nothing-free"
    ),
    pytest.param(NumaRequest(8, 1024), (), SINGLE_NODE_RULE, 0, 0, id="no-nodes-at-all"),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes(32),
        f"{SPLIT_RULE} (2 nodes)",
        32,
        NODE_MEM,
        id="split-two-on-one-node-host",
    ),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes(32, 7),
        f"{SPLIT_RULE} (2 nodes)",
        32,
        NODE_MEM,
        id="split-second-node-too-small",
    ),
    pytest.param(
        NumaRequest(16, 8192, 2),
        nodes((8, 4095), (8, 4096), (4, 65536)),
        f"{SPLIT_RULE} (2 nodes)",
        8,
        4096,
        id="split-memory-bound",
    ),
]


@pytest.mark.parametrize(("request_", "host_nodes", "rule", "cpu", "mem"), MISFITS)
def test_misfit_rejection_names_rule_and_numbers(
    request_: NumaRequest,
    host_nodes: tuple[NumaNode, ...],
    rule: str,
    cpu: int,
    mem: int,
) -> None:
    before = copy.deepcopy(host_nodes)

    fit = fit_numa(request_, host_nodes)

    assert isinstance(fit, Rejection)
    assert (fit.reason, fit.vcpus_per_node, fit.memory_per_node) == (
        rule,
        request_.vcpus_per_node,
        request_.memory_per_node,
    )
    assert (fit.largest_free_vcpus, fit.largest_free_memory) == (cpu, mem)
    assert fit.nodes_needed == request_.nodes
    assert host_nodes == before


@pytest.mark.parametrize(
    ("host_nodes", "with_room"),
    [(nodes(32), 1), (nodes(32, 7), 1), (nodes(7, 7), 0), (nodes(8, 4), 1)],
)
def test_split_rejection_counts_the_nodes_that_have_room(
    host_nodes: tuple[NumaNode, ...], with_room: int
) -> None:
    fit = fit_numa(NumaRequest(16, 8192, 2), host_nodes)

    assert isinstance(fit, Rejection)
    assert (fit.nodes_needed, fit.nodes_with_room) == (2, with_room)
    assert f"{with_room} node(s) have that much free, 2 are needed" in fit.describe()


def test_single_node_rule_message_gives_needed_and_largest_free() -> None:
    fit = fit_numa(NumaRequest(8, 1024), nodes(4, 4))

    assert isinstance(fit, Rejection)
    text = fit.describe()
    assert "single-NUMA-node rule" in text
    assert "needed per NUMA node 8 vCPUs and 1024 MiB" in text
    assert "largest free node has 4 vCPUs" in text


def test_eight_free_in_total_is_not_enough_for_an_eight_vcpu_guest() -> None:
    host_nodes = nodes(4, 4)
    assert sum(n.vcpus_free for n in host_nodes) == 8

    fit = fit_numa(NumaRequest(8, 1024), host_nodes)

    assert isinstance(fit, Rejection)
    assert (fit.vcpus_per_node, fit.largest_free_vcpus) == (8, 4)


def test_same_request_split_over_two_nodes_fits_where_single_node_does_not() -> None:
    host_nodes = nodes(4, 4)

    assert isinstance(fit_numa(NumaRequest(8, 1024, 1), host_nodes), Rejection)
    assert fit_numa(NumaRequest(8, 1024, 2), host_nodes) == NumaFit((0, 1), 4, 512)


def test_best_fit_keeps_a_whole_node_free_for_a_big_guest() -> None:
    host_nodes = nodes(32, 16)
    small = fit_numa(NumaRequest(8, 1024), host_nodes)
    assert small == NumaFit((1,), 8, 1024)

    after = tuple(
        dataclasses.replace(n, vcpus_free=n.vcpus_free - 8, memory_free=n.memory_free - 1024)
        if n.index == 1
        else n
        for n in host_nodes
    )
    assert fit_numa(NumaRequest(32, 1024), after) == NumaFit((0,), 32, 1024)


def test_input_nodes_are_frozen() -> None:
    n = node(0, 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.vcpus_free = 0  # type: ignore[misc]


def test_node_order_in_input_does_not_change_the_choice() -> None:
    host_nodes = nodes(16, 8, 12, 8)

    forward = fit_numa(NumaRequest(8, 1024), host_nodes)
    backward = fit_numa(NumaRequest(8, 1024), tuple(reversed(host_nodes)))

    assert forward == backward == NumaFit((1,), 8, 1024)
