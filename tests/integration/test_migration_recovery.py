"""A cold migration survives a crash at every step boundary (SQLite and PostgreSQL).

Property: whatever instant of ``migrateSingleServer`` the process dies at (just before a step
runs, or just after it returned but before the runner recorded it), forward or while undoing,
and however often the recovery itself dies, a restarted process on the same database brings
the job to an end by itself, and then:

* a job that had not passed the commit point (``steps_done < 4`` when it died) ends FAIL,
  with ``Common.0999`` when the crash interrupted it and with the original code when it was
  already undoing a driver fault; a job past it ends SUCCESS;
* the parent job ends with its sub-job (same status, same error code), and holds no lease;
* every server is SHUTOFF with no task and no migration target: the moved one on its target
  after a SUCCESS, exactly where it was (host, tenancy, DeH) after a FAIL; the others unmoved;
* ``invariants.check`` finds no drift, and every host's free vCPUs and memory are its size
  minus the servers placed on it; the source copy is never deleted where the server lives;
* a migration undone by a crash can be submitted again and succeeds.

Each scenario moves three servers at once, DeH→DeH, DeH→pool and pool→DeH, and all three die
at the same instant (as when every worker thread has reached it and the process is killed).
The set of instants: the 12 forward ones (before/after each of the 6 steps); the 6 of the
undo of a driver fault at define_on_target; and crashes of the recovery itself.

Everything runs in the test's thread with a frozen clock and no sleep: a "process" is a fresh
``Region``, ``SimulatedDriver`` and ``Worker`` (a new lease owner) prepared by
``bootstrap.prepare`` on the shared database, and jobs run with ``Worker.run_until_idle``. A
crash is a ``BaseException`` raised by a wrapper around a step of the real workflow: the
runner's ``except Exception`` does not see it, so the job stays leased and half-done, as after
SIGKILL. The restart frees the dead owner's leases the way each backend does: on SQLite
``bootstrap.prepare`` releases them; on PostgreSQL they expire (the clock moves past them).

The last test covers the window in which the last compensation (or ``release_source``) has made the
server idle but the job is not yet recorded as ended: no new task may start on the server then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import select

from coldshift.bootstrap import Container, prepare
from coldshift.catalog import load_catalog
from coldshift.config import Settings
from coldshift.domain.catalog import Catalog, SimulatedDriverSettings
from coldshift.domain.commands import AllocateHosts, CreateServers, MigrateServer
from coldshift.domain.errors import ServerBusy
from coldshift.domain.hosts import HostKind
from coldshift.domain.job_types import JobType
from coldshift.domain.servers import DEDICATED, SHARED, Server, TaskState, VmState
from coldshift.drivers.base import CopyProgress, DriverError, GuestSpec, Spot
from coldshift.drivers.simulated import FAULT_CODE, SimulatedDriver
from coldshift.jobs.model import Job, JobStatus
from coldshift.jobs.retry import RetryPolicy
from coldshift.jobs.runner import JobRunner
from coldshift.jobs.worker import Worker
from coldshift.jobs.workflow import Step, StepContext, Workflow, WorkflowRegistry
from coldshift.metrics import Metrics
from coldshift.persistence.db import Database
from coldshift.persistence.invariants import check
from coldshift.persistence.job_store import SqlJobStore
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.tables import jobs
from coldshift.services.context import Region
from coldshift.services.hosts import allocate_hosts
from coldshift.services.migration import migrate_server
from coldshift.services.servers import batch_action, create_servers
from coldshift.services.workflows import ENGINE_CODES, build_registry
from coldshift.services.workflows.common import guest_of
from coldshift.testing import FrozenClock

CATALOG = Path(__file__).parents[1] / "e2e" / "catalog.toml"
PROJECT = "11111111111111111111111111111111"
AZ = "az-a"
FLAVOR = "t1.large.2"
DEH_VCPUS = 16
LEASE = 10.0
#: tries without waits between them: the clock is frozen, and so is maintenance backoff
RETRY = RetryPolicy(max_attempts=3, first_delay=0.0, max_delay=0.0)

STEPS = (
    "claim_target",
    "copy_disks",
    "define_on_target",
    "cleanup_source",
    "switch_over",
    "delete_source_copies",
    "release_source",
)
COMMIT_POINT = STEPS.index("switch_over")
#: steps without a record of their own: the next step's record covers them
UNRECORDED = frozenset({"delete_source_copies"})
MIGRATE_SUB_JOB = JobType.MIGRATE_ONE_SERVER
#: the server's task while its job is stopped (before, after) each forward step. copy_disks and
#: switch_over defer their write to the step's record (StepContext.defer): a crash after they
#: returned but before the record finds the task unchanged.
TASK_AT: dict[str, tuple[TaskState | None, TaskState | None]] = {
    "claim_target": (TaskState.RESIZE_PREP, TaskState.RESIZE_MIGRATING),
    "copy_disks": (TaskState.RESIZE_MIGRATING, TaskState.RESIZE_MIGRATING),
    "define_on_target": (TaskState.RESIZE_MIGRATED, TaskState.RESIZE_MIGRATED),
    "cleanup_source": (TaskState.RESIZE_MIGRATED, TaskState.RESIZE_MIGRATED),
    "switch_over": (TaskState.RESIZE_MIGRATED, TaskState.RESIZE_MIGRATED),
    "delete_source_copies": (TaskState.RESIZE_FINISH, TaskState.RESIZE_FINISH),
    "release_source": (TaskState.RESIZE_FINISH, None),
}

Action = Literal["run", "compensate"]
When = Literal["before", "after"]
Direction = Literal["deh-to-deh", "deh-to-pool", "pool-to-deh"]
Expected = tuple[JobStatus, str | None]
SUCCESS: Expected = (JobStatus.SUCCESS, None)
INTERRUPTED: Expected = (JobStatus.FAIL, ENGINE_CODES.interrupted)


class Killed(BaseException):
    """The process died at the injected instant (not an Exception: no handler sees it)."""


@dataclass(frozen=True)
class Instant:
    """Just ``when`` the ``action`` (run or compensate) of step ``index`` of the migration:
    "before" it starts, or "after" it returned (its effects committed, not yet recorded)."""

    action: Action
    index: int
    when: When

    def __str__(self) -> str:
        verb = "" if self.action == "run" else "undo-"
        return f"{self.when}-{verb}{STEPS[self.index]}"


#: called at every instant of every migration step, with the job being run
Hook = Callable[[Instant, Job], None]


class HookedStep:
    """A step of the real workflow that calls ``hook`` just before and just after it."""

    def __init__(self, inner: Step, index: int, hook: Hook) -> None:
        self.name = inner.name
        self._inner = inner
        self._index = index
        self._hook = hook

    def run(self, ctx: StepContext) -> None:
        self._hook(Instant("run", self._index, "before"), ctx.job)
        self._inner.run(ctx)
        self._hook(Instant("run", self._index, "after"), ctx.job)

    def compensate(self, ctx: StepContext) -> None:
        self._hook(Instant("compensate", self._index, "before"), ctx.job)
        self._inner.compensate(ctx)
        self._hook(Instant("compensate", self._index, "after"), ctx.job)


#: wraps step ``index`` of the migration
StepWrapper = Callable[[Step, int], Step]


def hooked(hook: Hook) -> StepWrapper:
    return lambda step, index: HookedStep(step, index, hook)


class WrappedRegistry(WorkflowRegistry):
    """The real registry, with the migration's steps wrapped by ``wrap``."""

    def __init__(self, inner: WorkflowRegistry, wrap: StepWrapper) -> None:
        super().__init__(inner.codes)
        self._inner = inner
        real = inner.get(MIGRATE_SUB_JOB)
        assert real is not None
        assert tuple(s.name for s in real.steps) == STEPS
        assert real.commit_point == STEPS[COMMIT_POINT]
        assert real.unrecorded == UNRECORDED
        wrapped = tuple(wrap(s, i) for i, s in enumerate(real.steps))
        self._migration: Workflow = dataclasses.replace(real, steps=wrapped)

    def get(self, job_type: str) -> Workflow | None:
        if job_type == MIGRATE_SUB_JOB:
            return self._migration
        return self._inner.get(job_type)


def crash_at(instant: Instant, killed: set[str]) -> Hook:
    """Kill the process when a migration reaches ``instant`` (each job once)."""

    def hook(at: Instant, job: Job) -> None:
        if at == instant and job.id not in killed:
            killed.add(job.id)
            raise Killed(f"{instant} of {job.id}")

    return hook


class QuietNotifier:
    """Jobs run when the test calls ``run_until_idle``; nobody needs waking."""

    def notify(self, count: int = 1) -> None:
        pass


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"the simulated driver slept {seconds}s: the catalog must be instant")


#: (server id, host whose copy confirm_migration deleted); outlives the processes, as guests do
Deletions = list[tuple[str, str]]
#: (operation, guest, target host name or "") of every migration call made to the driver
Calls = list[tuple[str, GuestSpec, str]]


class RecordingDriver(SimulatedDriver):
    """The simulated driver, remembering where ``confirm_migration`` deleted a source copy,
    and every migration call it was asked to make (a failing one too). The undo and clean-up
    calls on a host named in ``unreachable`` fail as a host that does not answer does."""

    def __init__(
        self,
        settings: SimulatedDriverSettings,
        deletions: Deletions,
        calls: Calls,
        unreachable: set[str],
    ) -> None:
        super().__init__(settings, sleep=never_sleep)
        self.deletions = deletions
        self.calls = calls
        self.unreachable = unreachable

    def _answer(self, host: str) -> None:
        if host in self.unreachable:
            raise DriverError(FAULT_CODE, f"host {host} does not answer", transient=True)

    def copy_disks(self, guest: GuestSpec, target: Spot, progress: CopyProgress) -> None:
        self.calls.append(("copy_disks", guest, target.host_name))
        super().copy_disks(guest, target, progress)

    def define_on_target(self, guest: GuestSpec, target: Spot) -> None:
        self.calls.append(("define_on_target", guest, target.host_name))
        super().define_on_target(guest, target)

    def cleanup_source(self, guest: GuestSpec) -> None:
        self.calls.append(("cleanup_source", guest, ""))
        super().cleanup_source(guest)

    def discard_target(self, guest: GuestSpec, target: Spot) -> None:
        self.calls.append(("discard_target", guest, target.host_name))
        self._answer(target.host_name)
        super().discard_target(guest, target)

    def confirm_migration(self, guest: GuestSpec) -> None:
        self.calls.append(("confirm_migration", guest, ""))
        self._answer(guest.host_name)
        super().confirm_migration(guest)
        self.deletions.append((guest.server_id, guest.host_name))


@dataclass
class Process:
    """One incarnation of coldshift on the shared database."""

    container: Container
    registry: WorkflowRegistry

    @property
    def region(self) -> Region:
        return self.container.region

    @property
    def worker(self) -> Worker:
        return self.container.worker

    @property
    def driver(self) -> SimulatedDriver:
        """The process's driver: the simulated one, into which faults can be injected."""
        driver = self.container.driver
        assert isinstance(driver, SimulatedDriver)
        return driver

    def runner(self) -> JobRunner:
        """What one more worker thread of this process runs jobs with."""
        return JobRunner(self.container.job_store, self.registry, self.worker.owner, LEASE)


@dataclass
class Cluster:
    """The database, the clock and the guests that outlive every process."""

    db: Database
    catalog: Catalog = field(default_factory=lambda: load_catalog(CATALOG))
    clock: FrozenClock = field(default_factory=FrozenClock)
    deletions: Deletions = field(default_factory=list)
    calls: Calls = field(default_factory=list)
    #: host names whose undo and clean-up calls fail (transiently), in every process
    unreachable: set[str] = field(default_factory=set)
    started: int = 0

    def start(self, hook: Hook | None = None, wrap: StepWrapper | None = None) -> Process:
        """Build a process as bootstrap.build does (with this database, clock and a new
        owner) and prepare it as bootstrap.prepare does: schema, public pool, and on SQLite
        the leases a dead predecessor left. ``hook`` (or ``wrap``) wraps the migration's
        steps."""
        store = SqlRegionStore(self.db, self.clock)
        job_store = SqlJobStore(self.db, self.clock)
        driver = RecordingDriver(
            self.catalog.driver.simulated, self.deletions, self.calls, self.unreachable
        )
        region = Region(self.catalog, store, driver, QuietNotifier(), self.clock, job_store)
        registry = build_registry(region)
        wrap = hooked(hook) if hook is not None else wrap
        if wrap is not None:
            registry = WrappedRegistry(registry, wrap)
        owner = f"process-{self.started}"
        self.started += 1
        worker = Worker(
            job_store, registry, owner=owner, lease_seconds=LEASE, clock=self.clock, retry=RETRY
        )
        url = self.db.engine.url.render_as_string(hide_password=False)
        settings = Settings(db_url=url, workers=1, lease_seconds=LEASE)
        metrics = Metrics(store, self.clock)
        container = Container(
            settings, self.catalog, self.db, region, driver, job_store, worker, metrics
        )
        prepare(container)
        return Process(container, registry)

    def restart(self, hook: Hook | None = None) -> Process:
        """A new process after the last one died."""
        if not self.db.is_sqlite:
            self.clock.advance(LEASE + 1)  # PostgreSQL: the dead process's leases expire
        return self.start(hook)


# ---- the region the migrations start from ----------------------------------------------------


@dataclass(frozen=True)
class Move:
    direction: Direction
    server_id: str
    source: str  # host id
    target: str | None  # DeH id; None: the public pool


def create(process: Process, name: str, count: int, deh: str | None = None) -> list[str]:
    cmd = CreateServers(
        project_id=PROJECT,
        name=name,
        flavor_id=FLAVOR,
        image_ref="image-1",
        vpc_id="vpc-1",
        subnet_ids=("subnet-1",),
        root_volume_type="SSD",
        root_volume_size=40,
        count=count,
        availability_zone=AZ,
        tenancy=DEDICATED if deh else None,
        dedicated_host_id=deh,
    )
    return list(create_servers(process.region, cmd).server_ids)


def build_region(process: Process) -> list[Move]:
    """Two DeHs and the pool, four stopped servers; three of them to move: from DeH A to
    DeH B, from DeH A to the pool, from the pool to DeH B (one server stays on A)."""
    region = process.region
    # distinct names: the driver knows hosts by name
    deh_a, deh_b = (
        allocate_hosts(region, AllocateHosts(PROJECT, f"deh-{x}", AZ, "t1", 1))[0] for x in "ab"
    )
    on_a = create(process, "on-a", 3, deh_a)
    in_pool = create(process, "pooled", 1)
    process.worker.run_until_idle()
    batch_action(region, PROJECT, "stop", [*on_a, *in_pool])
    process.worker.run_until_idle()
    servers = {s.id: s for s in region.store.list_servers(PROJECT)}
    for server in servers.values():
        assert (server.vm_state, server.task_state) == (VmState.STOPPED, None), server
    moves: list[tuple[Direction, str, str | None]] = [
        ("deh-to-deh", on_a[0], deh_b),
        ("deh-to-pool", on_a[1], None),
        ("pool-to-deh", in_pool[0], deh_b),
    ]
    return [Move(d, s, servers[s].host_id or "", t) for d, s, t in moves]


def submit(process: Process, clock: FrozenClock, moves: Sequence[Move]) -> list[str]:
    job_ids = []
    for move in moves:
        cmd = MigrateServer(PROJECT, move.server_id, move.target)
        job_ids.append(migrate_server(process.region, cmd))
        clock.advance(0.001)  # one after the other, in this order
    return job_ids


# ---- what is checked -------------------------------------------------------------------------


def job_tree(region: Region, job_id: str) -> tuple[Job, Job]:
    tree = region.store.job_tree(PROJECT, job_id)
    assert tree is not None
    parent, children = tree
    assert len(children) == 1
    return parent, children[0]


def lease_owner(db: Database, job_id: str) -> str | None:
    with db.read() as conn:
        owner: str | None = conn.execute(
            select(jobs.c.lease_owner).where(jobs.c.id == job_id)
        ).scalar()
    return owner


def recorded_before(index: int) -> int:
    """The job's steps_done while step ``index`` runs: the steps before it, less the unrecorded
    ones just before it (covered by the next record, which step ``index`` has not made)."""
    done = index
    while done > 0 and STEPS[done - 1] in UNRECORDED:
        done -= 1
    return done


def check_left_half_done(
    cluster: Cluster, dead: Process, moves: Sequence[Move], job_ids: Sequence[str], at: Instant
) -> None:
    """Each job stopped at ``at``, still held by the dead process: no one else can take it."""
    region = dead.region
    for move, job_id in zip(moves, job_ids, strict=True):
        _, sub = job_tree(region, job_id)
        assert not sub.status.terminal, (move, sub)
        assert lease_owner(cluster.db, sub.id) == dead.worker.owner, move
        if at.action == "run":
            expected = recorded_before(at.index)
            assert (sub.steps_done, sub.compensating) == (expected, False), (move, at, sub)
            server = region.store.get_server(PROJECT, move.server_id)
            assert server is not None
            assert server.task_state == TASK_AT[STEPS[at.index]][at.when == "after"], (move, at)
        else:
            assert sub.compensating, (move, at, sub)
    assert SqlJobStore(cluster.db, cluster.clock).claim_next("a-live-worker", LEASE) is None


def check_capacity(region: Region) -> None:
    """Every host's free room is its size minus the servers placed on it."""
    flavor = region.flavor(FLAVOR)
    placed: dict[str, int] = {}
    for server in region.store.list_servers(PROJECT):
        assert server.host_id is not None
        placed[server.host_id] = placed.get(server.host_id, 0) + 1
    for host in region.store.list_hosts():
        count = placed.get(host.id, 0)
        free_vcpus = sum(n.vcpus_free for n in host.nodes)
        free_memory = sum(n.memory_free for n in host.nodes)
        assert free_vcpus == sum(n.vcpus_total for n in host.nodes) - flavor.vcpus * count, host
        assert free_memory == sum(n.memory_total for n in host.nodes) - flavor.ram_mb * count, host
        if host.kind is HostKind.DEH:
            assert free_vcpus == DEH_VCPUS - flavor.vcpus * count, host


def check_servers(
    region: Region, moves: Sequence[Move], before: dict[str, Server], success: bool
) -> None:
    moved = {m.server_id: m for m in moves} if success else {}
    for server in region.store.list_servers(PROJECT):
        idle = (server.vm_state, server.task_state, server.migrating_to)
        assert idle == (VmState.STOPPED, None, None), server
        where = (server.host_id, server.tenancy, server.dedicated_host_id)
        move = moved.get(server.id)
        if move is None:
            was = before[server.id]
            assert where == (was.host_id, was.tenancy, was.dedicated_host_id), server
        elif move.target is not None:
            assert where == (move.target, DEDICATED, move.target), (move, server)
        else:
            host = region.store.get_host(server.host_id or "")
            assert host is not None and host.kind is HostKind.POOL, (move, server)
            assert host.availability_zone == AZ, (move, server)
            assert (server.tenancy, server.dedicated_host_id) == (SHARED, None), (move, server)


def check_live_copies_kept(cluster: Cluster, region: Region) -> None:
    """``confirm_migration`` never deleted the copy on the host a server ends on."""
    for server in region.store.list_servers(PROJECT):
        host = region.store.get_host(server.host_id or "")
        assert host is not None
        assert (server.id, host.name) not in cluster.deletions, server


def check_outcome(
    cluster: Cluster,
    region: Region,
    moves: Sequence[Move],
    job_ids: Sequence[str],
    before: dict[str, Server],
    expected: Expected,
) -> None:
    for move, job_id in zip(moves, job_ids, strict=True):
        parent, sub = job_tree(region, job_id)
        assert (sub.status, sub.error_code) == expected, (move, sub)
        assert (parent.status, parent.error_code) == expected, (move, parent)
        if expected == INTERRUPTED:
            assert "interrupted" in (sub.fail_reason or ""), (move, sub)
        assert lease_owner(cluster.db, sub.id) is None, move
    check_servers(region, moves, before, expected[0] is JobStatus.SUCCESS)
    assert check(cluster.db) == []
    check_capacity(region)
    check_live_copies_kept(cluster, region)


# ---- the scenario ----------------------------------------------------------------------------


def crash_and_recover(
    db: Database,
    crashes: Sequence[Instant],
    expected: Expected,
    *,
    fault: str | None = None,
    retry: bool = False,
) -> None:
    """Submit the three migrations; process N dies when they reach ``crashes[N]``; restart,
    and so on; the last process runs without a crash until no job is left. ``fault`` fails
    each migration's first call of that driver operation, in the first process; ``retry``
    submits the migrations again once they have failed."""
    cluster = Cluster(db)
    killed: set[str] = set()
    process = cluster.start(crash_at(crashes[0], killed))
    moves = build_region(process)
    before = {s.id: s for s in process.region.store.list_servers(PROJECT)}
    if fault is not None:
        process.driver.set_operation(fault, fail_next=len(moves))
    job_ids = submit(process, cluster.clock, moves)
    for n, crash in enumerate(crashes, start=1):
        for _ in moves:  # each worker thread reaches the instant: the process dies there
            with pytest.raises(Killed):
                process.worker.run_until_idle()
        process.worker.run_until_idle()  # nothing else is left to run
        sub_ids = {job_tree(process.region, j)[1].id for j in job_ids}
        assert killed == sub_ids, crash
        check_left_half_done(cluster, process, moves, job_ids, crash)
        killed = set()
        process = cluster.restart(crash_at(crashes[n], killed) if n < len(crashes) else None)
    process.worker.run_until_idle()
    check_outcome(cluster, process.region, moves, job_ids, before, expected)
    if retry and expected[0] is JobStatus.FAIL:
        # the region works on: every migration undone can run again, and succeeds
        again = submit(process, cluster.clock, moves)
        process.worker.run_until_idle()
        check_outcome(cluster, process.region, moves, again, before, SUCCESS)


# ---- the tests -------------------------------------------------------------------------------

FORWARD = [Instant("run", i, w) for i in range(len(STEPS)) for w in ("before", "after")]


@pytest.mark.parametrize("crash", FORWARD, ids=str)
def test_a_crash_at_any_forward_instant_ends_the_job_by_itself(
    db: Database, crash: Instant
) -> None:
    """Undone (FAIL, Common.0999) before the commit point, finished (SUCCESS) from it on."""
    expected = SUCCESS if crash.index >= COMMIT_POINT else INTERRUPTED
    crash_and_recover(db, [crash], expected, retry=True)


#: a driver fault at define_on_target, then a crash at each instant of its undo (2 → 0)
UNDO_AFTER_FAULT = [Instant("compensate", i, w) for i in (2, 1, 0) for w in ("before", "after")]


@pytest.mark.parametrize("crash", UNDO_AFTER_FAULT, ids=str)
def test_a_crash_while_undoing_a_driver_fault_finishes_the_undo(
    db: Database, crash: Instant
) -> None:
    """The undo goes on from where it died, and the job keeps the fault's code."""
    crash_and_recover(db, [crash], (JobStatus.FAIL, FAULT_CODE), fault="define_on_target")


#: crashes in successive processes: the recovery itself dies, at each instant it goes through
RECOVERY_CRASHES = [
    *(
        (Instant("run", 3, "after"), Instant("compensate", i, w))
        for i in (3, 2, 1, 0)
        for w in ("before", "after")
    ),
    (
        Instant("run", 1, "before"),
        Instant("compensate", 1, "after"),
        Instant("compensate", 0, "after"),
    ),
    (Instant("run", 4, "after"), Instant("run", 5, "before")),
    (Instant("run", 4, "before"), Instant("run", 4, "after"), Instant("run", 5, "after")),
]


@pytest.mark.parametrize("crashes", RECOVERY_CRASHES, ids=lambda c: "+".join(map(str, c)))
def test_a_crash_during_recovery_is_recovered_too(
    db: Database, crashes: tuple[Instant, ...]
) -> None:
    expected = SUCCESS if crashes[0].index >= COMMIT_POINT else INTERRUPTED
    crash_and_recover(db, crashes, expected)


def test_a_fault_undo_that_dies_twice_still_ends_with_the_fault(db: Database) -> None:
    crashes = [Instant("compensate", 2, "after"), Instant("compensate", 0, "before")]
    crash_and_recover(db, crashes, (JobStatus.FAIL, FAULT_CODE), fault="define_on_target")


# ---- the window between making a server idle and ending its job ----------------------------

#: instants at which a step has made the server idle (task_state None) but the job has not
#: been recorded as ended: the last undo, and release_source
WINDOWS = {
    "after-undo-claim_target": Instant("compensate", 0, "after"),
    "after-release_source": Instant("run", STEPS.index("release_source"), "after"),
}


@pytest.mark.parametrize("window", list(WINDOWS))
def test_no_new_task_starts_on_a_server_before_its_recovered_job_has_ended(
    db: Database, window: str
) -> None:
    """Regression: a new migration accepted in that window was undone by the recovered job's
    re-run (its claim released, so it "succeeded" without moving the server; or the copy it
    had just moved to was deleted). The task guard now also waits for the last task's job."""
    crash = WINDOWS[window]
    cluster = Cluster(db)
    killed: set[str] = set()
    process = cluster.start(crash_at(crash, killed))
    move = build_region(process)[0]
    undoing = crash.action == "compensate"
    if undoing:
        process.driver.set_operation("define_on_target", fail_next=1)
    (first,) = submit(process, cluster.clock, [move])
    with pytest.raises(Killed):
        process.worker.run_until_idle()
    server = process.region.store.get_server(PROJECT, move.server_id)
    assert server is not None and server.task_state is None  # idle, its job not ended
    assert not job_tree(process.region, first)[1].status.terminal

    process = cluster.restart()
    assert move.target is not None
    again = move if undoing else dataclasses.replace(move, source=move.target, target=move.source)
    with pytest.raises(ServerBusy):
        submit(process, cluster.clock, [again])
    with pytest.raises(ServerBusy):
        batch_action(process.region, PROJECT, "start", [move.server_id])

    process.worker.run_until_idle()  # the recovered job ends...
    recovered = job_tree(process.region, first)[1]
    assert (recovered.status, recovered.error_code) == (
        (JobStatus.FAIL, FAULT_CODE) if undoing else SUCCESS
    )
    before = {s.id: s for s in process.region.store.list_servers(PROJECT)}
    cluster.deletions.clear()  # the first job's deletions were right when they were made
    (second,) = submit(process, cluster.clock, [again])  # ...and the server is free again
    process.worker.run_until_idle()
    check_outcome(cluster, process.region, [again], [second], before, SUCCESS)


# ---- what the driver is asked ----------------------------------------------------------------


def expected_calls(guest: GuestSpec, target: str, fault: bool) -> Calls:
    forward = [("copy_disks", guest, target), ("define_on_target", guest, target)]
    if fault:  # define_on_target failed: both target steps undone, last first
        return [*forward, ("discard_target", guest, target), ("discard_target", guest, target)]
    return [*forward, ("cleanup_source", guest, ""), ("confirm_migration", guest, "")]


@pytest.mark.parametrize("fault", [False, True], ids=["success", "fault"])
def test_the_driver_gets_the_source_guest_and_claimed_target_at_every_step(
    db: Database, fault: bool
) -> None:
    """What the steps record for later ones is the server's guest on its source host and the
    host claimed for it, in every driver call of the migration and of its undo."""
    cluster = Cluster(db)
    process = cluster.start()
    moves = build_region(process)
    region = process.region
    if fault:
        process.driver.set_operation("define_on_target", fail_next=len(moves))
    guests = {}
    for move in moves:
        server, source = (
            region.store.get_server(PROJECT, move.server_id),
            region.store.get_host(move.source),
        )
        assert server is not None and source is not None
        guests[move.server_id] = guest_of(region, server, source)
    job_ids = submit(process, cluster.clock, moves)
    process.worker.run_until_idle()
    for move, job_id in zip(moves, job_ids, strict=True):
        sub = job_tree(region, job_id)[1]
        assert (sub.status, sub.error_code) == ((JobStatus.FAIL, FAULT_CODE) if fault else SUCCESS)
        calls = [c for c in cluster.calls if c[1].server_id == move.server_id]
        target = region.store.get_host(move.target) if move.target else None
        if target is None:  # the pool: whichever host was claimed
            names = {h.name: h for h in region.store.list_hosts() if h.kind is HostKind.POOL}
            target = names.get(calls[0][2]) if calls else None
        assert target is not None, (move, calls)
        assert calls == expected_calls(guests[move.server_id], target.name, fault), move
