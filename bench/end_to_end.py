"""Benchmark 3, end to end: N cold migrations (simulated driver, zero copy time) submitted at
once to real ``coldshift serve`` processes; wall time until every job is terminal,
migrations/s, and in the same run the database's ceiling of single-row write transactions/s
(bench.tx_ceiling) and the goal ratio migrations/s ÷ (ceiling ÷ transactions per migration),
the transactions per migration being counted in-process by bench.tx_count.

Usage: python -m bench.end_to_end [--migrations 1000] [--db sqlite|pg] [--processes 1|2]
                                  [--runs 3] [--pairs 4] [--concurrency 32]

The fleet (N stopped ECSs on ``--pairs`` source DeHs, as many empty target DeHs) is created
through the API once; run k moves every server to the other DeH of its pair, so runs
alternate direction. A warm-up run comes first and is not counted. Migrate requests are
pre-signed and sent by bench.loadgen in its own process (one per server process), which
shares the machine's 2 cores with the servers; the poller reads the jobs table every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from tests.conftest import PG_URL
from tests.e2e.harness import ServerProcess, fresh_pg_database

from bench import tx_ceiling, tx_count
from bench.regions import (
    CatalogShape,
    Fleet,
    SignedClient,
    bench_project,
    migrate_body,
    migrate_path,
    percentile,
    raw_request,
    spread,
    start_load,
    stopped_fleet,
    write_catalog,
)
from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import jobs

MIGRATE_JOB = "migrateServer"
WORKERS = 16  # coldshift serve's default --workers


@dataclass(frozen=True)
class RunResult:
    migrations: int
    failed: int
    wall: float  # first submit commit → last job end, from the job rows
    submit_seconds: float  # what the load generators took to have every job accepted
    pickup_p50: float
    pickup_p99: float

    @property
    def rate(self) -> float:
        return self.migrations / self.wall


@contextmanager
def database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / name}.db"
        return
    with fresh_pg_database(PG_URL) as url:
        yield url


def start_servers(url: str, catalog: Path, processes: int, workdir: Path) -> list[ServerProcess]:
    return [
        ServerProcess(url, catalog, log_path=workdir / f"serve-{i}.log").start()
        for i in range(processes)
    ]


def submit_all(
    servers: list[ServerProcess], fleet: Fleet, concurrency: int, workdir: Path
) -> float:
    """Send one pre-signed migrate request per server, spread over the processes, from one
    load generator per process at once; answer the seconds until the last was accepted."""
    project = bench_project(1)
    loads = []
    for index, server in enumerate(servers):
        mine = fleet.servers[index :: len(servers)]
        requests = [
            raw_request(
                "POST",
                server.url + migrate_path(server_id).replace("{p}", project.id),
                project,
                json.dumps(migrate_body(fleet, pair)).encode(),
            ).decode("latin-1")
            for server_id, pair in mine
        ]
        spec = {
            "port": server.port,
            "requests": requests,
            "expect": 200,
            "concurrency": concurrency // len(servers),
            "max_requests": len(requests),
            "seconds": 300,
            "cycle": False,
        }
        loads.append(start_load(spec, workdir / f"load-{index}"))
    return max(float(load()["elapsed"]) for load in loads)


def wait_all_terminal(watcher: Database, since: float, count: int, timeout: float = 600) -> None:
    """Poll (every 0.2 s, one short read) until ``count`` migration jobs created after
    ``since`` are all terminal."""
    query = select(func.count(), func.count(jobs.c.end_time)).where(
        jobs.c.job_type == MIGRATE_JOB, jobs.c.created_at >= since
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with watcher.read() as conn:
            created, ended = conn.execute(query).one()
        if created == count and ended == count:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{count} migrations not terminal after {timeout}s")


def figures(watcher: Database, since: float, submit_seconds: float) -> RunResult:
    parents = select(jobs.c.created_at, jobs.c.end_time, jobs.c.status).where(
        jobs.c.job_type == MIGRATE_JOB, jobs.c.created_at >= since
    )
    children = select(jobs.c.claimed_at - jobs.c.created_at).where(
        jobs.c.parent_id.in_(select(jobs.c.id).where(jobs.c.created_at >= since)),
        jobs.c.attempts == 1,
    )
    with watcher.read() as conn:
        rows = conn.execute(parents).all()
        pickups = [float(p) for p in conn.execute(children).scalars()]
    return RunResult(
        migrations=len(rows),
        failed=sum(1 for r in rows if r.status != "SUCCESS"),
        wall=max(r.end_time for r in rows) - min(r.created_at for r in rows),
        submit_seconds=submit_seconds,
        pickup_p50=percentile(pickups, 0.5),
        pickup_p99=percentile(pickups, 0.99),
    )


@contextmanager
def profiling(server: ServerProcess, output: str | None) -> Iterator[None]:
    """py-spy (installed for profiling only) samples the server process while the block runs."""
    if output is None:
        yield
        return
    assert server.proc is not None
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(server.proc.pid),
            "--output",
            output,
            "--format",
            _py_spy_format(output),
            "--nonblocking",
            "--gil",  # only the thread holding the GIL: where the CPU goes, not who waits
        ]
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def _py_spy_format(output: str) -> str:
    """speedscope for .json, collapsed stacks ("raw") for .txt, else a flame graph SVG."""
    return {".json": "speedscope", ".txt": "raw"}.get(Path(output).suffix, "flamegraph")


def one_run(
    servers: list[ServerProcess], watcher: Database, fleet: Fleet, args: argparse.Namespace
) -> RunResult:
    since = time.time()
    submitted = submit_all(servers, fleet, args.concurrency, Path(args.workdir))
    wait_all_terminal(watcher, since, len(fleet.servers))
    result = figures(watcher, since, submitted)
    print(
        f"  run: {result.migrations} migrations ({result.failed} failed) in {result.wall:.2f} s "
        f"= {result.rate:.1f}/s; submit {result.submit_seconds:.2f} s; pickup under the burst "
        f"p50 {result.pickup_p50 * 1000:.0f} ms p99 {result.pickup_p99 * 1000:.0f} ms",
        flush=True,
    )
    return result


def bench(args: argparse.Namespace, workdir: Path) -> None:
    catalog = write_catalog(workdir / "catalog.toml", CatalogShape(host_vcpus=8192))
    with ExitStack() as stack:
        url = stack.enter_context(database(args.db, workdir, "e2e"))
        servers = start_servers(url, catalog, args.processes, workdir)
        for server in servers:
            stack.callback(server.stop)
        watcher = connect(url, pool_size=1)
        stack.callback(watcher.dispose)
        with httpx.Client(timeout=60) as http:
            client = SignedClient(http, servers[0].url, bench_project(1))
            fleet = stopped_fleet(client, args.migrations, args.pairs)
        print(f"fleet ready: {len(fleet.servers)} stopped ECSs on {args.pairs} DeHs", flush=True)
        print("warm-up:", flush=True)
        one_run(servers, watcher, fleet, args)
        fleet = fleet.reversed()
        results, ceilings = [], []
        for run in range(args.runs):
            with profiling(servers[0], args.profile if run == 0 else None):
                results.append(one_run(servers, watcher, fleet, args))
            fleet = fleet.reversed()
            ceiling = tx_ceiling.measure(url, args.processes, WORKERS, 3000, 10.0)
            print(f"  ceiling: {ceiling.per_second:.0f} single-row write tx/s", flush=True)
            ceilings.append(ceiling.per_second)
    with database(args.db, workdir, "count") as url:
        counted = tx_count.count_transactions(url, 40, workdir)
    report(args, results, ceilings, counted)


def report(
    args: argparse.Namespace,
    results: list[RunResult],
    ceilings: list[float],
    counted: tx_count.TxCount,
) -> None:
    per_migration = counted.writes_per_migration
    rates = [r.rate for r in results]
    pairs = zip(rates, ceilings, strict=True)
    goals = [rate / (ceiling / per_migration) for rate, ceiling in pairs]
    print(f"\n== end to end: {args.migrations} migrations, {args.db}, {args.processes} process(es)")
    print(f"wall time        {spread([r.wall for r in results], ' s', 2)}")
    print(f"migrations/s     {spread(rates)}")
    print(f"tx ceiling/s     {spread(ceilings, digits=0)}  ({WORKERS} threads per process)")
    print(counted.report())
    print(
        f"goal ratio       {spread(goals, digits=2)}  (migrations/s ÷ (ceiling ÷ "
        f"{per_migration:.1f} write tx per migration); goal ≥ 0.5)"
    )
    print(f"pickup p50 under the burst: {spread([r.pickup_p50 * 1000 for r in results], ' ms')}")
    print(f"failed migrations: {sum(r.failed for r in results)}")
    print(f"median of medians: {statistics.median(rates):.1f} migrations/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--migrations", type=int, default=1000)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--profile",
        help="py-spy output of the first run: .svg, .json (speedscope) or .txt (collapsed)",
    )
    args = parser.parse_args()
    if args.db == "sqlite" and args.processes != 1:
        parser.error("SQLite takes one process (use --db pg for two)")
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = tmp
        bench(args, Path(tmp))


if __name__ == "__main__":
    main()
