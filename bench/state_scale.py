"""Benchmark 4, scale of state: a region of ``--hosts`` hosts and ``--servers`` servers, and
``coldshift serve`` on it: start-up time (process start → /healthz answers), RSS after start
and after the load, and p50/p99 of show server, list servers (first page of 100, a later page
by offset and by marker), list DeHs and show DeH, beside the same calls on a small region of
the same shape (the baseline; ratio = big ÷ small).

Usage: python -m bench.state_scale [--hosts 10000] [--servers 100000] [--db sqlite|pg]
                                   [--runs 3] [--requests 200] [--seconds 20]

Loading: the schema comes from the real upgrade (a first ``coldshift serve``), which also
creates the public pool from a generated catalog (a fifth of the hosts); through the API one
DeH with one stopped ECS is made as the template; then DeHs, servers and their claims are
bulk-inserted as copies of the template rows (NUMA nodes' free capacity = size − claims), and
``coldshift check`` must report no drift. Servers spread evenly over ``--projects`` projects
and their hosts. Calls are pre-signed and sent one at a time by bench.loadgen (own process).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, bindparam, func, select
from tests.e2e.harness import ServerProcess

from bench.end_to_end import database
from bench.regions import (
    CatalogShape,
    Project,
    SignedClient,
    bench_project,
    percentile,
    raw_request,
    spread,
    start_load,
    stopped_fleet,
    write_catalog,
)
from coldshift.persistence.db import connect
from coldshift.persistence.tables import claims, hosts, numa_nodes, servers

SERVERS_PER_HOST = 10
CHUNK = 5000


@dataclass(frozen=True)
class Shape:
    hosts: int
    servers: int
    projects: int

    @property
    def pool_hosts(self) -> int:
        return max(1, self.hosts // 5)

    @property
    def dedicated_hosts(self) -> int:
        return self.hosts - self.pool_hosts

    def catalog(self) -> CatalogShape:
        return CatalogShape(
            projects=self.projects,
            pool_hosts=self.pool_hosts,
            host_vcpus=4 * self.servers_per_host(),
            dedicated_hosts_quota=self.dedicated_hosts + 2,
            instances_quota=self.servers + 2,
        )

    def servers_per_host(self) -> int:
        return max(SERVERS_PER_HOST, -(-self.servers // self.hosts))


@dataclass
class Template:
    host: dict[str, Any]
    nodes: list[dict[str, Any]]
    server: dict[str, Any]
    claim: dict[str, Any]


def read_template(conn: Connection, deh_id: str) -> Template:
    server = conn.execute(select(servers).where(servers.c.host_id == deh_id)).one()._asdict()
    return Template(
        host=conn.execute(select(hosts).where(hosts.c.id == deh_id)).one()._asdict(),
        nodes=[
            r._asdict()
            for r in conn.execute(select(numa_nodes).where(numa_nodes.c.host_id == deh_id))
        ],
        server=server,
        claim=conn.execute(select(claims).where(claims.c.server_id == server["id"]))
        .one()
        ._asdict(),
    )


def load(url: str, shape: Shape, template: Template) -> None:
    """Bulk-insert DeHs, servers on them and on the pool, and their claims, consistent with
    cold-migration.md's invariants."""
    db = connect(url)
    try:
        with db.write() as conn:
            pool = [r.id for r in conn.execute(select(hosts.c.id).where(hosts.c.kind == "pool"))]
            dehs = _insert_dehs(conn, shape, template)
            placed = _place_servers(shape, pool, dehs)
            _insert_servers(conn, template, placed)
            _set_free_capacity(conn, template, placed)
    finally:
        db.dispose()


def _insert_dehs(conn: Connection, shape: Shape, template: Template) -> list[tuple[str, str]]:
    """(host id, project id) of every DeH, the template's own included."""
    made = [(template.host["id"], template.host["project_id"])]
    for index in range(1, shape.dedicated_hosts - 1):  # the template's empty twin is one
        project = bench_project(1 + index % shape.projects).id
        made.append((str(uuid.uuid4()), project))
    rows = [
        {**template.host, "id": host_id, "name": f"deh-{i:05d}", "project_id": project}
        for i, (host_id, project) in enumerate(made[1:], start=1)
    ]
    node_rows = [
        {
            **node,
            "host_id": row["id"],
            "vcpus_free": node["vcpus_total"],
            "memory_free": node["memory_total"],
        }
        for row in rows
        for node in template.nodes
    ]
    _insert(conn, hosts, rows)
    _insert(conn, numa_nodes, node_rows)
    return made


def _place_servers(
    shape: Shape, pool: list[str], dehs: list[tuple[str, str]]
) -> list[tuple[str, str, str | None]]:
    """(host id, project id, DeH id or None) of every server to add: DeHs and the pool are
    filled in turn, round-robin, so that every host carries about the same number."""
    slots: list[tuple[str, str, str | None]] = []
    hosts_in_turn = [(h, p, h) for h, p in dehs] + [
        (h, bench_project(1 + i % shape.projects).id, None) for i, h in enumerate(pool)
    ]
    for index in range(shape.servers - 1):  # the template server is there already
        slots.append(hosts_in_turn[(index + 1) % len(hosts_in_turn)])
    return slots


def _insert_servers(
    conn: Connection, template: Template, placed: Sequence[tuple[str, str, str | None]]
) -> None:
    start = template.server["created_at"]
    server_rows, claim_rows = [], []
    for index, (host_id, project, deh_id) in enumerate(placed, start=1):
        server_id = str(uuid.uuid4())
        server_rows.append(
            {
                **template.server,
                "id": server_id,
                "name": f"vm-{index:06d}",
                "project_id": project,
                "host_id": host_id,
                "dedicated_host_id": deh_id,
                "tenancy": "dedicated" if deh_id else "shared",
                "created_at": start + index * 1e-3,
                "task_job_id": None,
            }
        )
        claim_rows.append(
            {k: v for k, v in template.claim.items() if k != "id"}
            | {"server_id": server_id, "host_id": host_id, "node_index": index % 2}
        )
    _insert(conn, servers, server_rows)
    _insert(conn, claims, claim_rows)


def _set_free_capacity(
    conn: Connection, template: Template, placed: Sequence[tuple[str, str, str | None]]
) -> None:
    """free = size − claims, node by node (the template's own server counted too)."""
    used: dict[tuple[str, int], int] = {(template.host["id"], template.claim["node_index"]): 1}
    for index, (host_id, _project, _deh) in enumerate(placed, start=1):
        used[(host_id, index % 2)] = used.get((host_id, index % 2), 0) + 1
    node = template.nodes[0]  # every node of the host type has the same size
    vcpus, memory = template.claim["vcpus"], template.claim["memory_mb"]
    statement = (
        numa_nodes.update()
        .where(numa_nodes.c.host_id == bindparam("h"), numa_nodes.c.node_index == bindparam("n"))
        .values(vcpus_free=bindparam("v"), memory_free=bindparam("m"))
    )
    rows = [
        {
            "h": host_id,
            "n": node_index,
            "v": node["vcpus_total"] - count * vcpus,
            "m": node["memory_total"] - count * memory,
        }
        for (host_id, node_index), count in used.items()
    ]
    for start in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[start : start + CHUNK])


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])


def check_no_drift(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coldshift", "check", "--db", url],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"coldshift check found drift:\n{done.stdout[-3000:]}{done.stderr}")


def rss_mb(server: ServerProcess) -> float:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@dataclass(frozen=True)
class Calls:
    """Pre-signable calls of one project: name → paths to cycle through."""

    paths: dict[str, list[str]]


def calls_for(url: str, project: Project, watcher_url: str) -> Calls:
    """Ids to call: servers and DeHs of ``project`` read from the database."""
    db = connect(watcher_url)
    try:
        with db.read() as conn:
            server_ids = list(
                conn.execute(
                    select(servers.c.id).where(servers.c.project_id == project.id).limit(50)
                ).scalars()
            )
            count = conn.execute(
                select(func.count()).where(servers.c.project_id == project.id)
            ).scalar_one()
            middle = conn.execute(
                select(servers.c.id)
                .where(servers.c.project_id == project.id)
                .order_by(servers.c.created_at.desc())
                .offset(count // 2)
                .limit(1)
            ).scalar_one()
            deh_ids = list(
                conn.execute(
                    select(hosts.c.id)
                    .where(hosts.c.project_id == project.id, hosts.c.kind == "deh")
                    .limit(50)
                ).scalars()
            )
    finally:
        db.dispose()
    later_page = max(1, count // 100 // 2)  # a page from the middle
    base = f"/v1/{project.id}/cloudservers"
    return Calls(
        {
            "show server": [f"{base}/{s}" for s in server_ids],
            "list servers p1": [f"{base}/detail?limit=100"],
            "list servers mid page (offset)": [f"{base}/detail?limit=100&offset={later_page}"],
            "list servers marker": [f"{base}/detail?limit=100&marker={middle}"],
            "list DeHs": [f"/v1.0/{project.id}/dedicated-hosts"],
            "show DeH": [f"/v1.0/{project.id}/dedicated-hosts/{d}" for d in deh_ids],
        }
    )


def latencies(
    server: ServerProcess,
    project: Project,
    paths: list[str],
    requests: int,
    seconds: float,
    workdir: Path,
) -> list[float]:
    """``requests`` calls one at a time, or fewer if ``seconds`` run out (bench.loadgen, in
    its own process)."""
    spec = {
        "port": server.port,
        "requests": [raw_request("GET", server.url + p, project).decode("latin-1") for p in paths],
        "expect": 200,
        "concurrency": 1,
        "max_requests": requests,
        "seconds": seconds,
        "cycle": True,
    }
    result = start_load(spec, workdir / "calls")()
    return [float(x) for x in result["latencies"]]


@dataclass
class RegionFigures:
    startups: list[float]
    rss_started: list[float]
    rss_loaded: list[float]
    calls: dict[str, list[float]]  # name → latencies of every run


def build_region(url: str, shape: Shape, workdir: Path) -> Path:
    catalog = write_catalog(workdir / "catalog.toml", shape.catalog())
    first = ServerProcess(url, catalog, log_path=workdir / "serve-load.log").start()
    try:
        with httpx.Client(timeout=60) as http:
            client = SignedClient(http, first.url, bench_project(1))
            fleet = stopped_fleet(client, 1, pairs=1)
    finally:
        first.stop()
    db = connect(url)
    try:
        with db.read() as conn:
            template = read_template(conn, fleet.sources[0])
    finally:
        db.dispose()
    started = time.perf_counter()
    load(url, shape, template)
    print(f"  loaded {shape} in {time.perf_counter() - started:.1f} s", flush=True)
    check_no_drift(url)
    print("  coldshift check: no drift", flush=True)
    return catalog


def measure(
    url: str, catalog: Path, runs: int, requests: int, seconds: float, workdir: Path
) -> RegionFigures:
    figures = RegionFigures([], [], [], {})
    project = bench_project(1)
    for run in range(runs + 1):  # the first start warms the OS caches: not counted
        server = ServerProcess(url, catalog, log_path=workdir / "serve.log")
        started = time.perf_counter()
        server.start()
        startup = time.perf_counter() - started
        try:
            rss = rss_mb(server)
            calls = calls_for(server.url, project, url)
            measured = {
                name: latencies(server, project, paths, requests, seconds, workdir)
                for name, paths in calls.paths.items()
            }
            if run == 0:
                continue
            figures.startups.append(startup)
            figures.rss_started.append(rss)
            figures.rss_loaded.append(rss_mb(server))
            for name, values in measured.items():
                figures.calls.setdefault(name, []).extend(values)
        finally:
            server.stop()
    return figures


def report(shape: Shape, big: RegionFigures, small: RegionFigures, small_shape: Shape) -> None:
    print(
        f"\n== state scale: {shape.hosts} hosts, {shape.servers} servers, {shape.projects} "
        f"projects (baseline: {small_shape.hosts} hosts, {small_shape.servers} servers)"
    )
    for what, values, base, unit, digits in (
        ("start-up", big.startups, small.startups, " s", 2),
        ("RSS after start", big.rss_started, small.rss_started, " MB", 0),
        ("RSS after the calls", big.rss_loaded, small.rss_loaded, " MB", 0),
    ):
        print(f"{what:20} {spread(values, unit, digits)}   baseline {spread(base, unit, digits)}")
    header = ("call", "p50 ms", "p99 ms", "base p50", "base p99", "p50 ratio")
    print(f"{header[0]:40}" + "".join(f"{h:>10}" for h in header[1:]))
    for name, values in big.calls.items():
        base = small.calls[name]
        row = [percentile(v, q) * 1000 for v in (values, base) for q in (0.5, 0.99)]
        cells = [row[0], row[1], row[2], row[3], row[0] / row[2]]
        print(f"{name + f' (n={len(values)})':40}" + "".join(f"{c:10.2f}" for c in cells))


def regions(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Shape, RegionFigures]]:
    small = Shape(max(10, args.hosts // 1000), max(100, args.servers // 1000), args.projects)
    for name, shape in (("small", small), ("big", Shape(args.hosts, args.servers, args.projects))):
        place = workdir / name
        place.mkdir()
        with ExitStack() as stack:
            url = stack.enter_context(database(args.db, place, name))
            print(f"{name} region:", flush=True)
            catalog = build_region(url, shape, place)
            yield shape, measure(url, catalog, args.runs, args.requests, args.seconds, place)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20, help="bound of each call's load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (small_shape, small), (shape, big) = list(regions(args, Path(tmp)))
        report(shape, big, small, small_shape)


if __name__ == "__main__":
    main()
