"""`coldshift serve` refuses a bad catalog at start, naming the key and the problem."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huaweicloudsdkecs.v2 import model as ecs_model

from tests.e2e import sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import TEST_CATALOG, ServerProcess, ecs_client, free_port


def serve(catalog: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "coldshift",
            "serve",
            "--catalog",
            str(catalog),
            "--db",
            db_url,
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_catalog_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TEST_CATALOG.read_text().replace("[region]\n", "[region]\ncolour = 1\n"))
    result = serve(bad, f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 2
    assert "region.colour" in result.stdout and "unknown key" in result.stdout


def test_a_catalog_that_drops_a_busy_pool_host_is_refused(cold_region: Region) -> None:
    region = cold_region
    region.start()
    sdk.create_and_wait(region.ecs(), az="az-b")  # az-b has one pool host: now busy
    region.stop_all()
    shrunk = region.tmp / "shrunk.toml"
    text = TEST_CATALOG.read_text()
    shrunk.write_text(
        text.replace(
            'availability_zone = "az-b"\nhost_type = "t1"\ncount = 1',
            'availability_zone = "az-b"\nhost_type = "t1"\ncount = 0',
        )
    )
    result = serve(shrunk, region.db_url)
    assert result.returncode == 2
    assert "pool-az-b-t1-001" in result.stdout and "still carry servers" in result.stdout


@pytest.mark.pg
def test_two_processes_starting_at_once_on_one_postgresql_database(tmp_path: Path) -> None:
    """Schema upgrade and pool reconciliation run under one advisory lock: both come up, and
    the pool is created once."""
    with region_on("pg", tmp_path) as region:
        first = ServerProcess(region.db_url, log_path=tmp_path / "a.log")
        second = ServerProcess(region.db_url, log_path=tmp_path / "b.log")
        with ThreadPoolExecutor(2) as pool:
            started = list(pool.map(lambda p: p.start(), [first, second]))
        region.servers.extend(started)
        counts = [
            ecs_client(p.url).list_servers_details(ecs_model.ListServersDetailsRequest()).count
            for p in started
        ]
        assert counts == [0, 0]
        [server_id] = sdk.create_and_wait(ecs_client(second.url), az="az-b")
        assert sdk.show(ecs_client(first.url), server_id).status == "ACTIVE"
