"""choose_host: filter by NUMA fit, order by strategy, ties by name (cold-migration.md)."""

from __future__ import annotations

import copy

import pytest

from coldshift.domain.hosts import NumaNode
from coldshift.placement import (
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
    choose_host,
)
from coldshift.placement.numa_fit import SINGLE_NODE_RULE

NODE_VCPUS = 32
NODE_MEM = 65536
SMALL = NumaRequest(4, 1024)


def host(name: str, *free: int, memory_free: int = NODE_MEM) -> HostView:
    """A host named ``name`` whose nodes have ``free`` vCPUs free each (32 vCPUs per node)."""
    return HostView(
        host_id=f"id-{name}",
        name=name,
        nodes=tuple(NumaNode(i, NODE_VCPUS, NODE_MEM, f, memory_free) for i, f in enumerate(free)),
    )


def names(result: list[Placement] | Rejection, hosts: list[HostView]) -> list[str]:
    assert isinstance(result, list), result
    by_id = {h.host_id: h.name for h in hosts}
    return [by_id[p.host_id] for p in result]


def test_spread_puts_least_loaded_host_first() -> None:
    hosts = [host("a", 8, 8), host("b", 32, 32), host("c", 16, 16)]

    result = choose_host(SMALL, hosts, Strategy.SPREAD)

    assert names(result, hosts) == ["b", "c", "a"]


def test_pack_puts_most_loaded_fitting_host_first() -> None:
    hosts = [host("a", 8, 8), host("b", 32, 32), host("c", 16, 16)]

    result = choose_host(SMALL, hosts, Strategy.PACK)

    assert names(result, hosts) == ["a", "c", "b"]


def test_pack_skips_the_most_loaded_host_when_it_does_not_fit() -> None:
    hosts = [host("full", 2, 2), host("busy", 6, 0), host("idle", 32, 32)]

    result = choose_host(SMALL, hosts, Strategy.PACK)

    assert names(result, hosts) == ["busy", "idle"]


@pytest.mark.parametrize("strategy", list(Strategy))
def test_ties_are_broken_by_name(strategy: Strategy) -> None:
    hosts = [host("pool-c", 16, 16), host("pool-a", 16, 16), host("pool-b", 16, 16)]

    result = choose_host(SMALL, hosts, strategy)

    assert names(result, hosts) == ["pool-a", "pool-b", "pool-c"]


@pytest.mark.parametrize("strategy", list(Strategy))
def test_non_fitting_hosts_are_excluded(strategy: Strategy) -> None:
    # "split" has 4 + 4 = 8 free vCPUs but no single node with 8: it must not be offered.
    hosts = [host("split", 4, 4), host("fits", 8, 0), host("empty", 0, 0)]

    result = choose_host(NumaRequest(8, 1024), hosts, strategy)

    assert names(result, hosts) == ["fits"]


def test_placement_carries_the_numa_fit() -> None:
    hosts = [host("a", 32, 10)]

    result = choose_host(NumaRequest(8, 2048), hosts, Strategy.SPREAD)

    assert result == [Placement("id-a", NumaFit((1,), 8, 2048))]


def test_load_is_relative_to_host_size() -> None:
    # "big" has more free vCPUs in absolute numbers but is more loaded (48/64 vs 8/32 used).
    hosts = [host("big", 8, 8), host("small", 24)]

    assert names(choose_host(SMALL, hosts, Strategy.SPREAD), hosts) == ["small", "big"]
    assert names(choose_host(SMALL, hosts, Strategy.PACK), hosts) == ["big", "small"]


def test_no_fit_gives_rejection_with_the_closest_numbers() -> None:
    hosts = [host("a", 2, 3), host("b", 6, 5), host("c", 4, 4)]

    result = choose_host(NumaRequest(8, 1024), hosts, Strategy.SPREAD)

    assert result == Rejection(SINGLE_NODE_RULE, 8, 1024, 6, NODE_MEM)


def test_no_fit_on_memory_reports_the_closest_host() -> None:
    hosts = [host("a", 32, memory_free=1024), host("b", 32, memory_free=2048)]

    result = choose_host(NumaRequest(8, 4096), hosts, Strategy.PACK)

    assert result == Rejection(SINGLE_NODE_RULE, 8, 4096, 32, 2048)


def test_no_candidates_gives_a_rejection() -> None:
    result = choose_host(NumaRequest(8, 1024), [], Strategy.SPREAD)

    assert isinstance(result, Rejection)
    assert (result.vcpus_per_node, result.memory_per_node) == (8, 1024)
    assert (result.largest_free_vcpus, result.largest_free_memory) == (0, 0)


def test_choose_host_accepts_a_generator_and_does_not_mutate_hosts() -> None:
    hosts = [host("a", 8, 8), host("b", 32, 32)]
    before = copy.deepcopy(hosts)

    result = choose_host(SMALL, (h for h in hosts), Strategy.SPREAD)

    assert names(result, hosts) == ["b", "a"]
    assert hosts == before
