"""What the engine needs from storage. Implemented by persistence and by testing.fakes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from coldshift.jobs.model import Job, MaintenanceTask, NewMaintenance

Effects = Sequence[Callable[[], object]]


class LeaseLost(Exception):
    """Another worker holds the job now: this worker must stop working on it."""


class JobStore(Protocol):
    def claim_next(self, owner: str, lease_seconds: float) -> Job | None:
        """Atomically take the oldest runnable job whose lease is free or expired."""

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
        """Persist progress and renew the lease; raise LeaseLost if ``owner`` lost the job.
        ``effects`` (the step's deferred writes) run first, in the same transaction."""

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
        """Make the job terminal (and its parent, when all siblings are); raise LeaseLost.
        ``last_step`` (steps_done, progress) and ``effects`` are the record of the step that
        ended the job, made in the same transaction instead of one of their own."""

    def heartbeat(self, owner: str, job_ids: list[str], lease_seconds: float) -> None:
        """Renew the leases of the jobs ``owner`` still holds."""

    def release(self, owner: str, job_ids: list[str]) -> None:
        """Hand jobs back so that another worker takes them at once."""

    def save_progress(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        """In the middle of a step: persist ``progress`` (e.g. bytes copied so far) for those
        who watch the job; raise LeaseLost."""

    def hand_back(self, job_id: str, owner: str, progress: dict[str, Any]) -> None:
        """At a step boundary: persist ``progress`` and free the lease in one transaction,
        so that another worker continues the job at once; raise LeaseLost."""

    def purge_finished(self, older_than: float) -> int:
        """Delete terminal top-level jobs (and their children) that ended before ``older_than``."""

    def leave_to_maintenance(
        self,
        task: NewMaintenance,
        owner: str,
        steps_done: int,
        progress: dict[str, Any],
        compensating: bool,
        lease_seconds: float,
    ) -> None:
        """In one transaction: record ``task`` (due at once) and the job's progress past the
        step it names, as ``record_step`` does; raise LeaseLost if ``owner`` lost the job."""


class MaintenanceStore(Protocol):
    """The durable clean-up tasks that jobs leave behind."""

    def claim_due_maintenance(
        self, owner: str, lease_seconds: float, skip: Collection[str] = ()
    ) -> MaintenanceTask | None:
        """Atomically take the pending task due first whose lease is free or expired (none
        of the ids in ``skip``)."""

    def maintenance_done(self, task_id: str, owner: str, effects: Effects = ()) -> None:
        """Mark the task done (``effects`` in the same transaction); LeaseLost if taken over."""

    def maintenance_failed(
        self, task_id: str, owner: str, error: str, next_attempt_at: float
    ) -> None:
        """Count a failed try, keep its error and free the lease until ``next_attempt_at``."""

    def list_maintenance(self, *, pending_only: bool = True) -> list[MaintenanceTask]:
        """Tasks, oldest first."""


class EngineStore(JobStore, MaintenanceStore, Protocol):
    """Everything a worker needs: its jobs and the clean-up they leave."""


class JobObserver(Protocol):
    """Told what the engine did, for metrics; called on the job's thread, so it must be
    cheap and must not raise (the job's outcome is already recorded when it is told)."""

    def step_ended(self, job_type: str, step: str, seconds: float, ok: bool) -> None:
        """A step's run (``ok``: it succeeded, after any retries) took ``seconds``."""

    def job_ended(self, job: Job, success: bool) -> None:
        """``job`` (as it was claimed) has just been made terminal by this process."""


class NoJobObserver:
    """The observer of an engine nobody watches."""

    def step_ended(self, job_type: str, step: str, seconds: float, ok: bool) -> None:
        pass

    def job_ended(self, job: Job, success: bool) -> None:
        pass


NO_JOB_OBSERVER = NoJobObserver()
