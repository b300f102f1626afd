"""CapacityIndex: the same first choice as choose_host, without scanning every host."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coldshift.domain.hosts import NumaNode
from coldshift.placement import (
    CapacityIndex,
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
    choose_host,
    given_back,
    taken,
)


def host(host_id: str, *free: int, name: str | None = None, memory_free: int = 64) -> HostView:
    nodes = tuple(NumaNode(i, 8, 64, f, memory_free) for i, f in enumerate(free))
    return HostView(host_id, name or host_id, nodes)


def first_choice(
    request: NumaRequest, hosts: list[HostView], strategy: Strategy
) -> Placement | Rejection:
    result = choose_host(request, hosts, strategy)
    return result if isinstance(result, Rejection) else result[0]


def chosen(index: CapacityIndex, request: NumaRequest) -> str:
    placement = index.best(request)
    assert isinstance(placement, Placement), placement
    return placement.host_id


def test_best_is_the_least_loaded_host_that_fits_under_spread() -> None:
    index = CapacityIndex(Strategy.SPREAD, [host("a", 2, 2), host("b", 6, 1), host("c", 4, 4)])

    assert chosen(index, NumaRequest(4, 8)) == "c"
    assert chosen(index, NumaRequest(6, 8)) == "b"


def test_an_update_moves_the_host_in_every_shape_already_asked() -> None:
    index = CapacityIndex(Strategy.SPREAD, [host("a", 8, 8), host("b", 6, 6)])
    assert chosen(index, NumaRequest(4, 8)) == "a"

    index.put(host("a", 1, 1))

    assert chosen(index, NumaRequest(4, 8)) == "b"
    assert chosen(index, NumaRequest(1, 8)) == "b"


def test_a_removed_host_is_never_chosen() -> None:
    index = CapacityIndex(Strategy.PACK, [host("a", 2, 2), host("b", 8, 8)])
    assert chosen(index, NumaRequest(2, 8)) == "a"

    index.remove("a")
    index.remove("a")  # removing twice is harmless

    assert chosen(index, NumaRequest(2, 8)) == "b"
    assert "a" not in index and len(index) == 1


def test_nothing_fits_gives_choose_hosts_rejection() -> None:
    hosts = [host("a", 4, 4), host("b", 3, 5, memory_free=16)]
    index = CapacityIndex(Strategy.SPREAD, hosts)

    rejection = index.best(NumaRequest(6, 8))

    assert isinstance(rejection, Rejection)
    assert rejection == choose_host(NumaRequest(6, 8), hosts, Strategy.SPREAD)
    assert rejection.largest_free_vcpus == 5


def test_an_empty_index_rejects_as_choose_host_does() -> None:
    request = NumaRequest(2, 8)
    assert CapacityIndex(Strategy.SPREAD).best(request) == choose_host(request, [], Strategy.SPREAD)


# --- the property: any sequence of puts, removals and decisions --------------------------


@dataclass(frozen=True)
class Put:
    host: HostView


@dataclass(frozen=True)
class Remove:
    host_id: str


@dataclass(frozen=True)
class Decide:
    request: NumaRequest


HOST_IDS = [f"h{i}" for i in range(6)]


@st.composite
def host_views(draw: st.DrawFn) -> HostView:
    host_id = draw(st.sampled_from(HOST_IDS))
    # Few names and small numbers: ties of load, memory and even name are frequent.
    name = draw(st.sampled_from(["pool-a", "pool-b", "pool-c"]))
    node_count = draw(st.integers(1, 3))
    nodes = []
    for i in range(node_count):
        vcpus_total = draw(st.sampled_from([4, 8]))
        memory_total = draw(st.sampled_from([16, 32]))
        nodes.append(
            NumaNode(
                i,
                vcpus_total,
                memory_total,
                draw(st.integers(0, vcpus_total)),
                draw(st.integers(0, memory_total)),
            )
        )
    return HostView(host_id, name, tuple(nodes))


requests = st.builds(
    lambda nodes, vcpus, memory: NumaRequest(vcpus * nodes, memory * nodes, nodes),
    st.integers(1, 3),
    st.integers(0, 9),
    st.integers(0, 33),
)
operations = st.one_of(
    st.builds(Put, host_views()),
    st.builds(Remove, st.sampled_from(HOST_IDS)),
    st.builds(Decide, requests),
)


@pytest.mark.parametrize("strategy", list(Strategy))
@settings(max_examples=300, deadline=None)
@given(ops=st.lists(operations, max_size=40), final=st.lists(requests, min_size=1, max_size=5))
def test_the_index_chooses_first_what_choose_host_chooses_first(
    strategy: Strategy,
    ops: list[Put | Remove | Decide],
    final: list[NumaRequest],
) -> None:
    index = CapacityIndex(strategy)
    hosts: dict[str, HostView] = {}  # insertion-ordered, as the index keeps them
    for op in [*ops, *(Decide(r) for r in final)]:
        if isinstance(op, Put):
            index.put(op.host)
            hosts[op.host.host_id] = op.host
        elif isinstance(op, Remove):
            index.remove(op.host_id)
            hosts.pop(op.host_id, None)
        else:
            expected = first_choice(op.request, list(hosts.values()), strategy)
            assert index.best(op.request) == expected
    assert index.hosts() == list(hosts.values())


@pytest.mark.parametrize("strategy", list(Strategy))
def test_hosts_equal_in_every_key_keep_the_order_they_were_given(strategy: Strategy) -> None:
    # choose_host's sort is stable; the index must break such ties the same way, not by id
    twins = [host("h2", 4, 4, name="same"), host("h1", 4, 4, name="same")]
    index = CapacityIndex(strategy, twins)

    assert first_choice(NumaRequest(2, 8), twins, strategy) == index.best(NumaRequest(2, 8))
    assert chosen(index, NumaRequest(2, 8)) == "h2"

    index.put(host("h2", 4, 4, name="same"))  # an update keeps the host's place

    assert chosen(index, NumaRequest(2, 8)) == "h2"


def test_taken_and_given_back_change_only_the_fits_nodes() -> None:
    before = host("a", 8, 6, 4)
    fit = NumaFit((0, 2), 3, 16)

    after = taken(before, fit)

    assert [(n.vcpus_free, n.memory_free) for n in after.nodes] == [(5, 48), (6, 64), (1, 48)]
    assert given_back(after, fit) == before


def test_best_skips_the_hosts_asked_and_answers_the_next_in_order() -> None:
    index = CapacityIndex(Strategy.SPREAD, [host("a", 8), host("b", 6), host("c", 4)])
    request = NumaRequest(2, 8)
    assert chosen(index, request) == "a"
    skipped = index.best(request, frozenset({"a", "b"}))
    assert isinstance(skipped, Placement) and skipped.host_id == "c"
    assert isinstance(index.best(request, frozenset({"a", "b", "c"})), Rejection)
