"""Workflows: ordered steps, each with a compensating action, a commit point named by step,
and the clean-up steps past it that may be left to maintenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from coldshift.jobs.model import Job


@dataclass(frozen=True, slots=True)
class FailureCodes:
    """The codes the engine itself gives a job: the engine is generic, so the application
    that registers the workflows says which codes its clients know."""

    #: a step raised something other than StepFailed (a bug)
    internal: str
    #: the job was interrupted (a crash) before its commit point and has been undone
    interrupted: str
    #: no workflow is registered for the job's type
    unknown_type: str


class StepFailed(Exception):
    """A step could not do its work; the job undoes what was done and FAILs with ``code``.

    ``transient``: the cause may go away by itself (a host that does not answer): the
    engine tries the step again, as its RetryPolicy says, before giving up."""

    def __init__(self, code: str, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = transient


#: a write a step leaves to the runner: run inside the transaction that records the step
Effect = Callable[[], object]


@dataclass
class StepContext:
    """What a step sees: the job, and a progress dict persisted after every step."""

    job: Job
    progress: dict[str, Any] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)
    #: the step runs as a maintenance task, after its job has ended: the world may have
    #: moved on since (the server migrated again, or was deleted)
    maintenance: bool = False
    #: persists ``progress`` in the middle of a step, for those who watch the job (set by
    #: the runner; a step calls ``save_progress``)
    saver: Callable[[dict[str, Any]], None] | None = None

    def save_progress(self) -> None:
        """Persist ``progress`` now, before the step ends (a long copy tells how far it got)."""
        if self.saver is not None:
            self.saver(dict(self.progress))

    def defer(self, effect: Effect) -> None:
        """Commit ``effect`` (a store write) in the same transaction as this step's record,
        once ``run`` has returned: one commit instead of two, and the state change and the
        progress that says it was made can no longer be torn apart by a crash. Only for a
        step's last write: nothing in the step may depend on it being committed already."""
        self.effects.append(effect)

    def take_effects(self) -> list[Effect]:
        taken, self.effects = self.effects, []
        return taken


class Step(Protocol):
    """One unit of a workflow.

    ``run`` must be idempotent: after a crash it may run again although its effects were
    committed. ``compensate`` must be idempotent and a no-op when ``run`` did nothing.
    """

    name: str

    def run(self, ctx: StepContext) -> None: ...

    def compensate(self, ctx: StepContext) -> None: ...


@dataclass(frozen=True)
class Workflow:
    """The steps of one job type, in order.

    ``commit_point`` names the first step that is never undone: a job interrupted (a crash)
    before it is undone on recovery, one that reached it is finished. ``None`` means always
    finish. Past the commit point a job can only end SUCCESS; the steps named in
    ``cleanups`` (each past the commit point) may fail there: what they could not do becomes
    a maintenance task, tried again later, and the job goes on. Any other step past the
    commit point only writes to the store, and a failure of the store is treated as a crash:
    the job is taken again once its lease has expired.

    The steps named in ``unrecorded`` write nothing to the store and are cheap to run again:
    they get no record of their own (a transaction saved); the next step's record covers them,
    and a crash in between only has them run again.
    """

    job_type: str
    steps: tuple[Step, ...]
    commit_point: str | None = None
    cleanups: frozenset[str] = frozenset()
    unrecorded: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"workflow {self.job_type}: step names repeat: {names}")
        if self.commit_point is not None and self.commit_point not in names:
            raise ValueError(f"workflow {self.job_type}: no step {self.commit_point!r}")
        late = names[self._commit_index() :] if self.commit_point is not None else []
        if not self.unrecorded <= set(names):
            raise ValueError(f"workflow {self.job_type}: no step {sorted(self.unrecorded)}")
        if not self.cleanups <= set(late):
            raise ValueError(
                f"workflow {self.job_type}: clean-ups {sorted(self.cleanups - set(late))} "
                "are not past the commit point"
            )

    def _commit_index(self) -> int:
        if self.commit_point is None:
            return len(self.steps)
        return [s.name for s in self.steps].index(self.commit_point)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def must_undo_after_interruption(self, steps_done: int) -> bool:
        return self.commit_point is not None and steps_done < self._commit_index()

    def is_committed(self, step_index: int) -> bool:
        """Whether the step at ``step_index`` runs past the commit point (never undone)."""
        return self.commit_point is not None and step_index >= self._commit_index()

    def may_leave_to_maintenance(self, step_index: int) -> bool:
        return self.steps[step_index].name in self.cleanups

    def needs_record(self, step_index: int) -> bool:
        """Whether the step at ``step_index`` is recorded when done (the last one always is:
        by the end of the job)."""
        last = step_index == len(self.steps) - 1
        return last or self.steps[step_index].name not in self.unrecorded


class WorkflowRegistry:
    """job_type → Workflow, and the codes the engine gives the jobs it fails itself."""

    def __init__(self, codes: FailureCodes) -> None:
        self.codes = codes
        self._workflows: dict[str, Workflow] = {}

    def register(self, workflow: Workflow) -> None:
        if workflow.job_type in self._workflows:
            raise ValueError(f"workflow {workflow.job_type!r} registered twice")
        self._workflows[workflow.job_type] = workflow

    def get(self, job_type: str) -> Workflow | None:
        return self._workflows.get(job_type)
