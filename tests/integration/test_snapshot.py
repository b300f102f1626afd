"""``Database.snapshot``: the reads a request's checks make inside it see one state of the
database, on SQLite and on PostgreSQL (where read committed alone would not)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import client_tokens
from coldshift.persistence.upgrades import upgrade


@pytest.fixture
def other(db_url: str) -> Iterator[Database]:
    database = connect(db_url)
    upgrade(database)
    yield database
    database.dispose()


def _tokens(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(client_tokens)).scalar_one())


def _add_token(db: Database, token: str) -> None:
    row = dict(project_id="p", token=token, body_hash="h", response={}, created_at=0.0)
    with db.write() as conn:
        conn.execute(client_tokens.insert().values(**row))


def test_reads_inside_a_snapshot_see_one_state(db: Database, other: Database) -> None:
    _add_token(other, "before")
    with db.snapshot():
        first = _tokens(db)
        _add_token(other, "during")  # another process commits meanwhile
        assert _tokens(db) == first == 1
    assert _tokens(db) == 2  # outside, the commit is seen
