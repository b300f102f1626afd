"""ECS groups, one contract for the SQL store (SQLite, PostgreSQL) and the in-memory fake:
membership, and the anti-affinity place a member's claim takes in its own transaction."""

from __future__ import annotations

import threading

import pytest

from coldshift.domain.errors import (
    GroupFull,
    GroupMembershipRefused,
    ServerBusy,
    ServerGroupNotFound,
)
from coldshift.domain.groups import ServerGroup
from coldshift.domain.hosts import ClaimRole
from coldshift.domain.servers import VmState
from coldshift.persistence.db import connect
from coldshift.persistence.invariants import check
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.upgrades import upgrade
from coldshift.placement import Placement
from coldshift.services.ports import GroupJoin, RegionStore
from coldshift.testing import FrozenClock
from coldshift.testing.factories import PROJECT, a_host, a_job, a_server
from tests.conftest import PG_URL, require_pg
from tests.integration import test_store_contract as contract
from tests.integration.test_store_contract import ONE_ON_NODE0, Stores, _placed

G = "group-1"
stores = contract.stores  # the same three stores: SQLite, PostgreSQL, the in-memory fake


def _group(store: RegionStore, group_id: str = G) -> None:
    store.add_group(ServerGroup(group_id, PROJECT, "ha", "anti-affinity", 1.0))


def _members(store: RegionStore, group_id: str = G) -> tuple[str, ...]:
    found = store.get_group(PROJECT, group_id)
    assert found is not None
    return found.members


def test_members_join_all_or_nothing(stores: Stores) -> None:
    store = stores.region
    h1, h2 = a_host("h1"), a_host("h2")
    store.add_hosts([h1, h2])
    s1, s2, s3 = (
        _placed(stores, a_server(s, host=h)) for s, h in (("s1", h1), ("s2", h1), ("s3", h2))
    )
    _group(store)
    _group(store, "group-2")
    store.add_members(G, ["s1"], 16)
    store.add_members(G, ["s1"], 16)  # already a member: nothing changes
    with pytest.raises(GroupMembershipRefused):  # s2 shares s1's host
        store.add_members(G, ["s3", "s2"], 16)
    with pytest.raises(GroupMembershipRefused):  # s1 is in another group
        store.add_members("group-2", ["s1"], 16)
    with pytest.raises(GroupFull):
        store.add_members(G, ["s3"], 1)
    with pytest.raises(ServerGroupNotFound):
        store.add_members("nope", ["s3"], 16)
    assert _members(store) == ("s1",) and _members(store, "group-2") == ()
    store.remove_members(G, ["s1"])
    with pytest.raises(GroupMembershipRefused):
        store.remove_members(G, ["s1"])
    store.add_members(G, ["s2", "s3"], 16)
    assert _members(store) == ("s2", "s3")
    assert store.group_rule(s2.id) is not None and store.group_rule(s1.id) is None
    rule = store.group_rule(s3.id)
    assert rule is not None and rule.closed == {"h1"}


def test_only_a_stopped_idle_server_joins(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    _placed(stores, a_server("s1", host=host, vm_state=VmState.ACTIVE.value))
    _group(store)
    with pytest.raises(ServerBusy):
        store.add_members(G, ["s1"], 16)
    assert _members(store) == ()


def test_a_members_claim_on_a_host_of_another_member_is_lost(stores: Stores) -> None:
    store = stores.region
    h1, h2 = a_host("h1"), a_host("h2")
    store.add_hosts([h1, h2])
    _group(store)
    store.submit(a_job("j"), new_servers=[a_server("s1"), a_server("s2")], group=GroupJoin(G, 16))
    assert store.claim("s1", Placement("h1", ONE_ON_NODE0))
    before = store.get_host("h1")
    assert not store.claim("s2", Placement("h1", ONE_ON_NODE0))
    assert store.get_host("h1") == before and not store.has_claims("s2")
    assert store.claim("s2", Placement("h2", ONE_ON_NODE0))
    # A migration holds both hosts until its source is released; then h1 opens again.
    assert store.claim("s1", Placement("h2", ONE_ON_NODE0), ClaimRole.INCOMING) is False
    store.release_claims("s2")
    assert store.claim("s1", Placement("h2", ONE_ON_NODE0), ClaimRole.INCOMING)
    store.release_claims("s1", ClaimRole.PLACED)
    rule = store.group_rule("s2")
    assert rule is not None and rule.closed == {"h2"}
    assert store.claim("s2", Placement("h1", ONE_ON_NODE0))


def test_a_full_group_refuses_a_submission_and_deletion_frees_members(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1")])
    _group(store)
    with pytest.raises(GroupFull):
        store.submit(
            a_job("j"), new_servers=[a_server("s1"), a_server("s2")], group=GroupJoin(G, 1)
        )
    assert store.get_server(None, "s1") is None
    store.submit(a_job("j"), new_servers=[a_server("s1")], group=GroupJoin(G, 1))
    assert store.claim("s1", Placement("h1", ONE_ON_NODE0))
    store.delete_server("s1")
    assert _members(store) == ()
    store.submit(a_job("k"), new_servers=[a_server("s2")], group=GroupJoin(G, 1))
    store.delete_group(G)
    assert store.get_group(PROJECT, G) is None and store.group_rule("s2") is None
    assert store.list_groups(PROJECT) == []


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def test_members_racing_for_one_host_in_threads_leave_one_winner(
    tmp_path: object, backend: str
) -> None:
    """Eight members claim room on one host at once, each in its own thread and transaction:
    the host has room for all, the group's rule lets exactly one in, and nothing drifts."""
    if backend == "pg":
        from tests.e2e.harness import fresh_pg_database

        require_pg()
        with fresh_pg_database(PG_URL) as url:
            _race(url)
    else:
        _race(f"sqlite:///{tmp_path}/race.db")


def _race(url: str) -> None:
    db = connect(url)
    upgrade(db)
    store = SqlRegionStore(db, FrozenClock())
    store.add_hosts([a_host("h1")])
    _group(store)
    ids = [f"s{i}" for i in range(8)]
    store.submit(a_job("j"), new_servers=[a_server(s) for s in ids], group=GroupJoin(G, 16))
    barrier = threading.Barrier(len(ids))
    won: list[str] = []

    def claim(server_id: str) -> None:
        barrier.wait()
        if store.claim(server_id, Placement("h1", ONE_ON_NODE0)):
            won.append(server_id)

    threads = [threading.Thread(target=claim, args=(s,)) for s in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert [d for d in check(db) if d.invariant == 4] == []
    db.dispose()
