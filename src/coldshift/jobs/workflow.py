"""Workflows: ordered steps, each with a compensating action, and a commit point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from coldshift.jobs.model import Job

INTERRUPTED_CODE = "Common.0999"


class StepFailed(Exception):
    """A step could not do its work; the job undoes what was done and FAILs with ``code``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


#: a write a step leaves to the runner: run inside the transaction that records the step
Effect = Callable[[], object]


@dataclass
class StepContext:
    """What a step sees: the job, and a progress dict persisted after every step."""

    job: Job
    progress: dict[str, Any] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)

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
    """``commit_point``: a job interrupted (crash) before that many steps are done is undone
    on recovery; after it, it is finished. ``None`` means always finish."""

    job_type: str
    steps: tuple[Step, ...]
    commit_point: int | None = None

    def must_undo_after_interruption(self, steps_done: int) -> bool:
        return self.commit_point is not None and steps_done < self.commit_point

    def is_committed(self, step_index: int) -> bool:
        """Whether the step at ``step_index`` runs past the commit point (never undone)."""
        return self.commit_point is not None and step_index >= self.commit_point


class WorkflowRegistry:
    """job_type → Workflow."""

    def __init__(self) -> None:
        self._workflows: dict[str, Workflow] = {}

    def register(self, workflow: Workflow) -> None:
        if workflow.job_type in self._workflows:
            raise ValueError(f"workflow {workflow.job_type!r} registered twice")
        self._workflows[workflow.job_type] = workflow

    def get(self, job_type: str) -> Workflow | None:
        return self._workflows.get(job_type)
