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


def _row(token: str) -> dict[str, object]:
    return dict(project_id="p", token=token, body_hash="h", response={}, created_at=0.0)


def _add_token(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute(client_tokens.insert().values(**_row(token)))


def test_reads_inside_a_snapshot_see_one_state(db: Database, other: Database) -> None:
    _add_token(other, "before")
    with db.snapshot():
        first = _tokens(db)
        _add_token(other, "during")  # another process commits meanwhile
        assert _tokens(db) == first == 1
    assert _tokens(db) == 2  # outside, the commit is seen


def test_reads_inside_a_write_join_it(db: Database, other: Database) -> None:
    """A request's checks read inside its submission's write (Region.store.one_transaction):
    they see what the write has done so far, and a refusal undoes everything."""
    with db.write() as conn:
        conn.execute(client_tokens.insert().values(**_row("mine")))
        assert _tokens(db) == 1  # the write's own, uncommitted change
        with db.snapshot():
            assert _tokens(db) == 1  # the snapshot joins the write too
        assert _tokens(other) == 0  # another process does not see it before the commit
    assert _tokens(other) == 1
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(client_tokens.insert().values(**_row("refused")))
        assert _tokens(db) == 2
        raise RuntimeError("a check refuses")
    assert _tokens(db) == _tokens(other) == 1
