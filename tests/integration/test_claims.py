"""Atomic capacity claims against a real database, from many threads at once."""

from __future__ import annotations

import threading
import time

import pytest

from coldshift.domain.errors import HostInUse
from coldshift.domain.hosts import Host, HostState
from coldshift.persistence.db import Database
from coldshift.persistence.invariants import check
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.placement import NumaFit, Placement
from tests.integration.hosts import deh_with_nodes


def _host(host_id: str, vcpus_per_node: int = 8, nodes: int = 2) -> Host:
    return deh_with_nodes(host_id, [(vcpus_per_node, 16384)] * nodes)


def _race(store: SqlRegionStore, placements: list[tuple[str, Placement]]) -> list[bool]:
    results: list[bool] = [False] * len(placements)
    barrier = threading.Barrier(len(placements))

    def claim(index: int) -> None:
        server_id, placement = placements[index]
        barrier.wait()
        results[index] = store.claim(server_id, placement)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(placements))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_ten_claims_racing_for_room_of_four_never_overcommit(db: Database) -> None:
    store = SqlRegionStore(db, time.time)
    store.add_hosts([_host("h1")])
    fit = NumaFit((0,), 2, 4096)  # node 0 has room for exactly four of these
    results = _race(store, [(f"s{i}", Placement("h1", fit)) for i in range(10)])
    assert sum(results) == 4
    node0 = store.get_host("h1").nodes[0]  # type: ignore[union-attr]
    assert (node0.vcpus_free, node0.memory_free) == (0, 0)
    assert [d for d in check(db) if d.invariant == 1] == []


def test_a_split_claim_is_all_or_nothing(db: Database) -> None:
    store = SqlRegionStore(db, time.time)
    store.add_hosts([_host("h1")])
    assert store.claim("small", Placement("h1", NumaFit((1,), 6, 1024)))
    # needs 4 on node 0 AND node 1; node 1 has only 2 left: nothing may be taken from node 0
    assert not store.claim("big", Placement("h1", NumaFit((0, 1), 4, 1024)))
    nodes = store.get_host("h1").nodes  # type: ignore[union-attr]
    assert [(n.vcpus_free, n.memory_free) for n in nodes] == [(8, 16384), (2, 15360)]


def test_release_is_idempotent_and_gives_back_exactly(db: Database) -> None:
    store = SqlRegionStore(db, time.time)
    store.add_hosts([_host("h1")])
    assert store.claim("s1", Placement("h1", NumaFit((0, 1), 3, 2048)))
    store.release_claims("s1")
    store.release_claims("s1")
    nodes = store.get_host("h1").nodes  # type: ignore[union-attr]
    assert [(n.vcpus_free, n.memory_free) for n in nodes] == [(8, 16384), (8, 16384)]


def test_a_host_with_claims_cannot_be_released_and_a_released_host_takes_no_claim(
    db: Database,
) -> None:
    store = SqlRegionStore(db, time.time)
    store.add_hosts([_host("h1"), _host("h2")])
    assert store.claim("s1", Placement("h1", NumaFit((0,), 1, 1)))
    with pytest.raises(HostInUse):
        store.release_host("h1")
    assert store.get_host("h1").state is HostState.AVAILABLE  # type: ignore[union-attr]
    store.release_host("h2")
    assert not store.claim("s2", Placement("h2", NumaFit((0,), 1, 1)))
