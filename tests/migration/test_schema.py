"""The Alembic migrations build exactly the schema that tables.py describes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from coldshift.persistence.db import connect
from coldshift.persistence.schema import is_current, start_up_lock, upgrade
from coldshift.persistence.tables import metadata
from tests.conftest import PG_URL, require_pg
from tests.e2e.harness import fresh_pg_database


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "pg":
        require_pg()
        with fresh_pg_database(PG_URL) as pg_url:
            yield pg_url
    else:
        yield f"sqlite:///{tmp_path / 'schema.db'}"


def test_upgrade_head_equals_metadata(url: str) -> None:
    db = connect(url)
    upgrade(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_current(url: str) -> None:
    db = connect(url)
    upgrade(db)
    upgrade(db)
    assert is_current(db)
    db.dispose()


def test_two_processes_upgrading_at_once_both_succeed(url: str) -> None:
    """Two starts on one fresh database: the start-up advisory lock (PostgreSQL) or the write
    lock (SQLite) lets one create the schema and the other find it current."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        db = connect(url)
        try:
            barrier.wait()
            with start_up_lock(db):
                upgrade(db)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = connect(url)
    assert is_current(db)
    db.dispose()
