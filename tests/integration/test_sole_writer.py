"""SQLite's one write connection (``persistence.db.SoleWriter``): writers of many threads take
it in turn, every commit lands, a failed transaction leaves nothing and the next one goes on,
and a connection that was invalidated is replaced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import client_tokens
from coldshift.persistence.upgrades import upgrade


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = connect(f"sqlite:///{tmp_path / 'sole.db'}")
    upgrade(database)
    yield database
    database.dispose()


def _add(conn: Connection, token: str) -> None:
    row = dict(project_id="p", token=token, body_hash="h", response={}, created_at=0.0)
    conn.execute(client_tokens.insert().values(**row))


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(client_tokens)).scalar_one())


def test_writers_of_many_threads_share_one_connection_and_all_commit(sqlite_db: Database) -> None:
    assert sqlite_db.sole_writer is not None
    seen: set[int] = set()
    errors: list[BaseException] = []

    def writes(thread: int) -> None:
        try:
            for i in range(50):
                with sqlite_db.write() as conn:
                    seen.add(id(conn.connection.driver_connection))
                    _add(conn, f"{thread}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writes, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _count(sqlite_db) == 400
    assert len(seen) == 1


def test_a_failed_write_leaves_nothing_and_the_next_one_commits(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.write() as conn:
        _add(conn, "lost")
        raise RuntimeError("the step failed")
    with sqlite_db.write() as conn:
        _add(conn, "kept")
    with sqlite_db.read() as conn:
        tokens = conn.execute(select(client_tokens.c.token)).scalars().all()
    assert tokens == ["kept"]


def test_an_invalidated_connection_is_replaced(sqlite_db: Database) -> None:
    with sqlite_db.write() as conn:
        _add(conn, "before")
        first = conn
    first.invalidate()
    with sqlite_db.write() as conn:
        assert conn is not first
        _add(conn, "after")
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert _count(sqlite_db) == 2


def test_postgresql_writers_take_pooled_connections(db: Database) -> None:
    """Only SQLite has one writer at a time; PostgreSQL's writers run side by side."""
    assert (db.sole_writer is not None) == db.is_sqlite
