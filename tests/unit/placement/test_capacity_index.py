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
    Rank,
    Rejection,
    Strategy,
    choose_host,
    closest_in,
    closest_rejection,
    fit_numa,
    given_back,
    no_room_counted,
    no_room_reason,
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


# --- "no room": the closest host from the index, as the scan finds it --------------------


@dataclass(frozen=True)
class PutRanked:
    host: HostView
    host_type: int  # which of two indexes (an AZ's host types)
    allocated_at: float


RANKED_OPS = st.lists(
    st.one_of(
        st.builds(PutRanked, host_views(), st.integers(0, 1), st.sampled_from([0.0, 1.0])),
        st.builds(Remove, st.sampled_from(HOST_IDS)),
    ),
    max_size=40,
)
#: mostly too big for the hosts' nodes (4 or 8 vCPUs, 16 or 32 MiB): nothing fits, often
BIG_REQUESTS = st.builds(
    lambda nodes, vcpus, memory: NumaRequest(vcpus * nodes, memory * nodes, nodes),
    st.integers(1, 3),
    st.integers(3, 9),
    st.integers(8, 33),
)


def scan_closest_host(request: NumaRequest, hosts: list[HostView]) -> HostView | None:
    """The host whose rejection ``closest_rejection`` returns (the reference: a scan)."""
    rejections = [(h, fit_numa(request, h.nodes)) for h in hosts]
    named = [(h, r) for h, r in rejections if isinstance(r, Rejection)]
    if not named:
        return None
    top = max((r.largest_free_vcpus, r.largest_free_memory) for _, r in named)
    return next(h for h, r in named if (r.largest_free_vcpus, r.largest_free_memory) == top)


@settings(max_examples=300, deadline=None)
@given(ops=RANKED_OPS, final=st.lists(BIG_REQUESTS, min_size=1, max_size=5))
def test_no_room_from_the_indexes_is_the_scans_answer_in_the_stores_order(
    ops: list[PutRanked | Remove], final: list[NumaRequest]
) -> None:
    """closest_in and no_room_counted over two indexes ranked by the store's order give what
    closest_rejection and no_room_reason give over every host in that order (when none fits):
    the same closest host, so the same numbers and the same tie-break."""
    indexes = [CapacityIndex(Strategy.SPREAD), CapacityIndex(Strategy.SPREAD)]
    held: dict[str, tuple[HostView, int, Rank]] = {}
    for op in ops:
        if isinstance(op, PutRanked):
            rank = (op.allocated_at, op.host.name, op.host.host_id)
            if op.host.host_id in held:
                indexes[held[op.host.host_id][1]].remove(op.host.host_id)
            indexes[op.host_type].put(op.host, rank)
            held[op.host.host_id] = (op.host, op.host_type, rank)
        else:
            indexes[held.pop(op.host_id, (None, 0))[1]].remove(op.host_id)
    in_order = [h for h, _, _ in sorted(held.values(), key=lambda held: held[2])]
    for request in final:
        if isinstance(choose_host(request, in_order, Strategy.SPREAD), list):
            continue  # something fits: not the no-room path
        expected = closest_rejection(request, in_order)
        closest = closest_in(request, indexes)
        count = sum(len(i) for i in indexes)
        most_free = max(i.most_free_vcpus() for i in indexes)
        assert closest == (expected if in_order else None)
        assert no_room_counted(closest or expected, "f", count, most_free) == no_room_reason(
            expected, "f", in_order
        )
        for i, index in enumerate(indexes):
            mine = [h for h in in_order if held[h.host_id][1] == i]
            assert index.nearest() == scan_closest_host(request, mine)


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(operations, max_size=40),
    request=requests,
    skipped=st.frozensets(st.sampled_from(HOST_IDS)),
)
def test_best_rejects_with_the_closest_host_not_skipped(
    ops: list[Put | Remove | Decide], request: NumaRequest, skipped: frozenset[str]
) -> None:
    index = CapacityIndex(Strategy.PACK)
    hosts: dict[str, HostView] = {}
    for op in ops:
        if isinstance(op, Put):
            index.put(op.host)
            hosts[op.host.host_id] = op.host
        elif isinstance(op, Remove):
            index.remove(op.host_id)
            hosts.pop(op.host_id, None)
    fitting = {h for h, v in hosts.items() if isinstance(fit_numa(request, v.nodes), NumaFit)}
    skip = skipped | fitting  # every host that fits is closed: the answer is a rejection
    others = [h for h in hosts.values() if h.host_id not in skip]

    assert index.best(request, skip) == closest_rejection(request, others)
    assert index.nearest(skip) == scan_closest_host(request, others)


def test_equally_close_hosts_of_two_indexes_go_by_the_stores_order_not_by_id() -> None:
    # Both have a largest free node of 4 vCPUs; the first in the store's order has two such
    # nodes, and a 3-node request tells them apart by "nodes with room".
    first = host("h2", 4, 4, 0, name="b")
    second = host("h1", 4, 0, 0, name="a")
    indexes = [CapacityIndex(Strategy.SPREAD), CapacityIndex(Strategy.SPREAD)]
    indexes[0].put(second, (1.0, "a", "h1"))
    indexes[1].put(first, (0.0, "b", "h2"))
    request = NumaRequest(9, 24, 3)

    closest = closest_in(request, indexes)

    assert closest == closest_rejection(request, [first, second])
    assert closest is not None and closest.nodes_with_room == 2
