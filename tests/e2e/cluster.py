"""Several `coldshift serve` processes on one PostgreSQL database, as an operator runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import TEST_CATALOG, ecs_client
from tests.e2e.test_durability import coldshift_check

T = TypeVar("T")

DEH_VCPUS = 16  # a t1 host: 2 NUMA nodes of 8 vCPUs
LARGE = 2  # vCPUs of t1.large.2


def scale_catalog(tmp: Path, *, action_seconds: float = 0.0, pool_hosts: int = 10) -> Path:
    """The test catalog with room for a few hundred servers and tens of DeHs."""
    text = (
        TEST_CATALOG.read_text()
        .replace("dedicated_hosts = 6", "dedicated_hosts = 40")
        .replace("instances = 40", "instances = 400")
        .replace(
            'availability_zone = "az-a"\nhost_type = "t1"\ncount = 2',
            f'availability_zone = "az-a"\nhost_type = "t1"\ncount = {pool_hosts}',
        )
        .replace("action_seconds = 0", f"action_seconds = {action_seconds}")
    )
    path = tmp / "scale.toml"
    path.write_text(text)
    return path


def start_cluster(region: Region, processes: int, *args: str) -> None:
    for _ in range(processes):
        region.start(*args)


def round_robin(region: Region, calls: Sequence[Callable[[Any], T]]) -> list[T]:
    """Run ``calls[i](client of process i mod n)`` all at once, so that they race."""
    urls = [p.url for p in region.servers]

    def run(index: int) -> T:
        return calls[index](ecs_client(urls[index % len(urls)]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(run, range(len(calls))))


def migrate_call(server_id: str, target: str | None) -> Callable[[Any], str]:
    return lambda client: sdk.migrate(client, server_id, target)


def final_statuses(region: Region, job_ids: Sequence[str], timeout: float = 180.0) -> list[Any]:
    client = region.ecs()
    return [sdk.wait_job(client, job_id, timeout) for job_id in job_ids]


def deh_servers(region: Region, host_id: str) -> tuple[int, int]:
    """(instance_total, available_vcpus) of a DeH, as the DeH API shows them."""
    view = sdk.raw_deh(region.deh(), host_id)
    return int(view["instance_total"]), int(view["available_vcpus"])


def assert_no_drift(db_url: str) -> None:
    result = coldshift_check(db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def job_rows(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the jobs table directly (leases and claim times are not in the Huawei API)."""
    with psycopg.connect(db_url) as conn:
        return list(conn.execute(sql, params).fetchall())
