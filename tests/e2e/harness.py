"""Real `coldshift serve` processes on loopback, and official SDK clients bound to them."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdeh.v1 import DeHClient
from huaweicloudsdkecs.v2 import EcsClient

HERE = Path(__file__).parent
TEST_CATALOG = HERE / "catalog.toml"
ALPHA = ("11111111111111111111111111111111", "TESTALPHAKEY00000001", "alpha-secret")
BETA = ("22222222222222222222222222222222", "TESTBETAKEY000000002", "beta-secret")
ADMIN = ("99999999999999999999999999999999", "TESTADMINKEY00000009", "admin-secret")

T = TypeVar("T")


#: ports below the kernel's ephemeral range (32768-60999), a block per pytest-xdist worker:
#: a port one worker found free is never handed to another worker's server before it binds
_WORKER_PORTS = 2000
_FIRST_PORT = 20000
_next_port = itertools.count()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    base = _FIRST_PORT + int(worker[2:]) * _WORKER_PORTS
    for _ in range(_WORKER_PORTS):
        port = base + next(_next_port) % _WORKER_PORTS
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # still held by an earlier test's process
            return port
    raise RuntimeError(f"no free port in {base}..{base + _WORKER_PORTS - 1}")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll until ``predicate`` returns a truthy value; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {last!r}")


@dataclass
class ServerProcess:
    db_url: str
    catalog: Path | None = TEST_CATALOG  # None: the catalog shipped in the package
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        catalog = ["--catalog", str(self.catalog)] if self.catalog else []
        args = [
            sys.executable,
            "-m",
            "coldshift",
            "serve",
            *catalog,
            "--db",
            self.db_url,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, 60, f"coldshift serve on port {self.port}")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"coldshift serve exited with {self.proc.returncode} (log: {self.log_path})"
            )
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def http_config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = (5, 60)
    return config


def ecs_client(url: str, creds: tuple[str, str, str] = ALPHA) -> Any:
    project_id, ak, sk = creds
    return (
        EcsClient.new_builder()
        .with_http_config(http_config())
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoint(url)
        .build()
    )


def deh_client(url: str, creds: tuple[str, str, str] = ALPHA) -> Any:
    project_id, ak, sk = creds
    return (
        DeHClient.new_builder()
        .with_http_config(http_config())
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoint(url)
        .build()
    )


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'region.db'}"


@contextmanager
def fresh_pg_database(base_url: str) -> Iterator[str]:
    """A new empty database on the PostgreSQL server of ``base_url``; dropped afterwards."""
    name = "coldshift_t_" + uuid.uuid4().hex[:12]
    admin = base_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
