"""In-process: how many transactions one cold migration commits, and how long an idle worker
takes to pick a job up (submit commit → claim).

A real container (``coldshift.bootstrap``: the SQL stores, 16 workers, the simulated driver
with zero timings) behind the real ASGI app, called through starlette's TestClient with
signed requests. Migrations run one at a time so that each one's commits are its own; the
engine's ``commit`` events are counted, split into write transactions (``BEGIN IMMEDIATE``
on SQLite) and read ones, and labelled by their first statement. Pickup is read from the job
rows: ``claimed_at - created_at`` of each sub-job.

Usage: python -m bench.tx_count [--db URL] [--migrations 40]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from sqlalchemy import Connection, event, select
from starlette.testclient import TestClient

from bench.regions import (
    CatalogShape,
    Fleet,
    SignedClient,
    bench_project,
    migrate_body,
    migrate_path,
    percentile,
    stopped_fleet,
    write_catalog,
)
from coldshift import bootstrap
from coldshift.api.app import create_app
from coldshift.catalog.loader import load_catalog
from coldshift.config import Settings
from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import jobs


@dataclass
class CommitLog:
    """Commits seen on one engine, writes and reads, each labelled by the store method that
    made it and the service code that called the store."""

    writes: collections.Counter[str] = field(default_factory=collections.Counter)
    reads: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def commit(self, conn: Connection) -> None:
        write = conn.get_execution_options().get("coldshift_immediate", False)
        label = _callers(sys._getframe(1))
        with self._lock:
            (self.writes if write else self.reads)[label] += 1


def _callers(frame: FrameType | None) -> str:
    """``store method ← service function``: the outermost persistence frame on the stack
    and the innermost services/ frame above it."""
    store, service = "?", "?"
    while frame is not None:
        path = frame.f_code.co_filename
        name = f"{Path(path).stem}.{frame.f_code.co_name}"
        if f"coldshift{os.sep}persistence{os.sep}" in path and not path.endswith("db.py"):
            store = name
        elif f"coldshift{os.sep}services{os.sep}" in path and service == "?":
            service = name
        frame = frame.f_back
    return f"{store} ← {service}"


@contextmanager
def counting(db: Database) -> Iterator[CommitLog]:
    """The commits of ``db``'s pooled engine and, on SQLite, of its per-thread readers'."""
    log = CommitLog()
    engines = [db.engine] + ([db.readers.engine] if db.readers is not None else [])
    for engine in engines:
        event.listen(engine, "commit", log.commit)
    try:
        yield log
    finally:
        for engine in engines:
            event.remove(engine, "commit", log.commit)


@dataclass(frozen=True)
class TxCount:
    migrations: int
    writes: collections.Counter[str]
    reads: collections.Counter[str]
    pickups: list[float]

    @property
    def writes_per_migration(self) -> float:
        return sum(self.writes.values()) / self.migrations

    def report(self) -> str:
        lines = [
            f"transactions per migration ({self.migrations} migrations, one at a time): "
            f"{self.writes_per_migration:.2f} writes + "
            f"{sum(self.reads.values()) / self.migrations:.2f} reads",
        ]
        for kind, counts in (("write", self.writes), ("read", self.reads)):
            for label, count in sorted(counts.items(), key=lambda kv: -kv[1]):
                lines.append(f"    {kind:5} {count / self.migrations:5.2f}  {label}")
        lines.append(
            f"job pickup in-process (submit → claim, idle workers): "
            f"p50 {percentile(self.pickups, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(self.pickups, 0.99) * 1000:.2f} ms over {len(self.pickups)} jobs"
        )
        return "\n".join(lines)


def count_transactions(db_url: str, migrations: int, workdir: Path) -> TxCount:
    catalog = load_catalog(write_catalog(workdir / "catalog.toml", CatalogShape()))
    container = bootstrap.build(Settings(db_url=db_url), catalog)
    bootstrap.start(container)
    # The wait for each job reads through its own engine, so that its commits are not counted.
    watcher = connect(db_url)
    try:
        with TestClient(create_app(container.region)) as http:
            client = SignedClient(http, "http://testserver", bench_project(1))
            fleet = stopped_fleet(client, migrations + 5, pairs=1)
            _migrate_one_by_one(client, watcher, fleet, fleet.servers[:5])  # warm-up
            with counting(container.db) as log:
                job_ids = _migrate_one_by_one(client, watcher, fleet, fleet.servers[5:])
            pickups = _pickups(watcher, job_ids)
    finally:
        bootstrap.stop(container)
        watcher.dispose()
    return TxCount(migrations, log.writes, log.reads, pickups)


def _migrate_one_by_one(
    client: SignedClient, watcher: Database, fleet: Fleet, servers: Sequence[tuple[str, int]]
) -> list[str]:
    """Each migration has ended before the next is sent."""
    job_ids = []
    for server_id, pair in servers:
        job_id = client.call("POST", migrate_path(server_id), migrate_body(fleet, pair))["job_id"]
        _wait_terminal(watcher, job_id)
        job_ids.append(job_id)
    return job_ids


def _wait_terminal(watcher: Database, job_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    query = select(jobs.c.status).where(jobs.c.id == job_id)
    while time.monotonic() < deadline:
        with watcher.read() as conn:
            if conn.execute(query).scalar() in ("SUCCESS", "FAIL"):
                return
        time.sleep(0.002)
    raise TimeoutError(f"job {job_id} did not end within {timeout}s")


def _pickups(watcher: Database, parent_ids: list[str]) -> list[float]:
    """Submit → claim of each sub-job (the runnable one)."""
    query = select(jobs.c.claimed_at - jobs.c.created_at).where(jobs.c.parent_id.in_(parent_ids))
    with watcher.read() as conn:
        return [float(delay) for delay in conn.execute(query).scalars()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="default: a new SQLite file in a temporary directory")
    parser.add_argument("--migrations", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'count.db'}"
        print(count_transactions(url, args.migrations, Path(tmp)).report())


if __name__ == "__main__":
    main()
