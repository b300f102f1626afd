"""The job record and its statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    #: recorded, not yet taken by a worker (a parent: none of its sub-jobs taken)
    INIT = "INIT"
    #: taken by a worker (a parent: one of its sub-jobs taken, in the same transaction, so a
    #: reader never sees a sub-job's effects beside an INIT parent)
    RUNNING = "RUNNING"
    #: every step finished; terminal
    SUCCESS = "SUCCESS"
    #: a step failed and what was done is undone; terminal
    FAIL = "FAIL"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAIL)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to record: a parent that groups ``children``, each of which runs one workflow."""

    id: str
    project_id: str
    job_type: str
    entities: dict[str, Any]
    children: tuple[NewJob, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)
    #: a sub-job recorded not runnable: it waits (INIT) until a sibling ends, which releases
    #: the first held sibling in the transaction that ends it (a bound on how many run at once)
    held: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    project_id: str
    parent_id: str | None
    job_type: str
    status: JobStatus
    entities: dict[str, Any]
    payload: dict[str, Any]
    progress: dict[str, Any]
    steps_done: int
    compensating: bool
    error_code: str | None
    fail_reason: str | None
    begin_time: float
    end_time: float | None
    attempts: int


class LeftWork(StrEnum):
    """What a maintenance task does again: a step's work, or a step's undo."""

    #: a clean-up step past the commit point that could not be done in its job
    RUN = "run"
    #: an undo that could not be done while its job failed
    COMPENSATE = "compensate"


@dataclass(frozen=True, slots=True)
class NewMaintenance:
    """What a job leaves behind: ``step`` of ``job`` (as it stood) to ``work`` again later."""

    id: str
    job: Job
    step: str
    work: LeftWork
    error: str


@dataclass(frozen=True, slots=True)
class MaintenanceTask:
    """A durable piece of clean-up, tried with backoff until it is done; it never blocks
    the server: the job that left it has ended."""

    id: str
    job: Job
    step: str
    work: LeftWork
    attempts: int
    last_error: str
    created_at: float
    next_attempt_at: float
    done_at: float | None

    @property
    def pending(self) -> bool:
        return self.done_at is None
