"""API speed: req/s and p50/p99 of coldshift's hot endpoints beside the ceilings of its stack.

Usage: .venv/bin/python -m bench.api [--concurrency 16,64] [--runs 5] [--seconds S]
                                      [--db sqlite|pg] [--servers N] [--tool wrk|loadgen]

Needs Debian's wrk (``apt-get install wrk``; ``.ci/run`` installs it) unless ``--tool loadgen``.

It starts a `coldshift serve` (bench/catalog.toml: zero simulated timings) and a ceiling server
(bench/ceiling.py: the same FastAPI + uvicorn stack with a trivial GET and a POST doing one
durable insert, same database kind and engine settings), prepares the region through the SDK,
then measures, per concurrency, a warm-up run and ``--runs`` runs of each endpoint, interleaved
so that the ceilings and coldshift share the machine's drift. Requests are signed once per run,
as the SDK signs (the signature window is 15 minutes), and replayed by wrk (bench/wrk.py) or
bench.loadgen, a separate process on loopback; every answer is checked for its expected status.

POST migrate: a migrate is refused while another task runs on the server, so each request of a
run names a different stopped server (``--servers`` of them, moved between two DeHs); the run
ends when they are used up or after ``--seconds``, and the next run waits for every accepted job
to end. The migration jobs run in the server meanwhile, as they would in production.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from tests.conftest import PG_URL
from tests.e2e import rawhttp, sdk
from tests.e2e.harness import ServerProcess, deh_client, ecs_client, free_port, wait_for
from tests.e2e.harness import fresh_pg_database as fresh_pg

from bench import wrk

HERE = Path(__file__).parent
CATALOG = HERE / "catalog.toml"
BENCH = ("b0000000000000000000000000000001", "BENCHACCESSKEY000001", "bench-secret")
LISTER = ("b0000000000000000000000000000002", "BENCHLISTKEY00000002", "lister-secret")
FLAVOR = "b1.tiny.1"
MAX_REQUESTS = 200_000  # per run, besides --seconds


@dataclass
class Endpoint:
    name: str
    ceiling: str | None  # the endpoint whose rate this one is compared with
    goal: str  # e.g. ">= 50% of insert" or ">= 500 req/s"
    meets: Callable[[float, float | None], bool]
    requests: Callable[[], tuple[list[bytes], int, bool]]  # (requests, status, cycle)
    after_run: Callable[[list[bytes]], None] = lambda _: None
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)


def raw_request(method: str, url: str, creds: tuple[str, str, str], body: bytes = b"") -> bytes:
    """One whole HTTP/1.1 request, signed now exactly as the SDK signs it."""
    headers = rawhttp.signed_headers(method, url, creds, body)
    path = url.split("/", 3)[3]
    lines = [f"{method} /{path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def plain_request(method: str, url: str, body: bytes = b"") -> bytes:
    netloc, path = url.split("/", 3)[2:]
    head = f"{method} /{path} HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


# ---- the servers -----------------------------------------------------------------------------


@contextmanager
def database_urls(kind: str) -> Iterator[tuple[str, str]]:
    """(coldshift's URL, the ceiling's URL): two fresh databases of ``kind``."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/region.db", f"sqlite:///{tmp}/ceiling.db"
        return
    with fresh_pg(PG_URL) as region_url, fresh_pg(PG_URL) as ceiling_url:
        yield region_url, ceiling_url


@contextmanager
def ceiling_server(db_url: str) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "bench.ceiling", "--db", db_url, "--port", str(port)]
    proc = subprocess.Popen(args)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url + "/trivial", proc), 60, "the ceiling server")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _answers(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"the ceiling server exited with {proc.returncode}")
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# ---- the region --------------------------------------------------------------------------


@dataclass
class Prepared:
    deh_a: str
    deh_b: str
    movers: list[str]  # stopped servers for POST migrate
    where: dict[str, str]  # mover -> the DeH it is on now
    shown_server: str  # a stopped server on a DeH, for GET server
    shown_job: str  # a finished migrate job, for GET job


def prepare(url: str, movers: int) -> Prepared:
    client = ecs_client(url, BENCH)
    deh_a, deh_b = sdk.allocate(deh_client(url, BENCH), az="az-a", host_type="b1", quantity=2)
    ids: list[str] = []
    for start in range(0, movers + 1, 100):
        count = min(100, movers + 1 - start)
        ids += sdk.stopped_servers(
            client, count=count, flavor=FLAVOR, az="az-a", dedicated_host_id=deh_a
        )
    shown, *rest = ids
    job = sdk.migrate_and_wait(client, shown, deh_b)
    assert job.status == "SUCCESS", job
    lister = ecs_client(url, LISTER)
    [deh_l] = sdk.allocate(deh_client(url, LISTER), az="az-a", host_type="b1")
    sdk.create_and_wait(lister, count=100, flavor=FLAVOR, az="az-a", dedicated_host_id=deh_l)
    return Prepared(deh_a, deh_b, rest, dict.fromkeys(rest, deh_a), shown, job.job_id)


def migrate_requests(url: str, prepared: Prepared) -> list[bytes]:
    """Each mover to the DeH it is not on."""
    project = BENCH[0]
    result = []
    for server_id in prepared.movers:
        target = prepared.deh_b if prepared.where[server_id] == prepared.deh_a else prepared.deh_a
        body = rawhttp.dumps({"migrate": {"dedicated_host_id": target}})
        target_url = f"{url}/v1/{project}/cloudservers/{server_id}/migrate"
        result.append(raw_request("POST", target_url, BENCH, body))
    return result


def settle_migrations(url: str, prepared: Prepared, sent: int) -> None:
    """Wait for the jobs of the first ``sent`` movers to end; note where each mover now is."""
    project = BENCH[0]
    for server_id in prepared.movers[:sent]:
        detail_url = f"{url}/v1/{project}/cloudservers/{server_id}"

        def idle(detail_url: str = detail_url) -> dict[str, Any] | None:
            server = rawhttp.ok_json(rawhttp.signed("GET", detail_url, BENCH))["server"]
            return server if server["OS-EXT-STS:task_state"] is None else None

        server = wait_for(idle, 120, f"the migration of {server_id} to end")
        assert server is not None
        # created without tenancy hints: a server never migrated shows none, and is still there
        moved_to = server["os:scheduler_hints"].get("dedicated_host_id")
        if moved_to:
            [prepared.where[server_id]] = moved_to


# ---- measuring ---------------------------------------------------------------------------


def run_load(
    port: int, requests: list[bytes], expect: int, concurrency: int, seconds: float, cycle: bool
) -> dict[str, Any]:
    spec = {
        "port": port,
        "requests": [r.decode("latin-1") for r in requests],
        "expect": expect,
        "concurrency": concurrency,
        "max_requests": MAX_REQUESTS,
        "seconds": seconds,
        "cycle": cycle,
    }
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out_path)}))
        subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(spec_path)],
            check=True,
            timeout=seconds + 120,
        )
        result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(
    endpoint: Endpoint, port: int, concurrency: int, seconds: float, keep: bool, tool: str
) -> None:
    requests, expect, cycle = endpoint.requests()
    if tool == "wrk":
        replayed = wrk.run(port, requests, expect, concurrency, seconds, cycle)
        completed, errors = replayed["ok"], replayed["bad"]
        error_text, p50, p99 = replayed["first_bad"], replayed["p50"], replayed["p99"]
        # wrk's threads each send every n-th request: wait for all that could have been sent
        endpoint.after_run(requests if not cycle else requests[:completed])
    else:
        result = run_load(port, requests, expect, concurrency, seconds, cycle)
        completed, errors = result["completed"], result["errors"]
        error_text = str(result["error_bodies"][:1])
        p50 = percentile(result["latencies"], 0.50)
        p99 = percentile(result["latencies"], 0.99)
        replayed = result
        endpoint.after_run(requests[:completed])
    if not keep:
        return
    if errors:
        endpoint.failed_runs.append(f"{errors} {error_text}")
    endpoint.rates.append(completed / replayed["elapsed"])
    endpoint.p50s.append(p50 * 1000)
    endpoint.p99s.append(p99 * 1000)


def at_least_ratio(goal: float) -> Callable[[float, float | None], bool]:
    return lambda rate, ceiling: ceiling is not None and rate >= goal * ceiling


def at_least_rate(goal: float) -> Callable[[float, float | None], bool]:
    return lambda rate, _: rate >= goal


def endpoints(url: str, ceiling_url: str, prepared: Prepared) -> list[Endpoint]:
    project = BENCH[0]

    def once(build: Callable[[], bytes], status: int = 200) -> Callable[[], Any]:
        return lambda: ([build()], status, True)

    def migrated(sent: list[bytes]) -> None:
        settle_migrations(url, prepared, len(sent))

    list_url = f"{url}/v1/{LISTER[0]}/cloudservers/detail?limit=100&offset=1"
    return [
        Endpoint(
            "ceiling: trivial GET",
            None,
            "",
            lambda *_: True,
            once(lambda: plain_request("GET", ceiling_url + "/trivial")),
        ),
        Endpoint(
            "ceiling: POST 1 insert",
            None,
            "",
            lambda *_: True,
            once(lambda: plain_request("POST", ceiling_url + "/insert", b'{"x": 1}')),
        ),
        Endpoint(
            "POST .../migrate",
            "ceiling: POST 1 insert",
            ">= 50% of insert",
            at_least_ratio(0.5),
            lambda: (migrate_requests(url, prepared), 200, False),
            migrated,
        ),
        Endpoint(
            "GET /jobs/{id}",
            "ceiling: trivial GET",
            ">= 70% of trivial",
            at_least_ratio(0.7),
            once(
                lambda: raw_request("GET", f"{url}/v1/{project}/jobs/{prepared.shown_job}", BENCH)
            ),
        ),
        Endpoint(
            "GET /cloudservers/{id}",
            "ceiling: trivial GET",
            ">= 70% of trivial",
            at_least_ratio(0.7),
            once(
                lambda: raw_request(
                    "GET", f"{url}/v1/{project}/cloudservers/{prepared.shown_server}", BENCH
                )
            ),
        ),
        Endpoint(
            "GET detail (100/page)",
            "ceiling: trivial GET",
            ">= 500 req/s",
            at_least_rate(500),
            once(lambda: raw_request("GET", list_url, LISTER)),
        ),
    ]


def report(rows: list[tuple[int, list[Endpoint]]]) -> str:
    header = (
        f"{'endpoint':<24} {'conc':>4} {'req/s med':>9} {'min':>7} {'max':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}  {'goal':<18} met?"
    )
    lines = [header, "-" * len(header)]
    for concurrency, measured in rows:
        by_name = {e.name: e for e in measured}
        for e in measured:
            rate = statistics.median(e.rates)
            ceiling = statistics.median(by_name[e.ceiling].rates) if e.ceiling else None
            ratio = f"{rate / ceiling:6.0%}" if ceiling else f"{'':6}"
            met = "" if not e.goal else ("yes" if e.meets(rate, ceiling) else "NO")
            if e.failed_runs:
                met = f"ERRORS in {len(e.failed_runs)} runs: {e.failed_runs[0]}"
            lines.append(
                f"{e.name:<24} {concurrency:>4} {rate:>9.0f} {min(e.rates):>7.0f} "
                f"{max(e.rates):>7.0f} {statistics.median(e.p50s):>7.1f} "
                f"{statistics.median(e.p99s):>7.1f} {ratio}  {e.goal:<18} {met}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--servers", type=int, default=3000, help="stopped servers to migrate")
    parser.add_argument(
        "--tool",
        choices=("wrk", "loadgen"),
        default="wrk",
        help="wrk (apt-get install wrk), or bench.loadgen (Python, slower than the server)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts of endpoint names to measure (the ceilings always run)",
    )
    parser.add_argument(
        "--serve-args",
        default="",
        help="more arguments for coldshift serve, e.g. '--workers 1' (a profile of one part)",
    )
    args = parser.parse_args()
    wanted = [part for part in args.only.split(",") if part]
    levels = [int(c) for c in args.concurrency.split(",")]
    with ExitStack() as stack:
        region_url, ceiling_db = stack.enter_context(database_urls(args.db))
        log = Path(tempfile.mkdtemp(prefix="bench-api-")) / "serve.log"
        server = ServerProcess(
            region_url,
            catalog=CATALOG,
            log_path=log,
            extra_args=tuple(shlex.split(args.serve_args)),
        ).start()
        stack.callback(server.stop)
        ceiling_url = stack.enter_context(ceiling_server(ceiling_db))
        started = time.monotonic()
        prepared = prepare(server.url, args.servers)
        print(f"prepared {args.servers + 101} servers in {time.monotonic() - started:.0f} s")
        print(f"coldshift pid {server.proc.pid if server.proc else '?'}, log {log}", flush=True)
        rows = []
        for concurrency in levels:
            measured = [
                endpoint
                for endpoint in endpoints(server.url, ceiling_url, prepared)
                if endpoint.name.startswith("ceiling")
                or not wanted
                or any(part in endpoint.name for part in wanted)
            ]
            for run in range(args.runs + 1):  # run 0 is the warm-up
                for endpoint in measured:
                    port = urlsplit(ceiling_url if "ceiling" in endpoint.name else server.url).port
                    assert port is not None
                    measure(endpoint, port, concurrency, args.seconds, run > 0, args.tool)
            rows.append((concurrency, measured))
            print(report(rows[-1:]), flush=True)
    print()
    print(f"db={args.db}, {args.runs} runs of {args.seconds} s after a warm-up, by {args.tool};")
    print("the load generator and the servers share the machine's cores.")
    print(report(rows))


if __name__ == "__main__":
    main()
