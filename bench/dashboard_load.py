"""GET server latency with and without the dashboard open and live, and the cost of the HTTP
metrics middleware on its own.

Usage: .venv/bin/python -m bench.dashboard_load [--requests 3000] [--dashboards 4]
                                                [--pythonpath DIR]

It starts a `coldshift serve` (the e2e test catalog, SQLite), creates one server, then sends
``--requests`` signed GET server requests one after another on one keep-alive connection
(signed once: the signature window is 15 minutes) and prints p50/p99: first idle, then while
``--dashboards`` admin sessions poll the live fragments as the page's script does (jobs every
second, hosts every five). ``--pythonpath`` runs another source tree's `coldshift serve` (e.g.
an export of main, to compare with the code before the metrics middleware); the dashboard run
is skipped where there is no dashboard. Last, the middleware alone: a trivial ASGI app called
in-process with and without HttpMetrics around it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.e2e import rawhttp, sdk
from tests.e2e.browser import http_session
from tests.e2e.harness import ADMIN, ALPHA, ServerProcess, ecs_client, sqlite_url


def get_server_latencies(url: str, server_id: str, count: int) -> list[float]:
    target = f"{url}/v1/{ALPHA[0]}/cloudservers/{server_id}"
    headers = rawhttp.signed_headers("GET", target, ALPHA)
    latencies = []
    with httpx.Client(timeout=10) as client:
        for _ in range(200):  # warm-up
            client.get(target, headers=headers)
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(target, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return latencies


def poll_like_the_page(url: str, stop: threading.Event, polls: list[int]) -> None:
    with http_session(url, ADMIN) as client:
        tick = 0
        while not stop.wait(1.0):
            assert client.get(f"{url}/dashboard/live/jobs").status_code == 200
            polls[0] += 1
            tick += 1
            if tick % 5 == 0:
                assert client.get(f"{url}/dashboard/live/hosts").status_code == 200
                polls[0] += 1


def summary(name: str, latencies: list[float]) -> str:
    ms = sorted(v * 1000 for v in latencies)
    p50 = statistics.median(ms)
    p99 = ms[int(0.99 * (len(ms) - 1))]
    return f"{name:<44} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   (n={len(ms)})"


def middleware_cost(calls: int = 200_000) -> str:
    from coldshift.metrics import HttpMetrics, Metrics
    from coldshift.testing import FrozenClock, InMemoryJobStore, InMemoryRegionStore

    class Route:
        path = "/v1/{project_id}/cloudservers/{server_id}"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = Route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_: Message) -> None:
        pass

    clock = FrozenClock()
    wrapped = HttpMetrics(app, Metrics(InMemoryRegionStore(InMemoryJobStore(clock), clock)))

    async def run(target: ASGIApp) -> float:
        scope = {"type": "http", "method": "GET", "path": "/x"}
        started = time.perf_counter()
        for _ in range(calls):
            await target(dict(scope), receive, send)
        return (time.perf_counter() - started) / calls

    bare, with_metrics = asyncio.run(run(app)), asyncio.run(run(wrapped))
    return (
        f"HttpMetrics alone: {1e6 * (with_metrics - bare):.2f} µs a request "
        f"(trivial app {1e6 * bare:.2f} µs, wrapped {1e6 * with_metrics:.2f} µs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--dashboards", type=int, default=4)
    parser.add_argument("--pythonpath", default=None)
    args = parser.parse_args()
    if args.pythonpath:
        os.environ["PYTHONPATH"] = str(Path(args.pythonpath).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(sqlite_url(Path(tmp))).start()
        try:
            (server_id,) = sdk.create_and_wait(ecs_client(server.url, ALPHA))
            print(
                summary(
                    "GET server, idle", get_server_latencies(server.url, server_id, args.requests)
                )
            )
            if httpx.get(f"{server.url}/dashboard").status_code != 200:
                print("(no dashboard in this build)")
                return
            stop, polls = threading.Event(), [0]
            pollers = [
                threading.Thread(target=poll_like_the_page, args=(server.url, stop, polls))
                for _ in range(args.dashboards)
            ]
            for t in pollers:
                t.start()
            time.sleep(1.5)
            latencies = get_server_latencies(server.url, server_id, args.requests)
            stop.set()
            for t in pollers:
                t.join()
            name = f"GET server, {args.dashboards} dashboards live"
            print(summary(name, latencies) + f"  [{polls[0]} fragment polls]")
        finally:
            server.stop()
    if not args.pythonpath:
        print(middleware_cost())


if __name__ == "__main__":
    main()
