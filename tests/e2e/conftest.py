from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL, require_pg
from tests.e2e.harness import (
    ALPHA,
    TEST_CATALOG,
    ServerProcess,
    deh_client,
    ecs_client,
    fresh_pg_database,
    sqlite_url,
)

BACKENDS = ["sqlite", pytest.param("pg", marks=pytest.mark.pg)]


@dataclass
class Region:
    """A running region (one or more processes on one database) and SDK clients."""

    backend: str
    db_url: str
    tmp: Path
    catalog: Path = TEST_CATALOG
    servers: list[ServerProcess] = field(default_factory=list)

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, *extra_args: str) -> ServerProcess:
        process = ServerProcess(
            self.db_url,
            catalog=self.catalog,
            extra_args=extra_args,
            log_path=self.tmp / f"serve-{len(self.servers)}.log",
        )
        self.servers.append(process.start())
        return process

    def restart(self, *extra_args: str, index: int = 0, kill: bool = False) -> ServerProcess:
        """SIGTERM (or with ``kill`` SIGKILL) the process at ``index``, wait for its exit,
        start it again on the same port."""
        old = self.servers.pop(index)
        if kill:
            old.kill()
        else:
            old.stop()
        process = ServerProcess(
            self.db_url,
            catalog=self.catalog,
            port=old.port,
            extra_args=extra_args,
            log_path=old.log_path,
        )
        self.servers.insert(index, process.start())
        return process

    def stop_all(self) -> None:
        for process in self.servers:
            process.stop()

    def ecs(self, creds: tuple[str, str, str] = ALPHA) -> Any:
        return ecs_client(self.url, creds)

    def deh(self, creds: tuple[str, str, str] = ALPHA) -> Any:
        return deh_client(self.url, creds)


@contextmanager
def region_on(backend: str, tmp: Path, catalog: Path = TEST_CATALOG) -> Iterator[Region]:
    with ExitStack() as stack:
        if backend == "pg":
            require_pg()
            db_url = stack.enter_context(fresh_pg_database(PG_URL))
        else:
            db_url = sqlite_url(tmp)
        region = Region(backend, db_url, tmp, catalog)
        stack.callback(region.stop_all)
        yield region


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cold_region(backend: str, tmp_path: Path) -> Iterator[Region]:
    """A region on a fresh database, not yet started (for restart and kill tests)."""
    with region_on(backend, tmp_path) as region:
        yield region


@pytest.fixture
def region(cold_region: Region) -> Region:
    """A fresh running region per test: tests own its whole capacity."""
    cold_region.start()
    return cold_region


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Region]:
    """One running region per backend for a whole module (for read-mostly test tables)."""
    prefix = request.module.__name__.rsplit(".", 1)[-1]
    with region_on(request.param, tmp_path_factory.mktemp(f"{prefix}-{request.param}")) as region:
        region.start()
        yield region
