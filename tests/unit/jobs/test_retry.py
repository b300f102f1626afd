"""The retry policy: transient faults tried again, clean-ups past the commit point and failed
undos left to maintenance tasks that are tried with backoff until they are done."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from coldshift.jobs import Job, JobStatus, NewJob, StepContext, StepFailed, Workflow
from coldshift.jobs.maintenance import MaintenanceRunner
from coldshift.jobs.model import LeftWork
from coldshift.jobs.retry import RetryPolicy
from coldshift.jobs.runner import JobRunner
from coldshift.jobs.workflow import FailureCodes, WorkflowRegistry
from coldshift.testing import FrozenClock, InMemoryJobStore

LEASE = 10.0
CODES = FailureCodes(internal="Ecs.1000", interrupted="Common.0999", unknown_type="Common.0020")
POLICY = RetryPolicy(max_attempts=3, first_delay=0.5, factor=2.0, max_delay=4.0)
HOST_DOWN = StepFailed("Ecs.1000", "host-b does not answer", transient=True)
NO_ROOM = StepFailed("Ecs.0319", "no room")


@dataclass
class FlakyStep:
    """Fails its run (or its compensate) the next ``failures`` times, then works."""

    name: str
    calls: list[str]
    failures: int = 0
    undo_failures: int = 0
    fault: StepFailed = HOST_DOWN
    seen: list[StepContext] = field(default_factory=list)

    def run(self, ctx: StepContext) -> None:
        self.calls.append(f"run {self.name}")
        self.seen.append(ctx)
        ctx.progress[self.name] = "done"
        if self.failures > 0:
            self.failures -= 1
            raise self.fault

    def compensate(self, ctx: StepContext) -> None:
        self.calls.append(f"undo {self.name}")
        self.seen.append(ctx)
        if self.undo_failures > 0:
            self.undo_failures -= 1
            raise self.fault


@dataclass
class Harness:
    clock: FrozenClock = field(default_factory=FrozenClock)
    calls: list[str] = field(default_factory=list)
    naps: list[float] = field(default_factory=list)
    registry: WorkflowRegistry = field(default_factory=lambda: WorkflowRegistry(CODES))
    store: InMemoryJobStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = InMemoryJobStore(self.clock)

    def workflow(
        self, *names: str, commit_point: str | None = None, cleanups: frozenset[str] = frozenset()
    ) -> dict[str, FlakyStep]:
        steps = {name: FlakyStep(name, self.calls) for name in names}
        self.registry.register(Workflow("demo", tuple(steps.values()), commit_point, cleanups))
        return steps

    def run_job(self) -> Job:
        self.store.add(NewJob("job-1", "p" * 32, "demo", {"server_id": "s-1"}))
        job = self.store.claim_next("w1", LEASE)
        assert job is not None
        runner = JobRunner(self.store, self.registry, "w1", LEASE, retry=POLICY, sleep=self.nap)
        runner.run(job)
        return self.store.jobs["job-1"]

    def nap(self, seconds: float) -> None:
        self.naps.append(seconds)

    def maintenance(self) -> MaintenanceRunner:
        return MaintenanceRunner(self.store, self.registry, "w1", LEASE, self.clock, POLICY)


# ---- the policy --------------------------------------------------------------------------------


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    assert [POLICY.delay(n) for n in range(0, 7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert POLICY.delay(10_000) == 4.0  # no overflow after days of failures


def test_a_step_is_given_up_after_max_attempts_failures() -> None:
    assert [POLICY.gives_up_after(n) for n in (1, 2, 3)] == [False, False, True]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"first_delay": -1.0}, {"factor": 0.5}, {"max_delay": 0.1}],
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# ---- before the commit point ---------------------------------------------------------------


def test_a_transient_fault_is_tried_again_with_backoff_and_the_job_succeeds() -> None:
    h = Harness()
    steps = h.workflow("claim", "copy", "switch", commit_point="switch")
    steps["copy"].failures = 2

    job = h.run_job()

    assert job.status is JobStatus.SUCCESS
    assert h.calls == ["run claim", "run copy", "run copy", "run copy", "run switch"]
    assert h.naps == [0.5, 1.0]
    assert h.store.list_maintenance() == []


def test_a_transient_fault_that_outlasts_the_tries_undoes_the_job() -> None:
    h = Harness()
    steps = h.workflow("claim", "copy", "switch", commit_point="switch")
    steps["copy"].failures = 3

    job = h.run_job()

    assert (job.status, job.error_code) == (JobStatus.FAIL, "Ecs.1000")
    assert job.fail_reason == "host-b does not answer"
    assert h.calls == ["run claim", *["run copy"] * 3, "undo copy", "undo claim"]
    assert h.naps == [0.5, 1.0]
    assert h.store.list_maintenance() == []


def test_a_lasting_fault_is_not_tried_again() -> None:
    h = Harness()
    steps = h.workflow("claim", "copy", commit_point="copy")
    steps["claim"].failures, steps["claim"].fault = 1, NO_ROOM

    job = h.run_job()

    assert (job.status, job.error_code) == (JobStatus.FAIL, "Ecs.0319")
    assert h.calls == ["run claim", "undo claim"]
    assert h.naps == []


# ---- past the commit point: clean-ups left to maintenance ----------------------------------


def test_a_clean_up_that_keeps_failing_past_the_commit_point_becomes_maintenance() -> None:
    h = Harness()
    steps = h.workflow(
        "claim", "switch", "delete_source", "release", commit_point="switch",
        cleanups=frozenset({"delete_source"}),
    )  # fmt: skip
    steps["delete_source"].failures = 5

    job = h.run_job()

    # The job ends SUCCESS: the server is on its target; only the leftovers remain.
    assert (job.status, job.error_code, job.steps_done) == (JobStatus.SUCCESS, None, 4)
    assert h.calls == ["run claim", "run switch", *["run delete_source"] * 3, "run release"]
    (task,) = h.store.list_maintenance()
    assert (task.step, task.work, task.attempts) == ("delete_source", LeftWork.RUN, 0)
    assert task.last_error == "Ecs.1000: host-b does not answer"
    assert task.job.id == "job-1"
    assert task.job.progress["claim"] == "done"  # the job as it stood, for the step's rerun


def test_a_maintenance_task_is_tried_with_backoff_until_it_is_done() -> None:
    h = Harness()
    steps = h.workflow(
        "claim", "switch", "delete_source", "release", commit_point="switch",
        cleanups=frozenset({"delete_source"}),
    )  # fmt: skip
    steps["delete_source"].failures = 5  # 3 tries in the job, 2 more as maintenance
    h.run_job()
    maintenance = h.maintenance()
    created = h.clock.now

    assert maintenance.run_due() is not None  # try 1 fails: the next is 0.5 s later
    (task,) = h.store.list_maintenance()
    assert (task.attempts, task.next_attempt_at) == (1, created + 0.5)
    assert maintenance.run_due() is None  # not due yet
    h.clock.advance(0.5)
    assert maintenance.run_due() is not None  # try 2 fails: 1 s later
    (task,) = h.store.list_maintenance()
    assert (task.attempts, task.next_attempt_at) == (2, created + 1.5)
    h.clock.advance(1.0)
    assert maintenance.run_due() is not None  # try 3 works

    assert h.store.list_maintenance() == []
    (done,) = h.store.list_maintenance(pending_only=False)
    assert (done.attempts, done.done_at) == (3, h.clock.now)
    last = steps["delete_source"].seen[-1]
    assert last.maintenance and last.job.id == "job-1"
    assert maintenance.run_due() is None


def test_a_store_step_past_the_commit_point_is_not_left_to_maintenance() -> None:
    h = Harness()
    steps = h.workflow("claim", "switch", "release", commit_point="switch")
    steps["release"].failures = 1

    with pytest.raises(StepFailed):
        h.run_job()

    assert h.store.jobs["job-1"].status is JobStatus.RUNNING  # taken again after the lease
    assert h.store.list_maintenance() == []


# ---- undo ----------------------------------------------------------------------------------


def test_a_failing_undo_becomes_maintenance_and_the_undo_goes_on() -> None:
    h = Harness()
    steps = h.workflow("claim", "copy", "define", "switch", commit_point="switch")
    steps["define"].failures, steps["define"].fault = 1, NO_ROOM
    steps["copy"].undo_failures = 3

    job = h.run_job()

    assert (job.status, job.error_code) == (JobStatus.FAIL, "Ecs.0319")
    assert h.calls == [
        "run claim", "run copy", "run define",
        "undo define", *["undo copy"] * 3, "undo claim",
    ]  # fmt: skip
    (task,) = h.store.list_maintenance()
    assert (task.step, task.work) == ("copy", LeftWork.COMPENSATE)

    h.clock.advance(1.0)
    assert h.maintenance().run_due() is not None
    assert h.calls[-1] == "undo copy"
    assert h.store.list_maintenance() == []


def test_a_task_whose_workflow_is_gone_is_kept_and_pushed_back() -> None:
    h = Harness()
    steps = h.workflow(
        "claim", "switch", "delete_source", commit_point="switch",
        cleanups=frozenset({"delete_source"}),
    )  # fmt: skip
    steps["delete_source"].failures = 3
    h.run_job()
    other = Harness(clock=h.clock)  # a process that does not know the job type
    other.store = h.store

    assert other.maintenance().run_due() is not None

    (task,) = h.store.list_maintenance()
    assert "no step 'delete_source' in workflow demo" in task.last_error
    assert task.next_attempt_at > h.clock.now


# ---- the workflow's declaration ------------------------------------------------------------


def test_a_commit_point_must_name_a_step() -> None:
    with pytest.raises(ValueError, match="no step 'nope'"):
        Workflow("demo", (FlakyStep("a", []),), commit_point="nope")


def test_a_clean_up_must_come_past_the_commit_point() -> None:
    steps = (FlakyStep("a", []), FlakyStep("b", []))
    with pytest.raises(ValueError, match="not past the commit point"):
        Workflow("demo", steps, commit_point="b", cleanups=frozenset({"a"}))


# ---- steps without a record of their own ---------------------------------------------------


class Crash(BaseException):
    """The process dies (no handler of the engine sees it)."""


def test_an_unrecorded_step_is_covered_by_the_next_record_and_rerun_after_a_crash() -> None:
    h = Harness()
    steps = {name: FlakyStep(name, h.calls) for name in ("a", "b", "c", "d")}
    workflow = Workflow("demo", tuple(steps.values()), unrecorded=frozenset({"b"}))
    h.registry.register(workflow)
    recorded: list[int] = []
    record_step = h.store.record_step

    def spy(job_id: str, owner: str, steps_done: int, *args: object, **kwargs: object) -> None:
        recorded.append(steps_done)
        if steps_done == 3:
            raise Crash  # dies while recording c: b and c are done, neither is recorded
        record_step(job_id, owner, steps_done, *args, **kwargs)  # type: ignore[arg-type]

    h.store.record_step = spy  # type: ignore[method-assign]
    with pytest.raises(Crash):
        h.run_job()
    assert recorded == [1, 3]  # a, then c's record (which would have covered b)
    assert h.store.jobs["job-1"].steps_done == 1

    h.store.record_step = record_step  # type: ignore[method-assign]
    h.clock.advance(LEASE + 1)
    job = h.store.claim_next("w2", LEASE)
    assert job is not None
    JobRunner(h.store, h.registry, "w2", LEASE, retry=POLICY, sleep=h.nap).run(job)

    assert h.store.jobs["job-1"].status is JobStatus.SUCCESS
    assert h.calls == ["run a", "run b", "run c", "run b", "run c", "run d"]


def test_unrecorded_steps_must_be_steps() -> None:
    with pytest.raises(ValueError, match="no step"):
        Workflow("demo", (FlakyStep("a", []),), unrecorded=frozenset({"z"}))
