"""One contract, two stores: the SQL store (SQLite, PostgreSQL) and the in-memory fake answer
the same way. What the fake is trusted for in tests/unit/services is proven here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from coldshift.domain.errors import (
    HostInUse,
    InvalidMarker,
    MachineTaken,
    QuotaExceeded,
    ServerBusy,
)
from coldshift.domain.hosts import Host, HostChange, HostKind, HostState
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import (
    DISKS_COPIED,
    LOCK_FROZEN_DURING,
    MIGRATION_ACCEPTED,
    MIGRATION_UNDONE,
    SWITCHED_OVER,
    TARGET_CLAIMED,
    IllegalTransition,
)
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.domain.servers import Server, TaskState, VmState
from coldshift.jobs.model import JobStatus, NewJob
from coldshift.jobs.ports import JobStore
from coldshift.persistence.db import connect
from coldshift.persistence.job_store import SqlJobStore
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.upgrades import upgrade
from coldshift.placement import NumaFit, Placement
from coldshift.services.ports import (
    ClientToken,
    DuplicateSubmission,
    HostFence,
    JobColumns,
    JobPage,
    RegionStore,
    ServerColumns,
    TaskGuard,
)
from coldshift.testing import FrozenClock, InMemoryJobStore, InMemoryRegionStore
from coldshift.testing.factories import AZ, PROJECT, a_host, a_job, a_server
from tests.conftest import PG_URL, require_pg

NODE0_SIX = NumaFit((0,), 6, 4096)
BOTH_NODES_FOUR = NumaFit((0, 1), 4, 4096)
ONE_ON_NODE0 = NumaFit((0,), 2, 4096)


@dataclass
class Stores:
    region: RegionStore
    jobs: JobStore
    clock: FrozenClock


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg), "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    clock = FrozenClock()
    if request.param == "memory":
        jobs = InMemoryJobStore(clock)
        yield Stores(InMemoryRegionStore(jobs, clock), jobs, clock)
        return
    if request.param == "pg":
        from tests.e2e.harness import fresh_pg_database

        require_pg()
        with fresh_pg_database(PG_URL) as url:
            yield from _sql(url, clock)
    else:
        yield from _sql(f"sqlite:///{tmp_path / 'contract.db'}", clock)


def _sql(url: str, clock: FrozenClock) -> Iterator[Stores]:
    db = connect(url)
    upgrade(db)
    yield Stores(SqlRegionStore(db, clock), SqlJobStore(db, clock), clock)
    db.dispose()


def _placed(stores: Stores, server: Server, fit: NumaFit = ONE_ON_NODE0) -> Server:
    """Record ``server`` and claim its room on its host."""
    stores.region.submit(a_job(f"job-{server.id}"), new_servers=[server])
    assert server.host_id is not None
    assert stores.region.claim(server.id, Placement(server.host_id, fit))
    return server


def _free(store: RegionStore, host_id: str) -> list[tuple[int, int]]:
    host = store.get_host(host_id)
    assert host is not None
    return [(n.vcpus_free, n.memory_free) for n in host.nodes]


def _finish(jobs: JobStore, job_id: str) -> None:
    job = jobs.claim_next("tester", 30.0)
    assert job is not None and job.id == job_id
    jobs.finish(job_id, "tester", True, None, None)


def _migration_guard(server: Server, job_id: str, **checked: str) -> TaskGuard:
    return TaskGuard(server.id, MIGRATION_ACCEPTED.change, job_id, **checked)


# ---- claims --------------------------------------------------------------------------------


def test_a_claim_refused_on_one_node_changes_nothing(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    _placed(stores, a_server("s1", host=host), NODE0_SIX)
    store.submit(a_job("job-s2"), new_servers=[a_server("s2", host=host)])

    # node 1 has room, node 0 only 2 vCPUs left: the whole claim is refused
    assert not store.claim("s2", Placement("h1", BOTH_NODES_FOUR), then=None)

    assert _free(store, "h1") == [(2, 12288), (8, 16384)]
    assert not store.has_claims("s2")
    assert store.claimed_host("s1", "placed") == "h1"


def test_the_claimed_nodes_of_a_role_are_read_in_order(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    _placed(stores, a_server("s1", host=host), BOTH_NODES_FOUR)
    assert store.claimed_nodes("s1", "placed") == (0, 1)
    assert store.claimed_nodes("s1", "incoming") == ()


def test_two_dehs_never_stand_on_one_machine(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([replace(a_host("h1"), machine="kvm-1")])
    with pytest.raises(MachineTaken):
        store.add_hosts(
            [replace(a_host("h2"), machine="kvm-2"), replace(a_host("h3"), machine="kvm-1")]
        )
    assert store.get_host("h2") is None  # nothing of the refused allocation was added
    assert store.machines_in_use() == {"kvm-1"}
    store.release_host("h1")  # its machine is free again
    store.add_hosts([replace(a_host("h4"), machine="kvm-1")])
    assert store.machines_in_use() == {"kvm-1"}
    assert store.get_host("h1") is not None and store.get_host("h1").machine is None  # type: ignore[union-attr]


def test_a_host_state_change_is_applied(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1")])
    store.update_host("h1", HostChange(state=HostState.FAULT))
    host = store.get_host("h1")
    assert host is not None and host.state is HostState.FAULT and host.name == "h1"


def test_a_claim_on_a_released_host_is_refused(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1")])
    store.release_host("h1")
    assert not store.claim("s1", Placement("h1", ONE_ON_NODE0))
    assert _free(store, "h1") == [(8, 16384), (8, 16384)]


def test_a_claim_whose_task_change_is_illegal_takes_no_room(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    store.submit(a_job("j"), new_servers=[a_server("s1", host=host)])
    with pytest.raises(IllegalTransition):
        store.claim("s1", Placement("h1", ONE_ON_NODE0), "incoming", TARGET_CLAIMED.change)
    assert _free(store, "h1") == [(8, 16384), (8, 16384)]
    assert not store.has_claims("s1", "incoming")


def test_switch_over_moves_the_roles_and_the_task_once(stores: Stores) -> None:
    store = stores.region
    source, target = a_host("src", allocated_at=1.0), a_host("dst", allocated_at=2.0)
    store.add_hosts([source, target])
    server = _placed(stores, a_server("s1", host=source))
    store.submit(a_job("m", children=["m1"]), guards=[_migration_guard(server, "m1")])
    assert not store.switch_over("s1", SWITCHED_OVER.change)  # no incoming claim yet

    assert store.claim("s1", Placement("dst", ONE_ON_NODE0), "incoming", TARGET_CLAIMED.change)
    store.change_task("s1", DISKS_COPIED.change)
    assert store.switch_over("s1", SWITCHED_OVER.with_(host_id="dst"))

    assert store.claimed_host("s1", "placed") == "dst"
    assert store.claimed_host("s1", "outgoing") == "src"
    assert not store.has_claims("s1", "incoming")
    moved = store.get_server(None, "s1")
    assert moved is not None
    assert (moved.task_state, moved.host_id) == (TaskState.RESIZE_FINISH.value, "dst")
    # until the migration ends, the source lists the server leaving it, the target not yet
    assert [s.id for s in store.servers_on_host("src")] == ["s1"]
    assert store.servers_on_host("dst") == []
    assert not store.switch_over("s1", SWITCHED_OVER.change)  # already done: nothing


def test_releasing_claims_is_idempotent_and_names_the_hosts_given_room(stores: Stores) -> None:
    store = stores.region
    source, target = a_host("src"), a_host("dst")
    store.add_hosts([source, target])
    _placed(stores, a_server("s1", host=source))
    assert store.claim("s1", Placement("dst", ONE_ON_NODE0), "incoming")

    assert store.release_claims("s1", "incoming") == ["dst"]
    assert store.release_claims("s1", "incoming") == []
    assert _free(store, "dst") == [(8, 16384), (8, 16384)]
    assert _free(store, "src") == [(6, 12288), (8, 16384)]
    assert store.delete_server("s1") == ["src"]
    assert store.delete_server("s1") == []
    assert _free(store, "src") == [(8, 16384), (8, 16384)]
    assert store.get_server(None, "s1") is None


# ---- task guards and transitions -----------------------------------------------------------


def test_a_refused_guard_records_nothing(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    busy = a_server("busy", host=host, task_state=TaskState.POWERING_ON.value)
    idle = a_server("idle", host=host)
    store.submit(a_job("j0"), new_servers=[busy, idle])

    guards = [_migration_guard(idle, "m1"), _migration_guard(busy, "m2")]
    with pytest.raises(ServerBusy):
        store.submit(a_job("m", children=["m1", "m2"]), guards=guards)

    assert store.job_tree(PROJECT, "m") is None
    assert store.get_server(None, "idle") == idle


@pytest.mark.parametrize(
    "checked",
    [{"vm_state": VmState.ACTIVE.value}, {"host_id": "elsewhere"}],
    ids=["vm_state changed", "host changed"],
)
def test_a_guard_refuses_a_server_no_longer_as_checked(
    stores: Stores, checked: dict[str, str]
) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    store.submit(a_job("j0"), new_servers=[a_server("s1", host=host)])
    with pytest.raises(ServerBusy):
        store.submit(a_job("m"), guards=[_migration_guard(a_server("s1"), "m", **checked)])
    found = store.get_server(None, "s1")
    assert found is not None and found.task_state is None


def test_a_locked_server_is_busy_and_cannot_change_lock_while_migrating(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    store.submit(a_job("j0"), new_servers=[a_server("s1", host=host)])
    assert store.set_locked("s1", True, LOCK_FROZEN_DURING)
    with pytest.raises(ServerBusy):
        store.submit(a_job("m"), guards=[_migration_guard(a_server("s1"), "m")])

    assert store.set_locked("s1", False, LOCK_FROZEN_DURING)
    store.submit(a_job("m", children=["m1"]), guards=[_migration_guard(a_server("s1"), "m1")])
    assert not store.set_locked("s1", True, LOCK_FROZEN_DURING)
    found = store.get_server(None, "s1")
    assert found is not None and not found.locked
    assert not store.set_locked("nobody", True, LOCK_FROZEN_DURING)


def test_a_server_is_idle_only_once_its_last_job_ended(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    store.submit(a_job("j0"), new_servers=[a_server("s1", host=host)])
    _finish(stores.jobs, "j0")
    store.submit(a_job("m", children=["m1"]), guards=[_migration_guard(a_server("s1"), "m1")])
    # the task ended, but its job did not: a re-run of it must not meet another job's task
    store.change_task("s1", MIGRATION_UNDONE.change)
    with pytest.raises(ServerBusy):
        store.submit(a_job("n", children=["n1"]), guards=[_migration_guard(a_server("s1"), "n1")])

    _finish(stores.jobs, "m1")
    store.submit(a_job("n", children=["n1"]), guards=[_migration_guard(a_server("s1"), "n1")])
    found = store.get_server(None, "s1")
    assert found is not None
    assert (found.task_state, found.task_job_id) == (TaskState.RESIZE_PREP.value, "n1")


def test_a_parent_is_running_from_the_claim_of_its_first_sub_job(stores: Stores) -> None:
    stores.region.submit(a_job("p", children=["p1", "p2"]))
    tree = stores.region.job_tree(PROJECT, "p")
    assert tree is not None and tree[0].status is JobStatus.INIT
    taken = stores.jobs.claim_next("w", 30.0)
    assert taken is not None and taken.id == "p1"
    # no step of it has run yet: being taken is what makes both RUNNING
    tree = stores.region.job_tree(PROJECT, "p")
    assert tree is not None
    parent, children = tree
    assert (parent.status, [c.status for c in children]) == (
        JobStatus.RUNNING,
        [JobStatus.RUNNING, JobStatus.INIT],
    )


def test_an_illegal_transition_is_refused_and_changes_nothing(stores: Stores) -> None:
    store = stores.region
    host = a_host("h1")
    store.add_hosts([host])
    server = a_server("s1", host=host)
    store.submit(a_job("j0"), new_servers=[server])
    with pytest.raises(IllegalTransition):
        store.change_task("s1", SWITCHED_OVER.with_(host_id="elsewhere"))
    assert store.get_server(None, "s1") == server
    with pytest.raises(IllegalTransition):
        store.change_task("nobody", DISKS_COPIED.change)


# ---- hosts and quotas ----------------------------------------------------------------------


def test_a_host_in_use_is_not_released(stores: Stores) -> None:
    store = stores.region
    on_it, migrating_to, claimed = a_host("on"), a_host("to"), a_host("claimed")
    store.add_hosts([on_it, migrating_to, claimed, a_host("free")])
    store.submit(
        a_job("j0"),
        new_servers=[
            a_server("s1", host=on_it, migrating_to="to"),
            a_server("s2"),
        ],
    )
    assert store.claim("s2", Placement("claimed", ONE_ON_NODE0))

    for host_id in ("on", "to", "claimed"):
        with pytest.raises(HostInUse):
            store.release_host(host_id)
        found = store.get_host(host_id)
        assert found is not None and found.state is HostState.AVAILABLE
    stores.clock.advance(5)
    store.release_host("free")
    released = store.get_host("free")
    assert released is not None
    assert (released.state, released.released_at) == (HostState.RELEASED, stores.clock())


def test_quotas_are_counted_inside_the_write(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1"), a_host("h2")])
    store.release_host("h2")  # a released DeH no longer counts
    dehs = QuotaGuard(PROJECT, Resource.DEDICATED_HOSTS, limit=2, adding=1)
    store.add_hosts([a_host("h3")], quota=dehs)
    with pytest.raises(QuotaExceeded):
        store.add_hosts([a_host("h4")], quota=dehs)
    assert store.get_host("h4") is None

    instances = QuotaGuard(PROJECT, Resource.INSTANCES, limit=2, adding=2)
    store.submit(a_job("j0"), new_servers=[a_server("s1")])
    with pytest.raises(QuotaExceeded):
        store.submit(a_job("j1"), new_servers=[a_server("s2"), a_server("s3")], quota=instances)
    assert store.count_servers(PROJECT) == 1
    assert store.job_tree(PROJECT, "j1") is None


def test_a_client_token_is_recorded_once(stores: Stores) -> None:
    store = stores.region
    token = ClientToken(PROJECT, "tok", "hash", {"job_id": "j0", "server_ids": ["s1"]})
    store.submit(a_job("j0"), new_servers=[a_server("s1")], client_token=token)
    with pytest.raises(DuplicateSubmission):
        store.submit(a_job("j1"), new_servers=[a_server("s2")], client_token=token)
    assert store.get_server(None, "s2") is None
    assert store.find_client_token(PROJECT, "tok", stores.clock() - 1) == token
    assert store.find_client_token(PROJECT, "tok", stores.clock() + 1) is None
    assert store.find_client_token("other", "tok", 0.0) is None


def test_a_host_update_changes_only_the_fields_given(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1", name="old")])
    store.update_host("h1", HostChange(auto_placement="off"))
    store.update_host("h1", HostChange(name="new"))
    host = store.get_host("h1")
    assert host is not None and (host.name, host.auto_placement) == ("new", "off")


def _ids(hosts: list[Host]) -> list[str]:
    return [h.id for h in hosts]


def _exact_marks(stores: Stores) -> bool:
    """False on PostgreSQL, whose marks also read again what transactions running at the
    mark wrote, anywhere on the server (persistence/generations.py): more, never less."""
    region = stores.region
    return not isinstance(region, SqlRegionStore) or region._db.is_sqlite


def test_pool_changes_are_the_pool_hosts_changed_since_a_mark(stores: Stores) -> None:
    store, exact = stores.region, _exact_marks(stores)
    pool = [a_host(h, kind=HostKind.POOL, allocated_at=1.0) for h in ("p3", "p1", "p2")]
    elsewhere = a_host("q1", kind=HostKind.POOL, availability_zone="az-b")
    store.add_hosts([*pool, elsewhere, a_host("deh")])
    everything = store.pool_changes(AZ, None)
    assert _ids(everything.hosts) == ["p1", "p2", "p3"]  # the store's order
    nothing = store.pool_changes(AZ, everything.mark)
    assert nothing.removed == [] and (nothing.hosts == [] or not exact)

    assert store.claim("s1", Placement("p1", ONE_ON_NODE0))
    assert store.claim("s2", Placement("p1", ONE_ON_NODE0))  # changed twice: read once
    store.update_host("p2", HostChange(state=HostState.FAULT))
    store.remove_hosts(["p3"])
    store.update_host("deh", HostChange(state=HostState.FAULT))  # not in the pool
    store.update_host("q1", HostChange(state=HostState.FAULT))  # another AZ
    changed = store.pool_changes(AZ, everything.mark)

    assert _ids(changed.hosts) == ["p1", "p2"] and changed.removed == ["p3"]
    assert [(n.vcpus_free, n.memory_free) for n in changed.hosts[0].nodes] == [
        (4, 8192),
        (8, 16384),
    ]
    assert changed.hosts[1].state is HostState.FAULT
    assert changed.mark >= everything.mark

    store.release_claims("s1")
    store.add_hosts([pool[0]])  # p3 again: no longer removed
    again = store.pool_changes(AZ, changed.mark)
    assert again.removed == []
    if exact:
        assert _ids(again.hosts) == ["p1", "p3"]
    assert {"p1", "p3"} <= set(_ids(again.hosts))
    assert _ids(store.pool_changes(None, None).hosts) == ["q1", "p1", "p2", "p3"]


# ---- listings ------------------------------------------------------------------------------


def test_listings_share_the_sql_order(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("b", allocated_at=1.0), a_host("a", allocated_at=1.0)])
    store.add_hosts([a_host("c", allocated_at=0.5)])
    assert [h.id for h in store.list_hosts()] == ["c", "a", "b"]
    store.submit(
        a_job("j0"),
        new_servers=[
            a_server("s1", created_at=1.0),
            a_server("s3", created_at=1.0),
            a_server("s2", created_at=2.0),
            a_server("other", project_id="p2", created_at=3.0),
        ],
    )
    assert [s.id for s in store.list_servers(PROJECT)] == ["s2", "s3", "s1"]

    page = store.page_servers(PROJECT, ServerColumns(), limit=1, after="s2", with_total=True)
    assert ([s.id for s in page.servers], page.more, page.total) == (["s3"], True, 3)
    last = store.page_servers(PROJECT, ServerColumns(), limit=5, offset=2)
    assert ([s.id for s in last.servers], last.more, last.total) == (["s1"], False, None)
    with pytest.raises(InvalidMarker):
        store.page_servers(PROJECT, ServerColumns(), limit=1, after="other")


def test_the_job_listing_pages_newest_first_with_its_sub_jobs(stores: Stores) -> None:
    store, clock = stores.region, stores.clock
    store.submit(a_job("a", children=["a2", "a1"]))
    store.submit(NewJob("other-type", PROJECT, "startServer", {}))
    clock.advance(1)
    store.submit(a_job("c"))
    store.submit(a_job("b"))  # created at the same time as c: the id breaks the tie
    store.submit(a_job("foreign", project_id="p2"))
    clock.advance(1)
    store.submit(a_job("d"))

    def ids(page: JobPage) -> list[str]:
        return [job.id for job, _ in page.jobs]

    every = store.page_jobs(PROJECT, JobColumns(), limit=10)
    assert (ids(every), every.more) == (["d", "c", "b", "other-type", "a"], False)
    assert [c.id for c in every.jobs[-1][1]] == ["a2", "a1"]  # in their order, not by id
    first = store.page_jobs(PROJECT, JobColumns(), limit=2)
    assert (ids(first), first.more) == (["d", "c"], True)
    rest = store.page_jobs(PROJECT, JobColumns(), limit=2, after="c")
    assert (ids(rest), rest.more) == (["b", "other-type"], True)

    taken = stores.jobs.claim_next("w", 30.0)  # a1 or a2: the oldest runnable
    assert taken is not None and taken.parent_id == "a"
    running = store.page_jobs(PROJECT, JobColumns(JobStatus.RUNNING), limit=10)
    assert ids(running) == ["a"]
    typed = store.page_jobs(PROJECT, JobColumns(JobStatus.INIT, "test"), limit=1, after="d")
    assert (ids(typed), typed.more) == (["c"], True)
    # the marker need not match the filters: its job's status moves on between pages
    after_a = store.page_jobs(PROJECT, JobColumns(JobStatus.INIT), limit=5, after="a")
    assert (ids(after_a), after_a.more) == ([], False)
    for marker in ("foreign", "a1", "nothing", ""):
        with pytest.raises(InvalidMarker):
            store.page_jobs(PROJECT, JobColumns(), limit=1, after=marker)


def test_hosts_list_what_is_placed_on_them(stores: Stores) -> None:
    store = stores.region
    host: Host = a_host("h1")
    store.add_hosts([host, a_host("h2")])
    store.submit(
        a_job("j0"),
        new_servers=[a_server("late", host=host, created_at=2.0), a_server("early", host=host)],
    )
    assert [s.id for s in store.servers_on_host("h1")] == ["early", "late"]
    assert store.instance_ids_by_host(["h1", "h2"]) == {"h1": ["early", "late"]}


# ---- what the dashboard and the metrics read -------------------------------------------------


def test_node_shares_list_each_claim_row_by_host_and_node(stores: Stores) -> None:
    store = stores.region
    store.add_hosts([a_host("h1"), a_host("h2"), a_host("h3")])
    _placed(stores, a_server("s1", host=a_host("h1")), BOTH_NODES_FOUR)
    _placed(stores, a_server("s2", host=a_host("h2")), ONE_ON_NODE0)
    store.submit(a_job("m", children=["m1"]), guards=[_migration_guard(a_server("s2"), "m1")])
    assert store.claim("s2", Placement("h1", NumaFit((1,), 2, 1024)), "incoming", None)

    shares = store.node_shares(["h1", "h3"])

    assert [(s.server_id, s.node_index, s.vcpus, s.memory_mb, s.role) for s in shares] == [
        ("s1", 0, 4, 4096, "placed"),
        ("s1", 1, 4, 4096, "placed"),
        ("s2", 1, 2, 1024, "incoming"),
    ]
    assert {s.host_id for s in shares} == {"h1"}
    assert store.node_shares([]) == []


def test_job_counts_count_every_job_by_type_and_status(stores: Stores) -> None:
    stores.region.submit(a_job("p", children=["p1", "p2"]))
    _finish(stores.jobs, "p1")
    stores.region.submit(a_job("q"))

    # a_job's jobs are all of type "test": p RUNNING (one sub-job ended), p1 SUCCESS, p2, q INIT
    assert stores.region.job_counts() == {
        ("test", JobStatus.RUNNING): 1,
        ("test", JobStatus.SUCCESS): 1,
        ("test", JobStatus.INIT): 2,
    }


def test_only_a_drain_fences_a_deh_and_its_end_lifts_the_fence(stores: Stores) -> None:
    """Only a fencing job type's end looks for a fence to lift, so only those may set one."""
    store = stores.region
    store.add_hosts([a_host("h1")])
    with pytest.raises(ValueError, match="cannot fence"):
        store.submit(a_job("not-a-drain"), fence=HostFence("h1", "not-a-drain"))
    assert store.get_host("h1").draining_job is None  # type: ignore[union-attr]
    assert store.job_tree(PROJECT, "not-a-drain") is None  # nothing recorded

    drain = replace(a_job("drain", children=["d1"]), job_type=JobType.DRAIN_DEDICATED_HOST.value)
    store.submit(drain, fence=HostFence("h1", "drain"))
    assert store.get_host("h1").draining_job == "drain"  # type: ignore[union-attr]
    _finish(stores.jobs, "d1")
    assert store.get_host("h1").draining_job is None  # type: ignore[union-attr]
