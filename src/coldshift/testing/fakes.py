"""In-memory stand-ins for the job store and the clock, with the real semantics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from coldshift.jobs.model import Job, JobStatus, MaintenanceTask, NewJob, NewMaintenance
from coldshift.jobs.ports import Effects, LeaseLost


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryJobStore:
    """Implements jobs.ports.JobStore with the same lease and parent rules as the SQL store."""

    def __init__(self, clock: FrozenClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._leases: dict[str, tuple[str, float]] = {}
        self._runnable: set[str] = set()
        self.maintenance: dict[str, MaintenanceTask] = {}
        self._maintenance_leases: dict[str, tuple[str, float]] = {}
        #: told of each parent job that has ended (InMemoryRegionStore lifts a drain's fence)
        self.on_parent_end: Callable[[Job], None] = lambda _job: None

    def add(self, new: NewJob, parent_id: str | None = None) -> None:
        with self._lock:
            self._add(new, parent_id)

    def _add(self, new: NewJob, parent_id: str | None) -> None:
        self.jobs[new.id] = Job(
            id=new.id,
            project_id=new.project_id,
            parent_id=parent_id,
            job_type=new.job_type,
            status=JobStatus.INIT,
            entities=dict(new.entities),
            payload=dict(new.payload),
            progress={},
            steps_done=0,
            compensating=False,
            error_code=None,
            fail_reason=None,
            begin_time=self._clock(),
            end_time=None,
            attempts=0,
        )
        self._order.append(new.id)
        if not new.children and not new.held:
            self._runnable.add(new.id)
        for child in new.children:
            self._add(child, new.id)

    def children(self, job_id: str) -> list[Job]:
        return [self.jobs[i] for i in self._order if self.jobs[i].parent_id == job_id]

    def claim_next(self, owner: str, lease_seconds: float) -> Job | None:
        now = self._clock()
        with self._lock:
            for job_id in self._order:
                lease = self._leases.get(job_id)
                if job_id in self._runnable and (lease is None or lease[1] < now):
                    job = replace(
                        self.jobs[job_id],
                        attempts=self.jobs[job_id].attempts + 1,
                        status=JobStatus.RUNNING,
                    )
                    self.jobs[job_id] = job
                    self._leases[job_id] = (owner, now + lease_seconds)
                    if job.parent_id:
                        self._parent_has_begun(job.parent_id)
                    return job
        return None

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
        with self._lock:
            self._check(job_id, owner)
            for effect in effects:
                effect()
            job = self.jobs[job_id]
            self.jobs[job_id] = replace(
                job, steps_done=steps_done, progress=dict(progress), compensating=compensating
            )
            self._leases[job_id] = (owner, self._clock() + lease_seconds)

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
        with self._lock:
            self._check(job_id, owner)
            for effect in effects:
                effect()
            status = JobStatus.SUCCESS if success else JobStatus.FAIL
            job = self.jobs[job_id]
            if last_step is not None:
                job = replace(job, steps_done=last_step[0], progress=dict(last_step[1]))
            job = replace(
                job,
                status=status,
                error_code=error_code,
                fail_reason=fail_reason,
                end_time=self._clock(),
            )
            self.jobs[job_id] = job
            self._runnable.discard(job_id)
            self._leases.pop(job_id, None)
            if job.parent_id:
                self._settle(job.parent_id)

    def _parent_has_begun(self, parent_id: str) -> None:
        parent = self.jobs[parent_id]
        if parent.status is JobStatus.INIT:
            self.jobs[parent_id] = replace(parent, status=JobStatus.RUNNING)

    def _settle(self, parent_id: str) -> None:
        kids = self.children(parent_id)
        parent = self.jobs[parent_id]
        if not all(k.status.terminal for k in kids):
            self._parent_has_begun(parent_id)  # as the SQL store: a child has ended
            held = next(
                (
                    k
                    for k in kids
                    if k.status is JobStatus.INIT and k.id not in self._runnable and not k.attempts
                ),
                None,
            )
            if held is not None:  # as the SQL store: the first held sibling is released
                self._runnable.add(held.id)
            return
        failed = next((k for k in kids if k.status is JobStatus.FAIL), None)
        self.jobs[parent_id] = replace(
            parent,
            status=JobStatus.FAIL if failed else JobStatus.SUCCESS,
            error_code=failed.error_code if failed else None,
            fail_reason=failed.fail_reason if failed else None,
            end_time=self._clock(),
        )
        self.on_parent_end(self.jobs[parent_id])

    def heartbeat(self, owner: str, job_ids: list[str], lease_seconds: float) -> None:
        with self._lock:
            for job_id in job_ids:
                if self._leases.get(job_id, ("",))[0] == owner:
                    self._leases[job_id] = (owner, self._clock() + lease_seconds)

    def release(self, owner: str, job_ids: list[str]) -> None:
        with self._lock:
            for job_id in job_ids:
                if self._leases.get(job_id, ("",))[0] == owner:
                    del self._leases[job_id]

    def save_progress(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        with self._lock:
            self._check(job_id, owner)
            self.jobs[job_id] = replace(self.jobs[job_id], progress=dict(progress))

    def hand_back(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        with self._lock:
            self._check(job_id, owner)
            self.jobs[job_id] = replace(self.jobs[job_id], progress=dict(progress))
            del self._leases[job_id]

    def purge_finished(self, older_than: float) -> int:
        with self._lock:
            old = [
                j.id
                for j in self.jobs.values()
                if j.parent_id is None and j.status.terminal and (j.end_time or 0) < older_than
            ]
            for job_id in old:
                for kid in self.children(job_id):
                    del self.jobs[kid.id]
                    self._order.remove(kid.id)
                del self.jobs[job_id]
                self._order.remove(job_id)
            return len(old)

    def _check(self, job_id: str, owner: str) -> None:
        if self._leases.get(job_id, ("",))[0] != owner:
            raise LeaseLost(job_id)

    # ---- maintenance ---------------------------------------------------------------------

    def leave_to_maintenance(
        self,
        task: NewMaintenance,
        owner: str,
        steps_done: int,
        progress: dict[str, Any],
        compensating: bool,
        lease_seconds: float,
    ) -> None:
        with self._lock:
            self._check(task.job.id, owner)
            now = self._clock()
            self.maintenance[task.id] = MaintenanceTask(
                task.id, task.job, task.step, task.work, 0, task.error, now, now, None
            )
            job = self.jobs[task.job.id]
            self.jobs[job.id] = replace(
                job, steps_done=steps_done, progress=dict(progress), compensating=compensating
            )
            self._leases[job.id] = (owner, now + lease_seconds)

    def claim_due_maintenance(
        self, owner: str, lease_seconds: float, skip: Collection[str] = ()
    ) -> MaintenanceTask | None:
        now = self._clock()
        with self._lock:
            due = [
                t
                for t in self.maintenance.values()
                if t.pending
                and t.id not in skip
                and t.next_attempt_at <= now
                and self._maintenance_leases.get(t.id, ("", 0.0))[1] < now
            ]
            if not due:
                return None
            task = min(due, key=lambda t: t.next_attempt_at)
            task = replace(task, attempts=task.attempts + 1)
            self.maintenance[task.id] = task
            self._maintenance_leases[task.id] = (owner, now + lease_seconds)
            return task

    def maintenance_done(self, task_id: str, owner: str, effects: Effects = ()) -> None:
        with self._lock:
            self._check_maintenance(task_id, owner)
            for effect in effects:
                effect()
            self.maintenance[task_id] = replace(self.maintenance[task_id], done_at=self._clock())

    def maintenance_failed(
        self, task_id: str, owner: str, error: str, next_attempt_at: float
    ) -> None:
        with self._lock:
            self._check_maintenance(task_id, owner)
            self.maintenance[task_id] = replace(
                self.maintenance[task_id], last_error=error, next_attempt_at=next_attempt_at
            )

    def list_maintenance(self, *, pending_only: bool = True) -> list[MaintenanceTask]:
        with self._lock:
            found = [t for t in self.maintenance.values() if t.pending or not pending_only]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    def _check_maintenance(self, task_id: str, owner: str) -> None:
        if self._maintenance_leases.pop(task_id, ("",))[0] != owner:
            raise LeaseLost(task_id)
