"""Worker threads: claim → run → finish, a heartbeat that renews leases, graceful stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from coldshift.jobs.maintenance import MaintenanceRunner
from coldshift.jobs.ports import NO_JOB_OBSERVER, EngineStore, JobObserver, LeaseLost
from coldshift.jobs.retry import DEFAULT_RETRY, RetryPolicy
from coldshift.jobs.runner import HandedBack, JobRunner
from coldshift.jobs.workflow import WorkflowRegistry

# The defaults of one process, for `coldshift serve` (config.Settings) and for any worker.
#: job threads
DEFAULT_CONCURRENCY = 16
#: seconds a worker holds a job without a heartbeat before another may take it over
DEFAULT_LEASE_SECONDS = 5.0
#: seconds between the looks of an idle worker (besides being woken)
DEFAULT_POLL_SECONDS = 0.5
#: a maintenance task's lease: long, because its steps are not heartbeated and may call a
#: slow host; a second try while one still runs is harmless (steps are idempotent)
MAINTENANCE_LEASE_FACTOR = 12

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        store: EngineStore,
        registry: WorkflowRegistry,
        *,
        owner: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        retention_seconds: float = 86400.0,
        clock: Callable[[], float],
        retry: RetryPolicy = DEFAULT_RETRY,
        observer: JobObserver = NO_JOB_OBSERVER,
    ) -> None:
        self._store = store
        self._runner = JobRunner(
            store,
            registry,
            owner,
            lease_seconds,
            self._past_drain,
            retry=retry,
            sleep=self._nap,
            observer=observer,
        )
        self._maintenance = MaintenanceRunner(
            store, registry, owner, lease_seconds * MAINTENANCE_LEASE_FACTOR, clock, retry
        )
        # Idle threads look for due maintenance at most once a poll interval between them.
        self._maintenance_due_at = 0.0
        self._maintenance_lock = threading.Lock()
        self._owner = owner
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._retention = retention_seconds
        self._clock = clock
        self._wake = threading.Condition()
        self._pending_wakeups = 0
        self._stopping = threading.Event()
        self._drain_deadline = float("inf")
        # Leases are renewed until the last job thread has ended, not merely until stop().
        self._heartbeat_stopping = threading.Event()
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._heartbeat: threading.Thread | None = None

    @property
    def owner(self) -> str:
        return self._owner

    def start(self) -> None:
        for i in range(self._concurrency):
            self._spawn(self._work_loop, f"coldshift-worker-{i}")
        self._heartbeat = threading.Thread(
            target=self._heartbeat_loop, name="coldshift-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def notify(self, count: int = 1) -> None:
        """A job was recorded: wake idle threads now instead of at the next poll."""
        with self._wake:
            self._pending_wakeups += count
            self._wake.notify(count)

    def stop(self, drain_seconds: float = 10.0, timeout: float = 30.0) -> int:
        """Stop taking jobs; running ones may reach their end within ``drain_seconds``, then
        each is handed back at its next step boundary. What a step still holds after
        ``timeout`` (a stuck driver call) is released as a crash would leave it.
        Returns how many jobs were released that way."""
        self._drain_deadline = time.monotonic() + drain_seconds
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._heartbeat_stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.join(max(0.0, deadline - time.monotonic()))
        with self._held_lock:
            left = list(self._held)
        if left:
            self._store.release(self._owner, left)
        return len(left)

    def run_until_idle(self) -> None:
        """Run jobs in the calling thread until none is runnable (tests, one-shot tools)."""
        while self._run_one():
            pass

    def run_maintenance(self) -> int:
        """Try every maintenance task now due once, in the calling thread; how many."""
        tried: set[str] = set()
        while (task_id := self._maintenance.run_due(skip=tried)) is not None:
            tried.add(task_id)
        return len(tried)

    def _nap(self, seconds: float) -> None:
        """Wait between the tries of a transient fault; a stop cuts the wait short."""
        self._stopping.wait(seconds)

    def _past_drain(self) -> bool:
        return self._stopping.is_set() and time.monotonic() >= self._drain_deadline

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._run_one() or self._maintain():
                    continue
            except Exception:
                log.exception("worker loop error")
            self._idle_wait()

    def _maintain(self) -> bool:
        """When idle: try one due maintenance task, looking at most once a poll interval."""
        with self._maintenance_lock:
            now = time.monotonic()
            if now < self._maintenance_due_at:
                return False
            self._maintenance_due_at = now + self._poll
        return self._maintenance.run_due() is not None

    def _idle_wait(self) -> None:
        with self._wake:
            if self._pending_wakeups == 0 and not self._stopping.is_set():
                self._wake.wait(self._poll)
            self._pending_wakeups = max(0, self._pending_wakeups - 1)

    def _run_one(self) -> bool:
        job = self._store.claim_next(self._owner, self._lease)
        if job is None:
            return False
        with self._held_lock:
            self._held.add(job.id)
        try:
            self._runner.run(job)
        except LeaseLost:
            log.warning("job %s was taken over by another worker", job.id)
        except HandedBack:
            log.warning("job %s handed back at a step boundary (stopping)", job.id)
        finally:
            with self._held_lock:
                self._held.discard(job.id)
        return True

    def _heartbeat_loop(self) -> None:
        while not self._heartbeat_stopping.wait(self._lease / 3):
            try:
                with self._held_lock:
                    held = list(self._held)
                if held:
                    self._store.heartbeat(self._owner, held, self._lease)
                self._store.purge_finished(self._clock() - self._retention)
            except Exception:
                log.exception("heartbeat failed")
