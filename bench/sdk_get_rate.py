"""Rough requests/s of a signed GET through the official SDK (one client thread).

Usage: .venv/bin/python -m bench.sdk_get_rate [--requests N] [--runs R]
Starts its own `coldshift serve` on loopback (SQLite in a temp dir), stops it at the end.
The SDK client and the server share this machine's 2 cores; the figure includes the SDK's own
signing and model-building cost, so it is a floor for the server, not its ceiling.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from huaweicloudsdkecs.v2 import model as ecs
from tests.e2e import sdk
from tests.e2e.harness import ServerProcess, ecs_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(f"sqlite:///{Path(tmp) / 'bench.db'}").start()
        try:
            client = ecs_client(server.url)
            [server_id] = sdk.create_and_wait(client)
            request = ecs.ShowServerRequest(server_id=server_id)
            for _ in range(50):  # warm-up
                client.show_server(request)
            rates = []
            for _ in range(args.runs):
                started = time.perf_counter()
                for _ in range(args.requests):
                    client.show_server(request)
                rates.append(args.requests / (time.perf_counter() - started))
        finally:
            server.stop()
    print(
        f"show_server via SDK: median {statistics.median(rates):.0f} req/s "
        f"(min {min(rates):.0f}, max {max(rates):.0f}) over {args.runs} runs "
        f"of {args.requests} requests"
    )


if __name__ == "__main__":
    main()
