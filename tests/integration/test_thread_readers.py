"""SQLite's read connections kept per thread (persistence.db.ThreadReaders): a thread's reads
reuse one connection, a read inside a read still works, every thread has its own, they see
each commit, and dispose closes them all."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from sqlalchemy import Connection, func, select

from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import client_tokens
from coldshift.persistence.upgrades import upgrade


def _database(tmp_path: Path) -> Database:
    db = connect(f"sqlite:///{tmp_path / 'readers.db'}")
    upgrade(db)
    return db


def _tokens(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(client_tokens)).scalar_one())


def _add_token(db: Database, token: str) -> None:
    row = dict(project_id="p", token=token, body_hash="h", response={}, created_at=0.0)
    with db.write() as conn:
        conn.execute(client_tokens.insert().values(**row))


def _reader_ids(db: Database) -> set[int]:
    ids: set[int] = set()
    for _ in range(3):
        with db.read() as conn:
            ids.add(id(conn.connection.driver_connection))
    return ids


def test_a_thread_reads_on_one_connection_of_its_own(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        mine = _reader_ids(db)
        assert len(mine) == 1  # kept between reads
        theirs: list[set[int]] = []
        other = threading.Thread(target=lambda: theirs.append(_reader_ids(db)))
        other.start()
        other.join()
        assert len(theirs[0]) == 1 and theirs[0] != mine  # one per thread
    finally:
        db.dispose()


def test_reads_see_each_commit_and_nest(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        assert _tokens(db) == 0
        _add_token(db, "a")
        assert _tokens(db) == 1  # the kept connection holds no old snapshot between reads
        with db.read() as outer:
            _add_token(db, "b")
            assert _tokens(db) == 2  # a read inside a read: a pooled connection, a new state
            assert outer.execute(select(func.count()).select_from(client_tokens)).scalar_one()
        with db.snapshot():
            assert _tokens(db) == 2
    finally:
        db.dispose()


def test_a_reader_is_closed_with_its_thread_or_at_dispose(tmp_path: Path) -> None:
    db = _database(tmp_path)
    readers = db.readers
    assert readers is not None
    kept: list[Connection | None] = []
    done = threading.Event()
    opened = threading.Barrier(4)

    def read_then_wait() -> None:
        kept.append(readers.connection())
        opened.wait(timeout=30)
        done.wait(timeout=30)

    alive = [threading.Thread(target=read_then_wait) for _ in range(3)]
    for thread in alive:
        thread.start()
    opened.wait(timeout=30)  # each living thread has its reader
    gone = threading.Thread(target=lambda: kept.append(readers.connection()))
    gone.start()
    gone.join()
    del gone
    gc.collect()  # the finished thread's object goes, and its reader with it
    # the readers of living threads stay open
    assert [conn is not None and conn.closed for conn in kept] == [False, False, False, True]
    db.dispose()
    assert all(conn is not None and conn.closed for conn in kept)
    done.set()
    for thread in alive:
        thread.join()
