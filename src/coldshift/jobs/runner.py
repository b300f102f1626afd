"""Run one claimed job to its end: forward, or backward through the compensations."""

from __future__ import annotations

import logging
from collections.abc import Callable

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

#: progress marker of a job handed back at a step boundary (graceful stop), not interrupted
HANDED_BACK = "_handed_back"


class HandedBack(Exception):
    """The runner gave the job back at a step boundary because its worker is stopping."""


class JobRunner:
    """``should_yield`` is asked at every step boundary: when it answers True the job is
    handed back there (progress kept, lease freed) for another worker to continue."""

    def __init__(
        self,
        store: JobStore,
        registry: WorkflowRegistry,
        owner: str,
        lease_seconds: float,
        should_yield: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self._registry = registry
        self._owner = owner
        self._lease = lease_seconds
        self._should_yield = should_yield

    def run(self, job: Job) -> None:
        """Raises LeaseLost if another worker took the job over meanwhile, HandedBack if
        this worker gave it back at a step boundary."""
        workflow = self._registry.get(job.job_type)
        if workflow is None:
            self._fail(job, "Common.0020", f"no workflow registered for job type {job.job_type}")
            return
        ctx = StepContext(job=job, progress=dict(job.progress))
        # A job handed back stopped between two committed steps: nothing was cut short, so
        # it goes on where it stopped instead of being undone like an interrupted one.
        handed_back = bool(ctx.progress.pop(HANDED_BACK, False))
        if job.compensating:
            self._undo(workflow, ctx, job.steps_done, ctx.progress.get("_failure"))
        elif (
            job.attempts > 1
            and not handed_back
            and workflow.must_undo_after_interruption(job.steps_done)
        ):
            failure = (INTERRUPTED_CODE, "the job was interrupted before its commit point; undone")
            self._undo(workflow, ctx, job.steps_done, list(failure))
        else:
            self._forward(workflow, ctx)

    def _yield_if_stopping(self, ctx: StepContext) -> None:
        if self._should_yield():
            self._store.hand_back(ctx.job.id, self._owner, {**ctx.progress, HANDED_BACK: True})
            raise HandedBack(ctx.job.id)

    def _forward(self, workflow: Workflow, ctx: StepContext) -> None:
        last = len(workflow.steps) - 1
        for index in range(ctx.job.steps_done, len(workflow.steps)):
            self._yield_if_stopping(ctx)
            step = workflow.steps[index]
            try:
                step.run(ctx)
            except Exception as exc:
                if workflow.is_committed(index):
                    # Past the commit point the job can only go forward: leave it to be
                    # taken again (by any worker) once its lease has expired.
                    log.exception(
                        "step %s of job %s failed past its commit point", step.name, ctx.job.id
                    )
                    raise
                self._undo(workflow, ctx, index, self._failure(step.name, ctx.job.id, exc))
                return
            if index == last:
                # The last step's record and the job's end are one transaction: a crash
                # between them would only have the (idempotent) last step run again.
                self._store.finish(
                    ctx.job.id,
                    self._owner,
                    True,
                    None,
                    None,
                    last_step=(index + 1, ctx.progress),
                    effects=ctx.take_effects(),
                )
                return
            self._store.record_step(
                ctx.job.id,
                self._owner,
                index + 1,
                ctx.progress,
                False,
                self._lease,
                ctx.take_effects(),
            )
        self._store.finish(ctx.job.id, self._owner, True, None, None)

    @staticmethod
    def _failure(step: str, job_id: str, exc: Exception) -> list[str]:
        if isinstance(exc, StepFailed):
            return [exc.code, exc.reason]
        log.exception("step %s of job %s crashed", step, job_id)  # a bug must not wedge it
        return ["Ecs.1000", f"internal error: {exc}"]

    def _undo(
        self, workflow: Workflow, ctx: StepContext, from_index: int, failure: list[str] | None
    ) -> None:
        """Compensate steps ``from_index`` down to 0. The step at ``from_index`` may have
        done part of its work, so it is compensated too (compensations are idempotent)."""
        code, reason = (failure or [INTERRUPTED_CODE, "undone"])[:2]
        ctx.take_effects()  # what the failed step deferred is never written
        ctx.progress["_failure"] = [code, reason]
        last = min(from_index, len(workflow.steps) - 1)
        self._store.record_step(ctx.job.id, self._owner, last, ctx.progress, True, self._lease)
        for index in range(last, -1, -1):
            self._yield_if_stopping(ctx)
            workflow.steps[index].compensate(ctx)
            self._store.record_step(ctx.job.id, self._owner, index, ctx.progress, True, self._lease)
        self._store.finish(ctx.job.id, self._owner, False, code, reason)

    def _fail(self, job: Job, code: str, reason: str) -> None:
        self._store.finish(job.id, self._owner, False, code, reason)
