"""Run one claimed job to its end: forward, or backward through the compensations."""

from __future__ import annotations

import logging

from coldshift.jobs.model import Job
from coldshift.jobs.ports import JobStore
from coldshift.jobs.workflow import (
    INTERRUPTED_CODE,
    StepContext,
    StepFailed,
    Workflow,
    WorkflowRegistry,
)

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(
        self, store: JobStore, registry: WorkflowRegistry, owner: str, lease_seconds: float
    ) -> None:
        self._store = store
        self._registry = registry
        self._owner = owner
        self._lease = lease_seconds

    def run(self, job: Job) -> None:
        """Raises LeaseLost if another worker took the job over meanwhile."""
        workflow = self._registry.get(job.job_type)
        if workflow is None:
            self._fail(job, "Common.0020", f"no workflow registered for job type {job.job_type}")
            return
        ctx = StepContext(job=job, progress=dict(job.progress))
        if job.compensating:
            self._undo(workflow, ctx, job.steps_done, ctx.progress.get("_failure"))
        elif job.attempts > 1 and workflow.must_undo_after_interruption(job.steps_done):
            failure = (INTERRUPTED_CODE, "the job was interrupted before its commit point; undone")
            self._undo(workflow, ctx, job.steps_done, list(failure))
        else:
            self._forward(workflow, ctx)

    def _forward(self, workflow: Workflow, ctx: StepContext) -> None:
        for index in range(ctx.job.steps_done, len(workflow.steps)):
            try:
                workflow.steps[index].run(ctx)
            except StepFailed as failed:
                self._undo(workflow, ctx, index, [failed.code, failed.reason])
                return
            except Exception as exc:  # a bug in a step must not wedge the job
                log.exception("step %s of job %s crashed", workflow.steps[index].name, ctx.job.id)
                self._undo(workflow, ctx, index, ["Ecs.1000", f"internal error: {exc}"])
                return
            self._store.record_step(
                ctx.job.id, self._owner, index + 1, ctx.progress, False, self._lease
            )
        self._store.finish(ctx.job.id, self._owner, True, None, None)

    def _undo(
        self, workflow: Workflow, ctx: StepContext, from_index: int, failure: list[str] | None
    ) -> None:
        """Compensate steps ``from_index`` down to 0. The step at ``from_index`` may have
        done part of its work, so it is compensated too (compensations are idempotent)."""
        code, reason = (failure or [INTERRUPTED_CODE, "undone"])[:2]
        ctx.progress["_failure"] = [code, reason]
        last = min(from_index, len(workflow.steps) - 1)
        self._store.record_step(ctx.job.id, self._owner, last, ctx.progress, True, self._lease)
        for index in range(last, -1, -1):
            workflow.steps[index].compensate(ctx)
            self._store.record_step(ctx.job.id, self._owner, index, ctx.progress, True, self._lease)
        self._store.finish(ctx.job.id, self._owner, False, code, reason)

    def _fail(self, job: Job, code: str, reason: str) -> None:
        self._store.finish(job.id, self._owner, False, code, reason)
