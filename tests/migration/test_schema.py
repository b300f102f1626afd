"""The Alembic migrations build exactly the schema that tables.py describes."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from coldshift.persistence.db import connect
from coldshift.persistence.tables import metadata
from coldshift.persistence.upgrades import is_current, start_up_lock, upgrade


def test_upgrade_head_equals_metadata(db_url: str) -> None:
    db = connect(db_url)
    upgrade(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_current(db_url: str) -> None:
    db = connect(db_url)
    upgrade(db)
    upgrade(db)
    assert is_current(db)
    db.dispose()


def test_two_processes_upgrading_at_once_both_succeed(db_url: str) -> None:
    """Two starts on one fresh database: the start-up advisory lock (PostgreSQL) or the write
    lock (SQLite) lets one create the schema and the other find it current."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        db = connect(db_url)
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
    db = connect(db_url)
    assert is_current(db)
    db.dispose()
