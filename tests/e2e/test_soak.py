"""Soak: mixed load from several SDK clients on three processes sharing PostgreSQL, while the
processes are killed (SIGKILL or SIGTERM) and started again at random.

Bounded in time and count, loopback only. The default run is short (CI runs it);
``COLDSHIFT_SOAK_SECONDS=300 pytest tests/e2e/test_soak.py -s`` runs a long one.
At the end every job is terminal and `coldshift check` finds no drift.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    ConnectionException,
    RequestTimeoutException,
    ServerResponseException,
)

from tests.e2e import sdk
from tests.e2e.cluster import assert_no_drift, job_rows, scale_catalog, start_cluster
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ecs_client, wait_for

pytestmark = pytest.mark.pg

SECONDS = float(os.environ.get("COLDSHIFT_SOAK_SECONDS", "20"))
MAX_REQUESTS_PER_CLIENT = 5000
CLIENTS = 3
OWNED_AT_MOST = 12
ARGS = ("--workers", "8", "--lease-seconds", "2")


@dataclass
class Tally:
    """What the clients and the chaos did; shared by threads, so guarded by a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def add(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


@dataclass
class Client:
    """One SDK user: acts on its own servers at random through any live process."""

    urls: list[str]
    dehs: list[str]
    tally: Tally
    rng: random.Random
    owned: list[str] = field(default_factory=list)

    def run(self, deadline: float) -> None:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            self.once()

    def once(self) -> None:
        name, action, server = self.pick()
        client = ecs_client(self.rng.choice(self.urls))
        try:
            action(client)
            self.tally.add(f"{name} accepted")
        except ClientRequestException as exc:
            self.tally.add(f"{name} refused {exc.status_code} {exc.error_code}")
            if exc.error_code == "Ecs.0114" and server in self.owned:
                self.owned.remove(server)  # its create failed, or a delete went through unseen
        except ServerResponseException as exc:
            self.tally.add(f"{name} 5xx")
            with self.tally.lock:
                self.tally.server_errors.append(f"{name}: {exc}")
        except (ConnectionException, RequestTimeoutException):
            self.tally.add(f"{name} unreachable")  # the process was being restarted

    def pick(self) -> tuple[str, Callable[[Any], None], str | None]:
        if len(self.owned) < 2 or (len(self.owned) < OWNED_AT_MOST and self.rng.random() < 0.25):
            return "create", self.create, None
        server = self.rng.choice(self.owned)
        choices: list[tuple[str, Callable[[Any], None]]] = [
            ("migrate", lambda c: self.migrate(c, server)),
            ("migrate", lambda c: self.migrate(c, server)),
            ("stop", lambda c: sdk.stop(c, server)),
            ("start", lambda c: sdk.start(c, server)),
            ("delete", lambda c: self.delete(c, server)),
        ]
        name, action = self.rng.choice(choices)
        return name, action, server

    def create(self, client: Any) -> None:
        target = self.rng.choice([None, *self.dehs])
        where: dict[str, Any] = (
            {"tenancy": "dedicated", "dedicated_host_id": target} if target else {}
        )
        response = sdk.create_servers(client, count=self.rng.choice([1, 2]), **where)
        self.owned.extend(response.server_ids)

    def migrate(self, client: Any, server_id: str) -> None:
        sdk.migrate(client, server_id, self.rng.choice([None, *self.dehs]))

    def delete(self, client: Any, server_id: str) -> None:
        sdk.delete(client, server_id)
        if server_id in self.owned:
            self.owned.remove(server_id)


def chaos(region: Region, deadline: float, rng: random.Random, tally: Tally) -> None:
    """Kill or stop one process at a time, at random, and start it again."""
    pause = threading.Event()
    while not pause.wait(rng.uniform(1.5, 4.0)) and time.monotonic() < deadline:
        index, kill = rng.randrange(len(region.servers)), rng.random() < 0.7
        region.restart(*ARGS, index=index, kill=kill)
        tally.add("process killed -9" if kill else "process stopped (SIGTERM)")


def unfinished_jobs(db_url: str) -> int:
    rows = job_rows(db_url, "SELECT count(*) FROM jobs WHERE status IN ('INIT', 'RUNNING')")
    return int(rows[0][0])


def test_soak_with_processes_killed_and_restarted_at_random(tmp_path: Path) -> None:
    with region_on("pg", tmp_path) as region:
        region.catalog = scale_catalog(tmp_path, action_seconds=0.05, pool_hosts=12)
        start_cluster(region, 3, *ARGS)
        dehs = sdk.allocate(region.deh(), quantity=4)
        urls = [p.url for p in region.servers]
        tally, seed = Tally(), 20261129
        clients = [Client(urls, dehs, tally, random.Random(seed + i)) for i in range(CLIENTS)]
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
        for thread in threads:
            thread.start()
        chaos(region, deadline, random.Random(seed), tally)
        for thread in threads:
            thread.join(60)

        wait_for(lambda: unfinished_jobs(region.db_url) == 0, 120, "every job to end")
        statuses = job_rows(
            region.db_url,
            "SELECT status, count(*) FROM jobs WHERE parent_id IS NULL GROUP BY status",
        )
        report = "\n".join(
            [f"soak {SECONDS:.0f}s, {CLIENTS} clients, 3 processes:"]
            + [f"  {key}: {n}" for key, n in sorted(tally.counts.items())]
            + [f"  jobs {status}: {n}" for status, n in sorted(statuses)]
        )
        print(report)
        (tmp_path / "soak-report.txt").write_text(report)

        assert tally.server_errors == []
        assert not any(t.is_alive() for t in threads)
        assert sum(n for k, n in tally.counts.items() if k.endswith("accepted")) >= 10, report
        assert sum(n for k, n in tally.counts.items() if k.startswith("process")) >= 1, report
        assert_no_drift(region.db_url)
