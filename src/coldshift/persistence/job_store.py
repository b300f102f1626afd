"""The SQL job store: claims under a lease (SKIP LOCKED on PostgreSQL), progress, parents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Float,
    Row,
    bindparam,
    delete,
    select,
    update,
)

from coldshift.domain.job_types import FENCING_JOB_TYPES
from coldshift.jobs.model import Job, JobStatus, NewJob, NewMaintenance
from coldshift.jobs.ports import Effects
from coldshift.persistence.db import Database
from coldshift.persistence.generations import stamp_for
from coldshift.persistence.job_signals import announce
from coldshift.persistence.leases import Taking, lease_free, take_prepared, write_held
from coldshift.persistence.maintenance_store import SqlMaintenanceStore, insert_maintenance
from coldshift.persistence.prepared import Prepared
from coldshift.persistence.tables import hosts, jobs

_TERMINAL = (JobStatus.SUCCESS.value, JobStatus.FAIL.value)


def insert_job(
    conn: Connection, new: NewJob, now: float, parent_id: str | None = None, position: int = 0
) -> int:
    """Record a job and its children inside the caller's transaction, in one statement;
    return how many of them are runnable (the leaves)."""
    rows = list(_job_rows(new, now, parent_id, position))
    _INSERT_JOB.execute_many(conn, rows)
    return sum(1 for row in rows if row["runnable"])


# One prepared INSERT for a whole job tree: building ``insert().values(...)`` per row cost
# SQLAlchemy more than the insert itself.
_INSERT_JOB = Prepared(jobs.insert())


def _job_rows(
    new: NewJob, now: float, parent_id: str | None, position: int
) -> Iterator[dict[str, Any]]:
    leaf = not new.children
    yield {
        "id": new.id,
        "project_id": new.project_id,
        "parent_id": parent_id,
        "job_type": new.job_type,
        "position": position,
        "status": JobStatus.INIT.value,
        "entities": new.entities,
        "payload": new.payload,
        "progress": {},
        "steps_done": 0,
        "compensating": False,
        "error_code": None,
        "fail_reason": None,
        "created_at": now,
        "begin_time": now,
        "end_time": None,
        "lease_owner": None,
        "lease_expires": None,
        "runnable": leaf and not new.held,
        "attempts": 0,
        "claimed_at": None,
    }
    for index, child in enumerate(new.children):
        yield from _job_rows(child, now, new.id, index)


def job_from_row(row: Any) -> Job:
    return Job(
        id=row.id,
        project_id=row.project_id,
        parent_id=row.parent_id,
        job_type=row.job_type,
        status=JobStatus(row.status),
        entities=dict(row.entities),
        payload=dict(row.payload),
        progress=dict(row.progress),
        steps_done=row.steps_done,
        compensating=row.compensating,
        error_code=row.error_code,
        fail_reason=row.fail_reason,
        begin_time=row.begin_time,
        end_time=row.end_time,
        attempts=row.attempts,
    )


class SqlJobStore(SqlMaintenanceStore):
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__(db, clock)
        # Every worker polls with it: built once, with bound parameters.
        now: BindParameter[float] = bindparam("now", type_=Float())
        self._taking = Taking.of(
            db,
            jobs,
            (jobs.c.runnable.is_(True), lease_free(jobs, now)),
            jobs.c.created_at,
            dict(
                lease_owner=bindparam("owner"),
                lease_expires=bindparam("expires"),
                attempts=jobs.c.attempts + 1,
                claimed_at=now,
                status=JobStatus.RUNNING.value,  # a runnable job is never terminal
            ),
        )

    def claim_next(self, owner: str, lease_seconds: float) -> Job | None:
        now = self._clock()
        params = {"now": now, "owner": owner, "expires": now + lease_seconds}
        row = take_prepared(self._db, self._taking, params, then=_parent_begins)
        return job_from_row(row) if row is not None else None

    def record_step(
        self,
        job_id: str,
        owner: str,
        steps_done: int,
        progress: dict[str, Any],
        compensating: bool,
        lease_seconds: float,
        effects: Effects = (),
    ) -> None:
        now = self._clock()
        with self._db.write() as conn:
            _apply(effects)
            values: dict[str, Any] = dict(
                steps_done=steps_done,
                progress=progress,
                compensating=compensating,
                lease_expires=now + lease_seconds,
            )
            self._guarded(conn, job_id, owner, values)

    def finish(
        self,
        job_id: str,
        owner: str,
        success: bool,
        error_code: str | None,
        fail_reason: str | None,
        *,
        last_step: tuple[int, dict[str, Any]] | None = None,
        effects: Effects = (),
    ) -> None:
        now = self._clock()
        status = JobStatus.SUCCESS if success else JobStatus.FAIL
        recorded = {} if last_step is None else dict(steps_done=last_step[0], progress=last_step[1])
        with self._db.write() as conn:
            _apply(effects)
            # Siblings finishing at once must not each see the other still running and both
            # leave the parent open (write skew under READ COMMITTED): the parent's row lock,
            # taken as it is found, makes them settle one after the other.
            parent_id = _LOCKED_PARENT.execute(conn, {"job_id": job_id}).scalar()
            self._guarded(
                conn,
                job_id,
                owner,
                dict(
                    recorded,
                    status=status.value,
                    error_code=error_code,
                    fail_reason=fail_reason,
                    end_time=now,
                    runnable=False,
                    lease_owner=None,
                    lease_expires=None,
                ),
            )
            if parent_id is not None:
                _settle_parent(conn, parent_id, now)

    def leave_to_maintenance(
        self,
        task: NewMaintenance,
        owner: str,
        steps_done: int,
        progress: dict[str, Any],
        compensating: bool,
        lease_seconds: float,
    ) -> None:
        now = self._clock()
        with self._db.write() as conn:
            insert_maintenance(conn, task, now)
            values: dict[str, Any] = dict(
                steps_done=steps_done,
                progress=progress,
                compensating=compensating,
                lease_expires=now + lease_seconds,
            )
            self._guarded(conn, task.job.id, owner, values)

    def heartbeat(self, owner: str, job_ids: list[str], lease_seconds: float) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(job_ids), jobs.c.lease_owner == owner)
                .values(lease_expires=self._clock() + lease_seconds)
            )

    def release(self, owner: str, job_ids: list[str]) -> None:
        with self._db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(job_ids), jobs.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )
            announce(conn, result.rowcount)

    def save_progress(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        with self._db.write() as conn:
            self._guarded(conn, job_id, owner, dict(progress=progress))

    def hand_back(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        with self._db.write() as conn:
            values = dict(progress=progress, lease_owner=None, lease_expires=None)
            self._guarded(conn, job_id, owner, values)
            announce(conn, 1)

    def release_all(self) -> int:
        """Free every lease: for a single-process database whose previous process died."""
        with self._db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.lease_owner.is_not(None))
                .values(lease_owner=None, lease_expires=None)
            )
        return result.rowcount

    def purge_finished(self, older_than: float) -> int:
        with self._db.write() as conn:
            old = select(jobs.c.id).where(
                jobs.c.parent_id.is_(None),
                jobs.c.status.in_(_TERMINAL),
                jobs.c.end_time < older_than,
            )
            ids = [r[0] for r in conn.execute(old)]
            if not ids:
                return 0
            conn.execute(delete(jobs).where(jobs.c.parent_id.in_(ids)))
            conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return len(ids)

    def _guarded(self, conn: Connection, job_id: str, owner: str, values: dict[str, Any]) -> None:
        write_held(conn, jobs, job_id, owner, values)


def _apply(effects: Effects) -> None:
    """A step's deferred writes: each store call joins the caller's open write transaction
    (Database.write), so they commit or roll back with the job's record."""
    for effect in effects:
        effect()


def _settle_parent(conn: Connection, parent_id: str, now: float) -> None:
    """The parent ends when its last child ends: SUCCESS if all succeeded, else the first FAIL."""
    children = _CHILDREN.execute(conn, {"parent_id": parent_id}).rows
    if any(c.status not in _TERMINAL for c in children):
        _parent_has_begun(conn, parent_id)
        _release_held_child(conn, parent_id)
        return
    failed = next((c for c in children if c.status == JobStatus.FAIL.value), None)
    ended_type = _END_PARENT.execute(
        conn,
        {
            "parent_id": parent_id,
            "end_time": now,
            "status": JobStatus.SUCCESS.value if failed is None else JobStatus.FAIL.value,
            "error_code": failed.error_code if failed is not None else None,
            "fail_reason": failed.fail_reason if failed is not None else None,
        },
    ).scalar()
    if ended_type in FENCING_JOB_TYPES:
        # the DeH this job fenced (a drain) takes servers again, in the transaction ending it
        _UNFENCE.execute(conn, {"parent_id": parent_id})


def _release_held_child(conn: Connection, parent_id: str) -> None:
    """A child has ended: the first held sibling (INIT, not runnable) becomes runnable, in
    the same transaction, so that as many run at once as before (a drain's bound)."""
    held = _FIRST_HELD_CHILD.execute(conn, {"parent_id": parent_id}).scalar()
    if held is not None:
        _MAKE_RUNNABLE.execute(conn, {"job_id": held})
        announce(conn, 1)


def load_job_tree(conn: Connection, project_id: str, job_id: str) -> tuple[Job, list[Job]] | None:
    row = conn.execute(
        select(jobs).where(
            jobs.c.id == job_id, jobs.c.project_id == project_id, jobs.c.parent_id.is_(None)
        )
    ).first()
    if row is None:
        return None
    children = conn.execute(
        select(jobs).where(jobs.c.parent_id == job_id).order_by(jobs.c.position)
    ).all()
    return job_from_row(row), [job_from_row(c) for c in children]


def _parent_begins(conn: Connection, taken: Row[Any]) -> None:
    if taken.parent_id is not None:
        _parent_has_begun(conn, taken.parent_id)


def _parent_has_begun(conn: Connection, parent_id: str) -> None:
    _PARENT_BEGINS.execute(conn, {"parent_id": parent_id})


# What every job's pickup and end run: prepared once (persistence.prepared).
_PARENT = jobs.alias("parent")
_LOCKED_PARENT = Prepared(
    select(_PARENT.c.id)
    .where(
        _PARENT.c.id
        == select(jobs.c.parent_id).where(jobs.c.id == bindparam("job_id")).scalar_subquery()
    )
    .with_for_update(of=_PARENT)
)
_CHILDREN = Prepared(
    select(jobs.c.status, jobs.c.error_code, jobs.c.fail_reason)
    .where(jobs.c.parent_id == bindparam("parent_id"))
    .order_by(jobs.c.position)
)
_END_PARENT = Prepared(
    update(jobs)
    .where(
        jobs.c.id == bindparam("parent_id"),
        jobs.c.status != JobStatus.SUCCESS.value,
        jobs.c.status != JobStatus.FAIL.value,
    )
    .values(
        end_time=bindparam("end_time"),
        status=bindparam("status"),
        error_code=bindparam("error_code"),
        fail_reason=bindparam("fail_reason"),
    )
    .returning(jobs.c.job_type)
)
_UNFENCE = Prepared(
    lambda dialect: (
        update(hosts)
        .where(hosts.c.draining_job == bindparam("parent_id"))
        .values(draining_job=None, generation=stamp_for(dialect))
    )
)
_FIRST_HELD_CHILD = Prepared(
    select(jobs.c.id)
    .where(
        jobs.c.parent_id == bindparam("parent_id"),
        jobs.c.status == JobStatus.INIT.value,
        jobs.c.runnable.is_(False),
    )
    .order_by(jobs.c.position)
    .limit(1)
)
_MAKE_RUNNABLE = Prepared(
    update(jobs).where(jobs.c.id == bindparam("job_id")).values(runnable=True)
)
_PARENT_BEGINS = Prepared(
    update(jobs)
    .where(jobs.c.id == bindparam("parent_id"), jobs.c.status == JobStatus.INIT.value)
    .values(status=JobStatus.RUNNING.value)
)
