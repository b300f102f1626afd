"""The SQL job store on real SQLite and PostgreSQL: leases, takeover, parents, purge."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, event

from coldshift.jobs.model import Job, JobStatus, NewJob
from coldshift.jobs.ports import LeaseLost
from coldshift.persistence.db import Database
from coldshift.persistence.job_store import SqlJobStore, insert_job, load_job_tree
from coldshift.testing import FrozenClock


def _batch(job_id: str, children: int) -> NewJob:
    return NewJob(
        id=job_id,
        project_id="p",
        job_type="batch",
        entities={},
        children=tuple(
            NewJob(
                id=f"{job_id}-{i}", project_id="p", job_type="leaf", entities={"server_id": f"s{i}"}
            )
            for i in range(children)
        ),
    )


def _record(db: Database, job: NewJob, clock: FrozenClock) -> None:
    with db.write() as conn:
        insert_job(conn, job, clock())


def test_each_job_is_claimed_by_exactly_one_of_many_workers(db: Database) -> None:
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    _record(db, _batch("p1", 20), clock)
    claimed: list[str] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        while (job := store.claim_next(owner, 60)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"p1-{i}" for i in range(20))


def test_an_expired_lease_is_taken_over_and_the_old_owner_is_fenced(db: Database) -> None:
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    _record(db, _batch("p2", 1), clock)
    job = store.claim_next("a", 5)
    assert job is not None and job.attempts == 1
    assert store.claim_next("b", 5) is None
    clock.advance(6)
    taken = store.claim_next("b", 5)
    assert taken is not None and (taken.id, taken.attempts) == (job.id, 2)
    with pytest.raises(LeaseLost):
        store.record_step(job.id, "a", 1, {}, False, 5)
    store.record_step(job.id, "b", 1, {"k": 1}, False, 5)
    store.finish(job.id, "b", True, None, None)


def test_the_parent_ends_with_its_last_child_and_copies_the_first_failure(
    db: Database,
) -> None:
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    _record(db, _batch("p3", 2), clock)
    first, second = store.claim_next("w", 60), store.claim_next("w", 60)
    assert first is not None and second is not None
    store.record_step(first.id, "w", 1, {}, False, 60)
    with db.read() as conn:
        parent, _ = load_job_tree(conn, "p", "p3")  # type: ignore[misc]
    assert parent.status is JobStatus.RUNNING
    store.finish(first.id, "w", False, "Ecs.0319", "no room")
    store.finish(second.id, "w", True, None, None)
    with db.read() as conn:
        parent, children = load_job_tree(conn, "p", "p3")  # type: ignore[misc]
    assert (parent.status, parent.error_code, parent.fail_reason) == (
        JobStatus.FAIL,
        "Ecs.0319",
        "no room",
    )
    assert [c.status for c in children] == [JobStatus.FAIL, JobStatus.SUCCESS]
    assert parent.end_time is not None


def test_purge_removes_only_finished_jobs_older_than_the_cut_off(db: Database) -> None:
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    _record(db, _batch("old", 1), clock)
    _record(db, _batch("open", 1), clock)
    job = store.claim_next("w", 60)
    assert job is not None and job.id == "old-0"
    store.finish(job.id, "w", True, None, None)
    clock.advance(100)
    assert store.purge_finished(clock() - 50) == 1
    with db.read() as conn:
        assert load_job_tree(conn, "p", "old") is None
        assert load_job_tree(conn, "p", "open") is not None


def test_a_job_is_invisible_to_another_project(db: Database) -> None:
    clock = FrozenClock()
    _record(db, _batch("mine", 1), clock)
    with db.read() as conn:
        assert load_job_tree(conn, "someone-else", "mine") is None


def test_siblings_finishing_at_once_always_settle_the_parent(db: Database) -> None:
    """Regression: on PostgreSQL two children finishing in concurrent transactions each saw
    the other still running, and the parent stayed RUNNING forever (write skew)."""
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    for round_ in range(5):
        _record(db, _batch(f"sib{round_}", 8), clock)
        claimed = [store.claim_next(f"w{i}", 60) for i in range(8)]
        barrier = threading.Barrier(8)
        threads = [
            threading.Thread(target=_finish_after, args=(store, barrier, job, f"w{i}"))
            for i, job in enumerate(claimed)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with db.read() as conn:
            parent, _ = load_job_tree(conn, "p", f"sib{round_}")  # type: ignore[misc]
        assert parent.status is JobStatus.SUCCESS


def _finish_after(
    store: SqlJobStore, barrier: threading.Barrier, job: Job | None, owner: str
) -> None:
    assert job is not None
    barrier.wait()
    store.finish(job.id, owner, True, None, None)


def _exists(db: Database, job_id: str) -> bool:
    with db.read() as conn:
        return load_job_tree(conn, "p", job_id) is not None


def test_a_steps_deferred_write_commits_with_its_record_and_not_without(db: Database) -> None:
    clock = FrozenClock()
    store = SqlJobStore(db, clock)
    _record(db, _batch("p8", 1), clock)
    job = store.claim_next("a", 5)
    assert job is not None

    # the effect opens a write of its own: it joins the record's transaction
    store.record_step(job.id, "a", 1, {}, False, 5, [lambda: _record(db, _batch("e1", 0), clock)])
    assert _exists(db, "e1")

    with pytest.raises(LeaseLost):  # the record is refused: the effect is rolled back with it
        store.record_step(
            job.id, "b", 2, {}, False, 5, [lambda: _record(db, _batch("e2", 0), clock)]
        )
    with pytest.raises(LeaseLost):
        store.finish(
            job.id, "b", True, None, None, effects=[lambda: _record(db, _batch("e3", 0), clock)]
        )
    assert not _exists(db, "e2") and not _exists(db, "e3")


# SQLite only: there a write transaction takes the file's one write lock; on PostgreSQL the
# SKIP LOCKED claim is cheap and a read first would cost every pickup a round trip.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_idle_poll_for_jobs_on_sqlite_commits_no_write_transaction(db: Database) -> None:
    store = SqlJobStore(db, FrozenClock())
    writes: list[object] = []

    def on_commit(conn: Connection) -> None:
        if conn.get_execution_options().get("coldshift_immediate", False):
            writes.append(conn)

    event.listen(db.engine, "commit", on_commit)
    try:
        assert store.claim_next("idle", 5) is None
    finally:
        event.remove(db.engine, "commit", on_commit)
    assert writes == []
