"""Maintenance: the clean-up that jobs could not finish, tried again with backoff.

A task names a step of a workflow and whether its ``run`` or its ``compensate`` is to be done
again, with the job's progress as it stood. Steps are idempotent, so a task may be tried any
number of times; each failed try pushes the next one back as the RetryPolicy says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from coldshift.jobs.model import LeftWork, MaintenanceTask
from coldshift.jobs.ports import MaintenanceStore
from coldshift.jobs.retry import DEFAULT_RETRY, RetryPolicy
from coldshift.jobs.runner import call_step
from coldshift.jobs.workflow import StepContext, WorkflowRegistry

log = logging.getLogger(__name__)


class MaintenanceRunner:
    def __init__(
        self,
        store: MaintenanceStore,
        registry: WorkflowRegistry,
        owner: str,
        lease_seconds: float,
        clock: Callable[[], float],
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._store = store
        self._registry = registry
        self._owner = owner
        self._lease = lease_seconds
        self._clock = clock
        self._retry = retry

    def run_due(self, skip: Collection[str] = ()) -> str | None:
        """Try the task due first (none of ``skip``), if any; its id."""
        task = self._store.claim_due_maintenance(self._owner, self._lease, skip)
        if task is None:
            return None
        self._try(task)
        return task.id

    def _try(self, task: MaintenanceTask) -> None:
        workflow = self._registry.get(task.job.job_type)
        step = workflow.step(task.step) if workflow is not None else None
        if step is None:
            self._failed(task, f"no step {task.step!r} in workflow {task.job.job_type}")
            return
        ctx = StepContext(job=task.job, progress=dict(task.job.progress), maintenance=True)
        call = step.run if task.work is LeftWork.RUN else step.compensate
        failure = call_step(call, ctx, self._registry.codes.internal)
        if failure is None:
            self._store.maintenance_done(task.id, self._owner, ctx.take_effects())
            log.info("maintenance %s (%s of %s) done", task.id, task.work.value, task.step)
        else:
            self._failed(task, f"{failure.code}: {failure.reason}")

    def _failed(self, task: MaintenanceTask, error: str) -> None:
        next_at = self._clock() + self._retry.delay(task.attempts)
        self._store.maintenance_failed(task.id, self._owner, error, next_at)
