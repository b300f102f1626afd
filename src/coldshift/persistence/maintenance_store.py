"""The SQL store of maintenance tasks: taken under a lease, pushed back after each failure."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, Row, select

from coldshift.jobs.model import Job, JobStatus, LeftWork, MaintenanceTask, NewMaintenance
from coldshift.jobs.ports import Effects
from coldshift.persistence.db import Database
from coldshift.persistence.leases import lease_free, take_next, write_held
from coldshift.persistence.tables import maintenance_tasks as tasks


def insert_maintenance(conn: Connection, task: NewMaintenance, now: float) -> None:
    job = task.job
    conn.execute(
        tasks.insert().values(
            id=task.id,
            job_id=job.id,
            project_id=job.project_id,
            job_type=job.job_type,
            step=task.step,
            work=task.work.value,
            entities=job.entities,
            payload=job.payload,
            progress=job.progress,
            attempts=0,
            last_error=task.error,
            created_at=now,
            next_attempt_at=now,
            done_at=None,
            lease_owner=None,
            lease_expires=None,
        )
    )


def task_from_row(row: Row[Any]) -> MaintenanceTask:
    m = row._mapping
    job = Job(
        id=m["job_id"],
        project_id=m["project_id"],
        parent_id=None,
        job_type=m["job_type"],
        status=JobStatus.SUCCESS,
        entities=dict(m["entities"]),
        payload=dict(m["payload"]),
        progress=dict(m["progress"]),
        steps_done=0,
        compensating=m["work"] == LeftWork.COMPENSATE.value,
        error_code=None,
        fail_reason=None,
        begin_time=m["created_at"],
        end_time=None,
        attempts=m["attempts"],
    )
    return MaintenanceTask(
        id=m["id"],
        job=job,
        step=m["step"],
        work=LeftWork(m["work"]),
        attempts=m["attempts"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        next_attempt_at=m["next_attempt_at"],
        done_at=m["done_at"],
    )


class SqlMaintenanceStore:
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def claim_due_maintenance(
        self, owner: str, lease_seconds: float, skip: Collection[str] = ()
    ) -> MaintenanceTask | None:
        now = self._clock()
        due = (
            tasks.c.done_at.is_(None),
            tasks.c.next_attempt_at <= now,
            lease_free(tasks, now),
            tasks.c.id.not_in(list(skip)),
        )
        lease = dict(
            lease_owner=owner, lease_expires=now + lease_seconds, attempts=tasks.c.attempts + 1
        )
        row = take_next(self._db, tasks, due, tasks.c.next_attempt_at, lease)
        return task_from_row(row) if row is not None else None

    def maintenance_done(self, task_id: str, owner: str, effects: Effects = ()) -> None:
        with self._db.write() as conn:
            for effect in effects:  # a step's deferred writes join this transaction
                effect()
            values = dict(done_at=self._clock(), lease_owner=None, lease_expires=None)
            write_held(conn, tasks, task_id, owner, values)

    def maintenance_failed(
        self, task_id: str, owner: str, error: str, next_attempt_at: float
    ) -> None:
        with self._db.write() as conn:
            values = dict(
                last_error=error,
                next_attempt_at=next_attempt_at,
                lease_owner=None,
                lease_expires=None,
            )
            write_held(conn, tasks, task_id, owner, values)

    def list_maintenance(self, *, pending_only: bool = True) -> list[MaintenanceTask]:
        query = select(tasks).order_by(tasks.c.created_at, tasks.c.id)
        if pending_only:
            query = query.where(tasks.c.done_at.is_(None))
        with self._db.read() as conn:
            return [task_from_row(r) for r in conn.execute(query)]
