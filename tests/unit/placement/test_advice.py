"""Defragmentation advice (placement.advice): the fewest moves, each a migration the claim
would make, or none."""

from __future__ import annotations

from coldshift.domain.hosts import NumaNode
from coldshift.placement import HostView, NumaFit, NumaRequest, Strategy, fit_numa
from coldshift.placement.advice import Destination, Goal, Mover, advise

EIGHT = NumaRequest(8, 8192)
FOUR = NumaRequest(4, 4096)
TWO = NumaRequest(2, 2048)


def host(host_id: str, *free: int) -> HostView:
    """Nodes of 8 vCPUs / 8 GiB with these vCPUs free (memory in proportion)."""
    return HostView(
        host_id, host_id, tuple(NumaNode(i, 8, 8192, f, f * 1024) for i, f in enumerate(free))
    )


def mover(server_id: str, on: str, node: int, request: NumaRequest, *to: Destination) -> Mover:
    fit = NumaFit((node,), request.vcpus, request.memory_mb)
    return Mover(server_id, on, request, fit, to)


POOL = Destination("pool", ("p1",), Strategy.SPREAD)
DEH = Destination("deh", ("deh",), Strategy.PACK)


def test_the_fewest_moves_win_and_the_guest_fits_after_them() -> None:
    # 4 + 4 vCPUs free on the DeH: 8 in all, not on one node (the seed's failure)
    hosts = {"deh": host("deh", 4, 4), "p1": host("p1", 8, 8)}
    movers = [
        mover("two-a", "deh", 0, TWO, POOL),
        mover("two-b", "deh", 0, TWO, POOL),
        mover("four", "deh", 1, FOUR, POOL),
    ]
    advice = advise(Goal(EIGHT, DEH), movers, hosts)
    assert advice is not None
    assert [m.server_id for m in advice.moves] == ["four"]  # one move, not the two small ones
    assert advice.moves[0].to == "pool" and advice.then.host_id == "deh"
    assert advice.then.fit.node_indexes == (1,)


def test_no_advice_when_the_movers_have_nowhere_to_go() -> None:
    hosts = {"deh": host("deh", 4, 4), "p1": host("p1", 2, 2)}
    movers = [mover("four", "deh", 1, FOUR, POOL)]
    assert advise(Goal(EIGHT, DEH), movers, hosts) is None


def test_a_mover_never_lands_back_on_its_own_host_and_moves_chain_through_the_world() -> None:
    # Both movers must leave node 0; the pool has room for only one 4-vCPU guest per node,
    # so the second move sees the first one's claim.
    hosts = {"deh": host("deh", 0, 4), "p1": host("p1", 4, 0)}
    movers = [mover("a", "deh", 0, FOUR, POOL), mover("b", "deh", 0, FOUR, POOL)]
    assert advise(Goal(EIGHT, DEH), movers, hosts) is None
    hosts["p1"] = host("p1", 4, 4)
    advice = advise(Goal(EIGHT, DEH), movers, hosts)
    assert advice is not None and len(advice.moves) == 2
    assert {m.placement.fit.node_indexes for m in advice.moves} == {(0,), (1,)}
    assert isinstance(fit_numa(EIGHT, host("deh", 8, 4).nodes), NumaFit)


def test_more_than_the_allowed_moves_is_no_advice() -> None:
    hosts = {"deh": host("deh", 0, 0), "p1": host("p1", 8, 8)}
    movers = [mover(f"m{i}", "deh", 0, TWO, POOL) for i in range(4)]
    assert advise(Goal(EIGHT, DEH), movers, hosts) is None
    assert advise(Goal(EIGHT, DEH), movers, hosts, max_moves=4) is not None
