"""`coldshift serve` refuses a bad catalog, a port in use and a database it cannot use at
start, in one line that names the problem (and never a password), with the exit codes of
operations.md: 2 bad usage, 3 unreachable."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huaweicloudsdkecs.v2 import model as ecs_model

from tests.conftest import PG_URL, require_pg
from tests.e2e import sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import TEST_CATALOG, ServerProcess, ecs_client, free_port


def serve(catalog: Path, db_url: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    port = free_port() if port is None else port
    return coldshift("serve", "--catalog", str(catalog), "--db", db_url, "--port", str(port))


def coldshift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldshift", *args], capture_output=True, text=True, timeout=120
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The whole output is one line: no traceback, no banner, no shutdown log."""
    output = result.stdout + result.stderr
    assert output.count("\n") == 1 and output.endswith("\n"), output
    assert "Traceback" not in output and "listening" not in output, output
    return output.strip()


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


def test_a_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(TEST_CATALOG, f"sqlite:///{tmp_path / 'x.db'}", port)
    assert result.returncode == 2
    assert (
        one_line(result) == f"coldshift: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert not (tmp_path / "x.db").exists()  # no schema was created for nothing


BAD_USAGE = [
    ("mysql://u:secret@h/db", "unsupported database mysql://u:***@h/db"),
    ("postgresql://postgres@127.0.0.1:5432/", "no database name in postgresql://postgres@"),
    ("postgresql://u:secret@h:port/db", "not a database URL: postgresql://u:***@h:port/db"),
]


@pytest.mark.parametrize("command", ["serve", "check"])
@pytest.mark.parametrize(("url", "expected"), BAD_USAGE)
def test_a_database_url_that_cannot_work_is_bad_usage(
    tmp_path: Path, command: str, url: str, expected: str
) -> None:
    result = serve(TEST_CATALOG, url) if command == "serve" else coldshift("check", "--db", url)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"coldshift: {expected}") and "secret" not in line
    assert "sqlite:///PATH or postgresql://" in line  # what to write instead


@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_database_that_does_not_answer_is_unreachable(command: str) -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/test"  # nothing listens on port 1
    result = serve(TEST_CATALOG, url) if command == "serve" else coldshift("check", "--db", url)
    assert result.returncode == 3
    assert one_line(result) == (
        "coldshift: cannot reach database postgresql://postgres:***@127.0.0.1:1/test "
        "(Connection refused); start PostgreSQL there or correct the host, port, user and "
        "password"
    )


@pytest.mark.pg
@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_database_missing_on_its_server_is_unreachable(command: str) -> None:
    require_pg()
    name = "coldshift_none_" + uuid.uuid4().hex[:8]
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    result = serve(TEST_CATALOG, url) if command == "serve" else coldshift("check", "--db", url)
    assert result.returncode == 3
    line = one_line(result)
    assert f'(database "{name}" does not exist); create it (createdb {name})' in line
