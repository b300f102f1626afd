"""Run one claimed job to its end: forward, or backward through the compensations.

The policy for a step that fails:

- a transient fault is tried again, as the RetryPolicy says, before it counts as a failure;
- before the commit point, a failure undoes what was done and the job FAILs;
- past the commit point, a clean-up step's failure becomes a maintenance task and the job
  goes on to SUCCESS (the work is done; only its leftovers remain);
- an undo that fails becomes a maintenance task too, and the undo goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from coldshift.jobs.model import Job, LeftWork, NewMaintenance
from coldshift.jobs.ports import NO_JOB_OBSERVER, JobObserver, JobStore, LeaseLost
from coldshift.jobs.retry import DEFAULT_RETRY, RetryPolicy
from coldshift.jobs.workflow import (
    Step,
    StepContext,
    StepFailed,
    Workflow,
    WorkflowRegistry,
)

log = logging.getLogger(__name__)

#: progress marker of a job handed back at a step boundary (graceful stop), not interrupted
HANDED_BACK = "_handed_back"
#: progress key of the failure an undo ends with: [code, reason]
FAILURE = "_failure"


class HandedBack(Exception):
    """The runner gave the job back at a step boundary because its worker is stopping."""


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    reason: str
    transient: bool = False


class JobRunner:
    """``should_yield`` is asked at every step boundary: when it answers True the job is
    handed back there (progress kept, lease freed) for another worker to continue.
    ``sleep`` waits between the tries of a transient fault."""

    def __init__(
        self,
        store: JobStore,
        registry: WorkflowRegistry,
        owner: str,
        lease_seconds: float,
        should_yield: Callable[[], bool] = lambda: False,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], object] = time.sleep,
        observer: JobObserver = NO_JOB_OBSERVER,
    ) -> None:
        self._store = store
        self._observer = observer
        self._registry = registry
        self._owner = owner
        self._lease = lease_seconds
        self._should_yield = should_yield
        self._retry = retry
        self._sleep = sleep

    def run(self, job: Job) -> None:
        """Raises LeaseLost if another worker took the job over meanwhile, HandedBack if
        this worker gave it back at a step boundary."""
        codes = self._registry.codes
        workflow = self._registry.get(job.job_type)
        if workflow is None:
            reason = f"no workflow registered for job type {job.job_type}"
            self._store.finish(job.id, self._owner, False, codes.unknown_type, reason)
            self._observer.job_ended(job, False)
            return
        ctx = StepContext(job=job, progress=dict(job.progress))
        ctx.saver = lambda progress: self._store.save_progress(job.id, self._owner, progress)
        # A job handed back stopped between two committed steps: nothing was cut short, so
        # it goes on where it stopped instead of being undone like an interrupted one.
        handed_back = bool(ctx.progress.pop(HANDED_BACK, False))
        if job.compensating:
            code, reason = ctx.progress.get(FAILURE) or [codes.interrupted, "undone"]
            self._undo(workflow, ctx, job.steps_done, Failure(code, reason))
        elif (
            job.attempts > 1
            and not handed_back
            and workflow.must_undo_after_interruption(job.steps_done)
        ):
            reason = "the job was interrupted before its commit point; undone"
            self._undo(workflow, ctx, job.steps_done, Failure(codes.interrupted, reason))
        else:
            self._forward(workflow, ctx)

    def attempt(self, call: Callable[[StepContext], None], ctx: StepContext) -> Failure | None:
        """Call ``call`` (a step's run or compensate) until it succeeds, fails for good or
        has used up the retry policy's tries; the last failure, or None."""
        failures = 0
        while True:
            failure = self._call(call, ctx)
            if failure is None:
                return None
            ctx.take_effects()  # what a failed try deferred is never written
            failures += 1
            if not failure.transient or self._retry.gives_up_after(failures):
                return failure
            log.warning("job %s: %s (try %d); trying again", ctx.job.id, failure.reason, failures)
            self._sleep(self._retry.delay(failures))

    def _call(self, call: Callable[[StepContext], None], ctx: StepContext) -> Failure | None:
        return call_step(call, ctx, self._registry.codes.internal)

    def _yield_if_stopping(self, ctx: StepContext) -> None:
        if self._should_yield():
            self._store.hand_back(ctx.job.id, self._owner, {**ctx.progress, HANDED_BACK: True})
            raise HandedBack(ctx.job.id)

    def _forward(self, workflow: Workflow, ctx: StepContext) -> None:
        last = len(workflow.steps) - 1
        for index in range(ctx.job.steps_done, len(workflow.steps)):
            self._yield_if_stopping(ctx)
            step = workflow.steps[index]
            if workflow.is_committed(index) and not workflow.may_leave_to_maintenance(index):
                # A store write past the commit point: its failure is the store's, handled
                # as a crash (the job is taken again once its lease has expired).
                step.run(ctx)
            elif (failure := self._timed(step, ctx)) is not None:
                if not workflow.is_committed(index):
                    self._undo(workflow, ctx, index, failure)
                    return
                self._leave(ctx, step, LeftWork.RUN, failure, index + 1, compensating=False)
                continue
            if not workflow.needs_record(index) and not ctx.effects:
                continue  # the next step's record covers it
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
                self._observer.job_ended(ctx.job, True)
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
        self._observer.job_ended(ctx.job, True)

    def _timed(self, step: Step, ctx: StepContext) -> Failure | None:
        """``attempt`` of the step's run, told to the observer with its duration."""
        started = time.perf_counter()
        failure = self.attempt(step.run, ctx)
        elapsed = time.perf_counter() - started
        self._observer.step_ended(ctx.job.job_type, step.name, elapsed, failure is None)
        return failure

    def _undo(
        self, workflow: Workflow, ctx: StepContext, from_index: int, failure: Failure
    ) -> None:
        """Compensate steps ``from_index`` down to 0. The step at ``from_index`` may have
        done part of its work, so it is compensated too (compensations are idempotent)."""
        ctx.take_effects()  # what the failed step deferred is never written
        ctx.progress[FAILURE] = [failure.code, failure.reason]
        last = min(from_index, len(workflow.steps) - 1)
        self._store.record_step(ctx.job.id, self._owner, last, ctx.progress, True, self._lease)
        for index in range(last, -1, -1):
            self._yield_if_stopping(ctx)
            step = workflow.steps[index]
            undo_failure = self.attempt(step.compensate, ctx)
            if undo_failure is not None:
                self._leave(ctx, step, LeftWork.COMPENSATE, undo_failure, index, compensating=True)
                continue
            self._store.record_step(ctx.job.id, self._owner, index, ctx.progress, True, self._lease)
        self._store.finish(ctx.job.id, self._owner, False, failure.code, failure.reason)
        self._observer.job_ended(ctx.job, False)

    def _leave(
        self,
        ctx: StepContext,
        step: Step,
        work: LeftWork,
        failure: Failure,
        steps_done: int,
        *,
        compensating: bool,
    ) -> None:
        """Record what ``step`` could not do as a maintenance task, with the job's progress
        past it, in one transaction."""
        log.error(
            "job %s: %s of step %s left to maintenance: %s",
            ctx.job.id,
            work.value,
            step.name,
            failure.reason,
        )
        task = NewMaintenance(
            id=uuid.uuid4().hex,
            job=replace(ctx.job, progress=dict(ctx.progress)),
            step=step.name,
            work=work,
            error=f"{failure.code}: {failure.reason}",
        )
        self._store.leave_to_maintenance(
            task, self._owner, steps_done, dict(ctx.progress), compensating, self._lease
        )


def call_step(
    call: Callable[[StepContext], None], ctx: StepContext, internal_code: str
) -> Failure | None:
    """One try of a step's run or compensate; its failure, or None."""
    try:
        call(ctx)
    except StepFailed as exc:
        return Failure(exc.code, exc.reason, exc.transient)
    except LeaseLost:
        raise
    except Exception as exc:
        log.exception("job %s: a step crashed", ctx.job.id)  # a bug must not wedge it
        return Failure(internal_code, f"internal error: {exc}")
    return None
