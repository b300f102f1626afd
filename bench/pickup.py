"""Job pickup latency (in-process and across processes) and takeover time after kill -9.

Usage: .venv/bin/python -m bench.pickup [--jobs N] [--runs R] [--lease S] [--pg-url URL]

Pickup is the time from a job's submission (``jobs.created_at``, stamped in the submitting
transaction) to a worker taking it (``jobs.claimed_at``), read from the database:
- in-process: one `coldshift serve`, on SQLite and on PostgreSQL;
- across processes: PostgreSQL, the submitting process runs no workers, another takes the job
  (LISTEN/NOTIFY); the in-process figures of the same run are its baseline.
Takeover: 8 migrations wait inside the driver of one of three processes, which is then
killed with SIGKILL once two more processes run; reported are the time until the survivors
have taken every job again (lease expiry + pickup) and until every job has ended.
Jobs are submitted one after another on an idle cluster (stop/start of one server, each
waited for), so the figures are the latency of an idle worker, not of a queue.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conftest import PG_URL
from tests.e2e import admin, sdk
from tests.e2e.cluster import job_rows, scale_catalog
from tests.e2e.harness import ServerProcess, deh_client, ecs_client, fresh_pg_database, wait_for

from bench.regions import percentile

TERMINAL = ("SUCCESS", "FAIL")


@contextmanager
def processes(
    db_url: str, catalog: Path, logs: Path, *arg_sets: tuple[str, ...]
) -> Iterator[list[ServerProcess]]:
    with ExitStack() as stack:
        started = []
        for index, args in enumerate(arg_sets):
            process = ServerProcess(
                db_url, catalog=catalog, extra_args=args, log_path=logs / f"p{index}.log"
            )
            started.append(process.start())
            stack.callback(process.stop)
        yield started


def pickups_ms(db_url: str, jobs: int, url: str) -> list[float]:
    """Stop and start one server ``jobs`` times in turn; the pickup of each sub-job."""
    client = ecs_client(url)
    [server] = sdk.create_and_wait(client)
    since = time.time()
    for index in range(jobs):
        action = sdk.stop if index % 2 == 0 else sdk.start
        final = sdk.wait_job(client, action(client, server).job_id)
        assert final.status == "SUCCESS", final
    rows = _rows(
        db_url,
        "SELECT (claimed_at - created_at) * 1000 FROM jobs "
        "WHERE parent_id IS NOT NULL AND created_at >= %s ORDER BY created_at",
        since,
    )
    return [float(str(r[0])) for r in rows]


def _rows(db_url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    if db_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(sql.replace("%s", "?"), params).fetchall())
    return job_rows(db_url, sql, *params)


def summary(label: str, runs: list[list[float]]) -> str:
    p50s = [statistics.median(r) for r in runs]
    p99s = [percentile(r, 0.99) for r in runs]
    return (
        f"{label:<44} p50 {statistics.median(p50s):7.2f} ms "
        f"(min {min(p50s):.2f}, max {max(p50s):.2f})   "
        f"p99 {statistics.median(p99s):7.2f} ms   [{len(runs)} runs x {len(runs[0])} jobs]"
    )


def pickup_runs(
    db_url: str, catalog: Path, logs: Path, jobs: int, runs: int, *arg_sets: tuple[str, ...]
) -> list[list[float]]:
    with processes(db_url, catalog, logs, *arg_sets) as started:
        url = started[0].url
        pickups_ms(db_url, 4, url)  # warm-up
        return [pickups_ms(db_url, jobs, url) for _ in range(runs)]


def takeover(pg_url: str, catalog: Path, logs: Path, lease: float) -> tuple[float, float]:
    """Seconds from the kill until every job is taken again, and until every job has ended."""
    args = ("--workers", "16", "--lease-seconds", str(lease))
    with fresh_pg_database(pg_url) as db_url, processes(db_url, catalog, logs, args) as [victim]:
        client = ecs_client(victim.url)
        [deh] = sdk.allocate(deh_client(victim.url))
        servers = sdk.stopped_servers(client, count=8)
        admin.hold(victim.url, "copy_disks")
        jobs = [sdk.migrate(client, s, deh) for s in servers]
        wait_for(lambda: admin.in_progress(victim.url, "copy_disks") == len(jobs), 60, "jobs")
        with processes(db_url, catalog, logs, args, args) as survivors:
            killed = time.time()
            victim.kill()
            survivor = ecs_client(survivors[0].url)
            wait_for(lambda: all(sdk.job(survivor, j).status in TERMINAL for j in jobs), 120)
            ended = time.time() - killed
        [(last_claim,)] = job_rows(
            db_url,
            "SELECT max(claimed_at) FROM jobs WHERE parent_id IS NOT NULL AND attempts > 1",
        )
        return float(last_claim) - killed, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease", type=float, default=5.0)
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        catalog = scale_catalog(tmp)
        rows = []
        sqlite = f"sqlite:///{tmp / 'pickup.db'}"
        rows.append(
            summary(
                "in-process, SQLite", pickup_runs(sqlite, catalog, tmp, args.jobs, args.runs, ())
            )
        )
        with fresh_pg_database(args.pg_url) as pg:
            rows.append(
                summary(
                    "in-process, PostgreSQL",
                    pickup_runs(pg, catalog, tmp, args.jobs, args.runs, ()),
                )
            )
        with fresh_pg_database(args.pg_url) as pg:
            cross = pickup_runs(
                pg, catalog, tmp, args.jobs, args.runs, ("--workers", "0"), ("--workers", "8")
            )
            rows.append(summary("across processes, PostgreSQL (LISTEN/NOTIFY)", cross))
        print("\n".join(rows))
        took, ended = takeover(args.pg_url, catalog, tmp, args.lease)
        print(
            f"takeover after kill -9 of 1 of 3 (8 migrations in flight, lease {args.lease:.1f} s): "
            f"all taken again after {took:.2f} s, all ended after {ended:.2f} s"
        )


if __name__ == "__main__":
    main()
