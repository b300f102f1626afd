"""A rejection in words: the reason a job's fail_reason carries when a flavor finds no room."""

from __future__ import annotations

import pytest

from coldshift.domain.hosts import Host, HostKind, NumaNode
from coldshift.placement import HostView, NoRoom, Rejection, lone_deh_scope, no_room_reason
from tests.unit.placement.hosts import domain_host

SPLIT = Rejection("NUMA split rule (2 nodes)", 32, 65536, 8, 16384, nodes_needed=2)
SINGLE = Rejection("single-NUMA-node rule", 16, 32768, 12, 65536)


def view(host_id: str, *free: int) -> HostView:
    return HostView(
        host_id, host_id, tuple(NumaNode(i, 40, 163840, f, 16384) for i, f in enumerate(free))
    )


def test_the_reason_counts_the_candidates_and_gives_the_closest_numbers() -> None:
    hosts = [view("a", 8, 4), view("b", 2, 6), view("c", 0, 0), view("d", 4, 4)]
    no_room = no_room_reason(SPLIT, "s6.16xlarge.2", hosts)
    assert no_room.cause == "numa_split"
    assert no_room.reason == (
        "4 candidate hosts: flavor s6.16xlarge.2 does not fit (NUMA split rule (2 nodes): "
        "needed per NUMA node 32 vCPUs and 65536 MiB, largest free node has 8 vCPUs and "
        "16384 MiB; 0 node(s) have that much free, 2 are needed; "
        "most free vCPUs on one host: 12)"
    )


def test_a_scope_replaces_the_count_of_candidates() -> None:
    no_room = no_room_reason(SINGLE, "s6.4xlarge.2", [view("deh-1", 12, 10)], "dedicated host x")
    assert no_room.cause == "numa_single_node"
    assert no_room.reason == (
        "dedicated host x: flavor s6.4xlarge.2 does not fit (single-NUMA-node rule: needed per "
        "NUMA node 16 vCPUs and 32768 MiB, largest free node has 12 vCPUs and 65536 MiB; "
        "most free vCPUs on one host: 22)"
    )


@pytest.mark.parametrize("scope", [None, "dedicated host x"])
def test_no_candidate_at_all_says_no_host_can_take_the_flavor(scope: str | None) -> None:
    no_room = no_room_reason(SINGLE, "s6.large.2", [], scope)
    assert no_room == NoRoom("no host can take flavor s6.large.2", "no_host")


def test_a_lone_deh_is_named() -> None:
    assert lone_deh_scope([domain_host("deh-1", HostKind.DEH)]) == "dedicated host deh-1"


@pytest.mark.parametrize(
    "hosts",
    [
        [],
        [domain_host("pool-1", HostKind.POOL)],
        [domain_host("deh-1", HostKind.DEH), domain_host("deh-2", HostKind.DEH)],
    ],
    ids=["none", "one pool host", "two dehs"],
)
def test_no_lone_deh_no_name(hosts: list[Host]) -> None:
    assert lone_deh_scope(hosts) is None
