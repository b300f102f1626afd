"""The durable job engine over the in-memory store: order, compensation, commit point, leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from coldshift.jobs import (
    Job,
    JobStatus,
    LeaseLost,
    NewJob,
    StepContext,
    StepFailed,
    Worker,
    Workflow,
    WorkflowRegistry,
)
from coldshift.jobs.runner import HANDED_BACK, HandedBack, JobRunner
from coldshift.jobs.workflow import FailureCodes
from coldshift.testing import FrozenClock, InMemoryJobStore

LEASE = 10.0
#: the codes coldshift gives the engine (services.workflows.ENGINE_CODES)
CODES = FailureCodes(internal="Ecs.1000", interrupted="Common.0999", unknown_type="Common.0020")
INTERRUPTED_CODE = CODES.interrupted
JOB_TYPE = "demo"
PROJECT = "p" * 32

Calls = list[tuple[str, str]]


@dataclass
class RecordingStep:
    """Records ``("run", name)``/``("compensate", name)``; optionally fails or observes."""

    name: str
    calls: Calls
    fail: BaseException | None = None
    on_run: Callable[[StepContext], None] | None = None

    def run(self, ctx: StepContext) -> None:
        self.calls.append(("run", self.name))
        ctx.progress[self.name] = "done"
        if self.on_run is not None:
            self.on_run(ctx)
        if self.fail is not None:
            raise self.fail

    def compensate(self, ctx: StepContext) -> None:
        self.calls.append(("compensate", self.name))


@dataclass
class Engine:
    clock: FrozenClock = field(default_factory=FrozenClock)
    calls: Calls = field(default_factory=list)
    registry: WorkflowRegistry = field(default_factory=lambda: WorkflowRegistry(CODES))
    store: InMemoryJobStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = InMemoryJobStore(self.clock)

    def register(
        self,
        count: int = 3,
        *,
        job_type: str = JOB_TYPE,
        commit_point: str | None = None,
        cleanups: frozenset[str] = frozenset(),
        fail_at: int | None = None,
        fail: BaseException | None = None,
        on_run: dict[int, Callable[[StepContext], None]] | None = None,
    ) -> list[RecordingStep]:
        steps = [
            RecordingStep(
                f"s{i}",
                self.calls,
                fail=fail if i == fail_at else None,
                on_run=(on_run or {}).get(i),
            )
            for i in range(count)
        ]
        self.registry.register(Workflow(job_type, tuple(steps), commit_point, cleanups))
        return steps

    def worker(self, owner: str = "w1", **kwargs: float) -> Worker:
        return Worker(
            self.store,
            self.registry,
            owner=owner,
            lease_seconds=LEASE,
            clock=self.clock,
            **kwargs,  # type: ignore[arg-type]
        )

    def runner(self, owner: str) -> JobRunner:
        return JobRunner(self.store, self.registry, owner, LEASE)

    def job(self, job_id: str) -> Job:
        return self.store.jobs[job_id]


def single(job_id: str = "job-1", job_type: str = JOB_TYPE) -> NewJob:
    return NewJob(job_id, PROJECT, job_type, {"server_id": job_id})


def parent(job_id: str, *children: str, job_type: str = JOB_TYPE) -> NewJob:
    return NewJob(
        job_id,
        PROJECT,
        "parent",
        {"server_id": job_id},
        children=tuple(single(c, job_type) for c in children),
    )


# --- forward ------------------------------------------------------------------------------------


def test_three_steps_run_in_order_and_job_succeeds() -> None:
    engine = Engine()
    engine.register(3)
    engine.store.add(single())

    engine.worker().run_until_idle()

    assert engine.calls == [("run", "s0"), ("run", "s1"), ("run", "s2")]
    job = engine.job("job-1")
    assert job.status is JobStatus.SUCCESS
    assert (job.error_code, job.fail_reason) == (None, None)
    assert job.steps_done == 3
    assert not job.compensating
    assert job.progress == {"s0": "done", "s1": "done", "s2": "done"}
    assert job.end_time == engine.clock.now
    assert job.attempts == 1


def test_status_is_init_until_a_worker_takes_the_job_then_running() -> None:
    engine = Engine()
    seen: list[tuple[str, JobStatus, JobStatus]] = []

    def observe(ctx: StepContext) -> None:
        me = engine.job(ctx.job.id)
        assert me.parent_id is not None
        seen.append((me.id, me.status, engine.job(me.parent_id).status))

    engine.register(3, on_run={0: observe, 1: observe, 2: observe})
    engine.store.add(parent("top", "child"))
    assert engine.job("top").status is JobStatus.INIT
    assert engine.job("child").status is JobStatus.INIT

    engine.worker().run_until_idle()

    # api.md §6.3: INIT→RUNNING as the work begins, so that no state shows a step's effect
    # (e.g. a claimed target) beside a job still INIT
    assert seen == [("child", JobStatus.RUNNING, JobStatus.RUNNING)] * 3
    assert engine.job("child").status is JobStatus.SUCCESS
    assert engine.job("top").status is JobStatus.SUCCESS


def test_parent_succeeds_only_after_all_children() -> None:
    engine = Engine()
    engine.register(2)
    engine.store.add(parent("top", "c1", "c2"))
    runner = engine.runner("w1")

    first = engine.store.claim_next("w1", LEASE)
    assert first is not None and first.id == "c1"
    runner.run(first)
    assert engine.job("c1").status is JobStatus.SUCCESS
    assert engine.job("top").status is JobStatus.RUNNING
    assert engine.job("top").end_time is None

    engine.clock.advance(5)
    second = engine.store.claim_next("w1", LEASE)
    assert second is not None and second.id == "c2"
    runner.run(second)

    top = engine.job("top")
    assert top.status is JobStatus.SUCCESS
    assert (top.error_code, top.fail_reason) == (None, None)
    assert top.end_time == engine.clock.now
    assert engine.store.claim_next("w1", LEASE) is None


def test_parent_itself_is_never_claimed() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(parent("top", "c1"))

    claimed = engine.store.claim_next("w1", LEASE)

    assert claimed is not None and claimed.id == "c1"
    assert engine.store.claim_next("w1", LEASE) is None


# --- failure and compensation -------------------------------------------------------------------


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_step_failed_compensates_done_and_failing_steps_in_reverse(fail_at: int) -> None:
    engine = Engine()
    engine.register(3, fail_at=fail_at, fail=StepFailed("Ecs.0319", "no room"))
    engine.store.add(single())

    engine.worker().run_until_idle()

    ran = [("run", f"s{i}") for i in range(fail_at + 1)]
    undone = [("compensate", f"s{i}") for i in range(fail_at, -1, -1)]
    assert engine.calls == ran + undone
    job = engine.job("job-1")
    assert job.status is JobStatus.FAIL
    assert (job.error_code, job.fail_reason) == ("Ecs.0319", "no room")
    assert job.steps_done == 0
    assert job.compensating
    assert job.end_time == engine.clock.now


def test_plain_exception_fails_with_internal_error_after_compensation() -> None:
    engine = Engine()
    engine.register(3, fail_at=1, fail=RuntimeError("boom"))
    engine.store.add(single())

    engine.worker().run_until_idle()

    assert engine.calls == [
        ("run", "s0"),
        ("run", "s1"),
        ("compensate", "s1"),
        ("compensate", "s0"),
    ]
    job = engine.job("job-1")
    assert job.status is JobStatus.FAIL
    assert job.error_code == "Ecs.1000"
    assert job.fail_reason is not None and "boom" in job.fail_reason


def test_parent_fails_with_the_first_failing_childs_code() -> None:
    engine = Engine()
    engine.register(1, job_type="ok")
    engine.register(1, job_type="bad-a", fail_at=0, fail=StepFailed("Ecs.0319", "a: no room"))
    engine.register(1, job_type="bad-b", fail_at=0, fail=StepFailed("Ecs.0005", "b: wrong"))
    engine.store.add(
        NewJob(
            "top",
            PROJECT,
            "parent",
            {},
            children=(single("c1", "ok"), single("c2", "bad-a"), single("c3", "bad-b")),
        )
    )

    engine.worker().run_until_idle()

    assert [engine.job(c).status for c in ("c1", "c2", "c3")] == [
        JobStatus.SUCCESS,
        JobStatus.FAIL,
        JobStatus.FAIL,
    ]
    top = engine.job("top")
    assert top.status is JobStatus.FAIL
    assert (top.error_code, top.fail_reason) == ("Ecs.0319", "a: no room")


def test_parent_fails_when_its_only_child_fails() -> None:
    engine = Engine()
    engine.register(2, fail_at=1, fail=StepFailed("Ecs.0100", "driver says no"))
    engine.store.add(parent("top", "child"))

    engine.worker().run_until_idle()

    top = engine.job("top")
    assert top.status is JobStatus.FAIL
    assert (top.error_code, top.fail_reason) == ("Ecs.0100", "driver says no")


def test_parent_is_not_init_once_a_child_has_ended() -> None:
    # The first child fails in its first step (no forward step is ever recorded), the second is
    # still waiting: the parent has begun (RUNNING), like the SQL store says.
    engine = Engine()
    engine.register(1, fail_at=0, fail=StepFailed("Ecs.0319", "no room"))
    engine.store.add(parent("top", "c1", "c2"))

    job = engine.store.claim_next("w1", LEASE)
    assert job is not None
    engine.runner("w1").run(job)

    assert engine.job("c1").status is JobStatus.FAIL
    assert engine.job("c2").status is JobStatus.INIT
    assert engine.job("top").status is JobStatus.RUNNING
    assert engine.job("top").end_time is None


def test_unknown_job_type_fails_with_common_0020() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(single(job_type="nobody-knows-me"))

    engine.worker().run_until_idle()

    job = engine.job("job-1")
    assert job.status is JobStatus.FAIL
    assert job.error_code == "Common.0020"
    assert job.fail_reason is not None and "nobody-knows-me" in job.fail_reason
    assert engine.calls == []


def test_registering_a_job_type_twice_is_refused() -> None:
    engine = Engine()
    engine.register(1)

    with pytest.raises(ValueError, match="registered twice"):
        engine.register(1)


# --- crash and takeover -------------------------------------------------------------------------


def crash_after(engine: Engine, steps_done: int, *, compensating: bool = False) -> None:
    """Owner A claims the job, records ``steps_done`` steps, then dies; its lease runs out."""
    job = engine.store.claim_next("A", LEASE)
    assert job is not None and job.attempts == 1
    progress: dict[str, object] = {f"s{i}": "done" for i in range(steps_done)}
    if compensating:
        progress["_failure"] = ["Ecs.0319", "no room"]
    engine.store.record_step(job.id, "A", steps_done, progress, compensating, LEASE)
    engine.clock.advance(LEASE + 1)


def take_over(engine: Engine) -> Job:
    job = engine.store.claim_next("B", LEASE)
    assert job is not None and job.attempts == 2
    engine.runner("B").run(job)
    return engine.job(job.id)


def test_job_is_not_taken_over_while_its_lease_runs() -> None:
    engine = Engine()
    engine.register(3)
    engine.store.add(single())
    assert engine.store.claim_next("A", LEASE) is not None

    engine.clock.advance(LEASE)

    assert engine.store.claim_next("B", LEASE) is None


def test_interrupted_before_commit_point_is_undone() -> None:
    engine = Engine()
    engine.register(3, commit_point="s2")
    engine.store.add(single())
    crash_after(engine, steps_done=1)

    job = take_over(engine)

    assert engine.calls == [("compensate", "s1"), ("compensate", "s0")]
    assert job.status is JobStatus.FAIL
    assert job.error_code == INTERRUPTED_CODE == "Common.0999"
    assert job.fail_reason is not None and "interrupted" in job.fail_reason


def test_interrupted_before_any_step_and_before_commit_point_is_undone() -> None:
    engine = Engine()
    engine.register(3, commit_point="s2")
    engine.store.add(single())
    assert engine.store.claim_next("A", LEASE) is not None
    engine.clock.advance(LEASE + 1)

    job = take_over(engine)

    assert engine.calls == [("compensate", "s0")]
    assert (job.status, job.error_code) == (JobStatus.FAIL, "Common.0999")


@pytest.mark.parametrize("steps_done", [2, 3])
def test_interrupted_at_or_after_commit_point_resumes_forward(steps_done: int) -> None:
    engine = Engine()
    engine.register(3, commit_point="s2")
    engine.store.add(single())
    crash_after(engine, steps_done=steps_done)

    job = take_over(engine)

    assert engine.calls == [("run", f"s{i}") for i in range(steps_done, 3)]
    assert job.status is JobStatus.SUCCESS
    assert job.steps_done == 3


@pytest.mark.parametrize("steps_done", [0, 1, 2])
def test_without_commit_point_an_interrupted_job_always_resumes_forward(steps_done: int) -> None:
    engine = Engine()
    engine.register(3, commit_point=None)
    engine.store.add(single())
    crash_after(engine, steps_done=steps_done)

    job = take_over(engine)

    assert engine.calls == [("run", f"s{i}") for i in range(steps_done, 3)]
    assert job.status is JobStatus.SUCCESS


def test_interrupted_while_compensating_finishes_the_undo_with_the_original_failure() -> None:
    engine = Engine()
    engine.register(3, commit_point=None)
    engine.store.add(single())
    crash_after(engine, steps_done=1, compensating=True)

    job = take_over(engine)

    assert engine.calls == [("compensate", "s1"), ("compensate", "s0")]
    assert job.status is JobStatus.FAIL
    assert (job.error_code, job.fail_reason) == ("Ecs.0319", "no room")


@pytest.mark.parametrize("fail", [StepFailed("Ecs.1000", "boom"), RuntimeError("bug")])
def test_a_store_step_past_the_commit_point_that_fails_is_never_undone(fail: Exception) -> None:
    """Past the commit point the job can only go forward: a step that is not a clean-up only
    writes to the store, so its error is the store's and handled as a crash: the job stays
    leased, and the next worker to take it (after the lease) finishes it."""
    engine = Engine()
    steps = engine.register(3, commit_point="s2", fail_at=2, fail=fail)
    engine.store.add(single())
    job = engine.store.claim_next("A", LEASE)
    assert job is not None

    with pytest.raises(type(fail)):
        engine.runner("A").run(job)

    assert ("compensate", "s1") not in engine.calls and ("compensate", "s0") not in engine.calls
    assert engine.job("job-1").status is JobStatus.RUNNING
    assert engine.job("job-1").steps_done == 2
    steps[2].fail = None
    engine.clock.advance(LEASE + 1)
    finished = take_over(engine)
    assert (finished.status, finished.steps_done) == (JobStatus.SUCCESS, 3)
    assert engine.calls[-1] == ("run", "s2")


def test_a_step_before_the_commit_point_that_fails_is_undone() -> None:
    engine = Engine()
    engine.register(3, commit_point="s2", fail_at=1, fail=StepFailed("Ecs.0319", "no room"))
    engine.store.add(single())
    engine.worker().run_until_idle()

    assert engine.calls[-2:] == [("compensate", "s1"), ("compensate", "s0")]
    assert engine.job("job-1").error_code == "Ecs.0319"


def test_takeover_through_a_worker_finishes_the_parent() -> None:
    engine = Engine()
    engine.register(3, commit_point="s2")
    engine.store.add(parent("top", "child"))
    crash_after(engine, steps_done=2)

    engine.worker("B").run_until_idle()

    assert engine.calls == [("run", "s2")]
    assert engine.job("child").attempts == 2
    assert engine.job("top").status is JobStatus.SUCCESS


# --- leases -------------------------------------------------------------------------------------


def test_old_owner_loses_the_job_after_takeover() -> None:
    engine = Engine()
    engine.register(3)
    engine.store.add(single())
    crash_after(engine, steps_done=1)
    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None

    with pytest.raises(LeaseLost):
        engine.store.record_step("job-1", "A", 2, {}, False, LEASE)
    with pytest.raises(LeaseLost):
        engine.store.finish("job-1", "A", True, None, None)

    job = engine.job("job-1")
    assert job.status is JobStatus.RUNNING
    assert job.steps_done == 1
    engine.store.record_step("job-1", "B", 2, {}, False, LEASE)
    engine.store.finish("job-1", "B", True, None, None)
    assert engine.job("job-1").status is JobStatus.SUCCESS


def test_finished_job_rejects_further_writes() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(single())
    engine.worker("A").run_until_idle()

    with pytest.raises(LeaseLost):
        engine.store.finish("job-1", "A", False, "X", "again")
    assert engine.job("job-1").status is JobStatus.SUCCESS


def test_worker_stops_quietly_when_its_job_is_taken_over_mid_step() -> None:
    engine = Engine()

    def lose_lease(ctx: StepContext) -> None:
        engine.clock.advance(LEASE + 1)
        assert engine.store.claim_next("B", LEASE) is not None

    engine.register(3, on_run={0: lose_lease})
    engine.store.add(single())

    engine.worker("A").run_until_idle()  # LeaseLost is swallowed by the worker

    assert engine.calls == [("run", "s0")]
    job = engine.job("job-1")
    assert (job.status, job.steps_done, job.attempts) == (JobStatus.RUNNING, 0, 2)

    engine.clock.advance(LEASE + 1)
    engine.worker("B").run_until_idle()

    assert engine.job("job-1").status is JobStatus.SUCCESS


def test_heartbeat_renews_only_the_owners_leases() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(single("j1"))
    engine.store.add(single("j2"))
    assert engine.store.claim_next("A", LEASE) is not None
    assert engine.store.claim_next("C", LEASE) is not None

    engine.clock.advance(LEASE - 1)
    engine.store.heartbeat("A", ["j1", "j2"], LEASE)
    engine.clock.advance(2)

    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None and taken.id == "j2"
    assert engine.store.claim_next("B", LEASE) is None


def test_release_hands_a_job_back_at_once() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(single())
    assert engine.store.claim_next("A", LEASE) is not None

    engine.store.release("someone-else", ["job-1"])
    assert engine.store.claim_next("B", LEASE) is None
    engine.store.release("A", ["job-1"])

    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None and taken.attempts == 2


# --- retention ----------------------------------------------------------------------------------


def test_purge_finished_removes_old_terminal_parents_with_their_children() -> None:
    engine = Engine()
    engine.register(1)
    engine.register(1, job_type="blocked")
    worker = engine.worker()

    engine.store.add(parent("old", "old-c1", "old-c2"))
    engine.store.add(single("old-single"))
    worker.run_until_idle()
    cut_off = engine.clock.now + 50
    engine.clock.advance(100)
    engine.store.add(parent("new", "new-c1"))
    worker.run_until_idle()
    engine.store.add(parent("open", "open-c1", job_type="blocked"))
    claimed = engine.store.claim_next("w1", LEASE)
    assert claimed is not None and claimed.id == "open-c1"
    engine.clock.advance(100_000)

    purged = engine.store.purge_finished(cut_off)

    assert purged == 2
    assert set(engine.store.jobs) == {"new", "new-c1", "open", "open-c1"}
    assert engine.store.children("new") == [engine.job("new-c1")]
    assert engine.store.purge_finished(cut_off) == 0
    # the store still works: the open job can finish and be purged later
    engine.store.finish("open-c1", "w1", True, None, None)
    assert engine.job("open").status is JobStatus.SUCCESS
    assert engine.store.purge_finished(engine.clock.now + 1) == 2
    assert engine.store.jobs == {}


def test_purge_keeps_jobs_that_ended_exactly_at_the_cut_off() -> None:
    engine = Engine()
    engine.register(1)
    engine.store.add(single())
    engine.worker().run_until_idle()
    ended = engine.job("job-1").end_time
    assert ended is not None

    assert engine.store.purge_finished(ended) == 0
    assert engine.store.purge_finished(ended + 0.001) == 1


# --- threads ------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (a safety net only)."""
    deadline = time.monotonic() + timeout
    idle = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        idle.wait(0.005)


def test_worker_threads_run_a_notified_job_and_stop() -> None:
    engine = Engine()
    engine.register(3)
    # A poll far longer than the deadline: only notify() can make the job run in time.
    worker = engine.worker("threaded", concurrency=2, poll_seconds=3600.0)
    before = set(threading.enumerate())
    worker.start()
    started = [t for t in threading.enumerate() if t not in before]
    assert len(started) == 3  # two workers and the heartbeat

    try:
        engine.store.add(parent("top", "c1", "c2"))
        worker.notify(2)
        wait_for(lambda: engine.job("top").status.terminal)
    finally:
        worker.stop(timeout=10.0)

    assert engine.job("top").status is JobStatus.SUCCESS
    assert sorted(engine.calls) == sorted([("run", f"s{i}") for i in range(3)] * 2)
    assert not any(t.is_alive() for t in started)


def test_stop_without_any_job_returns() -> None:
    engine = Engine()
    engine.register(1)
    worker = engine.worker("idle", concurrency=3, poll_seconds=3600.0)
    before = set(threading.enumerate())
    worker.start()
    started = [t for t in threading.enumerate() if t not in before]

    worker.stop(timeout=10.0)

    assert not any(t.is_alive() for t in started)


# --- graceful stop: hand back at a step boundary --------------------------------------------


def hand_back_after_the_first_step(engine: Engine) -> None:
    """Worker A is asked to stop while step 0 runs: the step completes, then the job goes
    back (HandedBack)."""
    yielding = threading.Event()
    engine.register(3, commit_point="s2", on_run={0: lambda _: yielding.set()})
    engine.store.add(single())
    job = engine.store.claim_next("A", LEASE)
    assert job is not None
    with pytest.raises(HandedBack):
        JobRunner(engine.store, engine.registry, "A", LEASE, yielding.is_set).run(job)


def test_a_runner_asked_to_yield_hands_the_job_back_after_the_step_it_is_in() -> None:
    engine = Engine()
    hand_back_after_the_first_step(engine)

    assert engine.calls == [("run", "s0")]
    assert engine.job("job-1").steps_done == 1
    # the lease is free at once: another worker takes it without waiting for expiry
    assert engine.store.claim_next("B", LEASE) is not None


def test_a_handed_back_job_goes_on_forward_even_before_its_commit_point() -> None:
    """Unlike a crash, a hand-back cut no step short: the next worker continues it."""
    engine = Engine()
    hand_back_after_the_first_step(engine)
    engine.calls.clear()

    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None and taken.attempts == 2
    engine.runner("B").run(taken)

    assert engine.calls == [("run", "s1"), ("run", "s2")]
    assert engine.job("job-1").status is JobStatus.SUCCESS
    assert HANDED_BACK not in engine.job("job-1").progress


def test_a_job_handed_back_while_compensating_finishes_its_undo_elsewhere() -> None:
    engine = Engine()
    engine.register(3, commit_point=None, fail_at=2, fail=StepFailed("Ecs.0319", "no room"))
    engine.store.add(single())
    job = engine.store.claim_next("A", LEASE)
    assert job is not None
    asked = iter([False, False, False, False, True])  # yield after the undo has begun
    with pytest.raises(HandedBack):
        JobRunner(engine.store, engine.registry, "A", LEASE, lambda: next(asked, True)).run(job)
    assert engine.job(job.id).compensating

    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None
    engine.runner("B").run(taken)

    finished = engine.job(job.id)
    assert (finished.status, finished.error_code) == (JobStatus.FAIL, "Ecs.0319")
    assert engine.calls[-1] == ("compensate", "s0")


def stop_while_the_first_step_runs(engine: Engine, drain_seconds: float) -> threading.Thread:
    """A worker inside step 0 of job-1 is told to stop; the step then completes. Returns the
    thread that called stop(), joined."""
    in_step = threading.Event()
    may_finish = threading.Event()

    def block(_: StepContext) -> None:
        in_step.set()
        assert may_finish.wait(10.0)

    engine.register(3, commit_point="s2", on_run={0: block})
    worker = engine.worker("A", concurrency=1, poll_seconds=3600.0)
    worker.start()
    engine.store.add(single())
    worker.notify()
    assert in_step.wait(10.0)

    stopper = threading.Thread(
        target=lambda: worker.stop(drain_seconds=drain_seconds, timeout=60.0)
    )
    stopper.start()
    wait_for(lambda: worker._stopping.is_set())
    may_finish.set()
    stopper.join(10.0)
    return stopper


def test_stopping_worker_hands_back_a_running_job_once_the_drain_time_is_over() -> None:
    engine = Engine()
    stopper = stop_while_the_first_step_runs(engine, drain_seconds=0.0)

    assert not stopper.is_alive()
    job = engine.job("job-1")
    assert (job.status, job.steps_done) == (JobStatus.RUNNING, 1)
    assert job.progress.get(HANDED_BACK) is True
    taken = engine.store.claim_next("B", LEASE)
    assert taken is not None
    engine.runner("B").run(taken)
    assert engine.job("job-1").status is JobStatus.SUCCESS


def test_a_stopping_worker_lets_a_running_job_end_within_the_drain_time() -> None:
    engine = Engine()
    stopper = stop_while_the_first_step_runs(engine, drain_seconds=60.0)

    assert not stopper.is_alive()
    assert engine.job("job-1").status is JobStatus.SUCCESS


# --- deferred effects: a step's last write commits with its record ------------------------------


def test_a_deferred_effect_runs_when_the_step_is_recorded_not_before() -> None:
    engine = Engine()
    seen: list[tuple[str, int]] = []

    def defer_write(ctx: StepContext) -> None:
        ctx.defer(lambda: seen.append(("written", engine.job("job-1").steps_done)))
        seen.append(("s0 goes on", 0))

    engine.register(3, on_run={0: defer_write, 1: lambda _: seen.append(("s1 runs", 0))})
    engine.store.add(single())

    engine.worker().run_until_idle()

    # written after s0 returned, inside its record (steps_done still 0 then), before s1
    assert seen == [("s0 goes on", 0), ("written", 0), ("s1 runs", 0)]
    assert engine.job("job-1").status is JobStatus.SUCCESS


def test_the_effect_of_a_step_that_fails_is_never_written() -> None:
    engine = Engine()
    written: list[str] = []

    def defer_then_fail(ctx: StepContext) -> None:
        ctx.defer(lambda: written.append("s1"))

    engine.register(3, on_run={1: defer_then_fail}, fail_at=1, fail=StepFailed("Ecs.1000", "fault"))
    engine.store.add(single())

    engine.worker().run_until_idle()

    assert written == []
    assert engine.job("job-1").error_code == "Ecs.1000"


def test_the_last_step_is_recorded_by_the_end_of_the_job() -> None:
    engine = Engine()
    written: list[str] = []
    engine.register(2, on_run={1: lambda ctx: ctx.defer(lambda: written.append("last"))})
    engine.store.add(single())

    engine.worker().run_until_idle()

    job = engine.job("job-1")
    assert written == ["last"]
    assert (job.status, job.steps_done, job.progress) == (
        JobStatus.SUCCESS,
        2,
        {"s0": "done", "s1": "done"},
    )
