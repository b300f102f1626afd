"""The drain planner: the plan fits as a whole, biggest first, NUMA and anti-affinity rules."""

from __future__ import annotations

from coldshift.placement import Strategy
from coldshift.placement.advice import Destination
from coldshift.placement.drain import Guest, plan_drain
from tests.unit.placement.test_advice import EIGHT, FOUR, TWO, host

A = Destination("a", ("a",), Strategy.PACK)
B = Destination("b", ("b",), Strategy.PACK)
POOL = Destination("pool", ("p1", "p2"), Strategy.SPREAD)


def test_the_plan_fits_as_a_whole_biggest_first() -> None:
    # a: 8 free on node 0, 4 on node 1. Placed alone, each guest fits on a; together, the
    # 8-vCPU guest takes node 0 first and the two 4-vCPU guests share what is left with b.
    hosts = {"a": host("a", 8, 4), "b": host("b", 4, 0)}
    guests = [
        Guest("small1", FOUR, (A, B)),
        Guest("big", EIGHT, (A, B)),
        Guest("small2", FOUR, (A, B)),
    ]
    plan = plan_drain(guests, hosts)
    assert plan.complete
    assert [m.server_id for m in plan.moves] == ["big", "small1", "small2"]
    by_id = {m.server_id: (m.to, m.placement.fit.node_indexes) for m in plan.moves}
    assert by_id == {"big": ("a", (0,)), "small1": ("a", (1,)), "small2": ("b", (0,))}


def test_a_guest_no_node_can_take_is_left_over_with_the_numbers() -> None:
    # 8 vCPUs free on a, split 4 + 4: the single-NUMA-node rule leaves the big guest over
    plan = plan_drain(
        [Guest("big", EIGHT, (A,)), Guest("small", TWO, (A,))], {"a": host("a", 4, 4)}
    )
    assert [m.server_id for m in plan.moves] == ["small"]
    assert [x.server_id for x in plan.left] == ["big"]
    assert "single-NUMA-node rule" in plan.left[0].reason and "8 vCPUs" in plan.left[0].reason


def test_anti_affinity_members_never_share_a_host_and_closed_hosts_stay_closed() -> None:
    hosts = {"p1": host("p1", 8, 8), "p2": host("p2", 8, 8), "a": host("a", 8, 8)}
    guests = [
        Guest("m1", FOUR, (POOL,), group_id="g"),
        Guest("m2", FOUR, (POOL,), group_id="g"),
        Guest("m3", FOUR, (POOL,), group_id="g"),
        Guest("x", TWO, (A, POOL), group_id="h", closed=frozenset({"a"})),
    ]
    plan = plan_drain(guests, hosts)
    members = [m.placement.host_id for m in plan.moves if m.server_id.startswith("m")]
    assert sorted(members) == ["p1", "p2"]  # two pool hosts, three members: one is left
    assert [x.server_id for x in plan.left] == ["m3"] and "anti-affinity" in plan.left[0].reason
    assert next(m.to for m in plan.moves if m.server_id == "x") == "pool"
