"""PostgreSQL's pooled connections: one that lay idle is pinged before it is lent, so a
connection the server dropped meanwhile is replaced rather than failing a request; one used a
moment ago is lent without the ping's round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from coldshift.persistence.db import Database, connect
from tests.conftest import PG_URL, require_pg
from tests.e2e.harness import fresh_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_pg()
    with fresh_pg_database(PG_URL) as url:
        yield url


def _backend_pid(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # pg_terminate_backend only signals: wait until the backend has gone
        for _ in range(1000):
            gone = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            row = gone.fetchone()
            if row is not None and row[0] == 0:
                return
            admin.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"backend {pid} still there")


def test_a_connection_dropped_while_idle_is_replaced_before_it_is_lent(pg_url: str) -> None:
    db = connect(pg_url, pool_size=1, ping_after_idle=0.0)  # every lending after a use pings
    try:
        first = _backend_pid(db)
        _terminate(first)  # the server drops the pooled connection (a restart, a proxy)
        second = _backend_pid(db)  # no error: the ping found it dead, the pool reconnected
        assert second != first
    finally:
        db.dispose()


@pytest.mark.parametrize(("idle_after", "pings"), [(3600.0, 0), (0.0, 3)])
def test_a_connection_used_a_moment_ago_is_lent_without_a_ping(
    pg_url: str, idle_after: float, pings: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = connect(pg_url, pool_size=1, ping_after_idle=idle_after)
    pinged: list[object] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pinged.append(dbapi_conn)
        return ping(dbapi_conn)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    try:
        pids = {_backend_pid(db) for _ in range(3)}  # connect() lent it once already, to probe
        assert len(pids) == 1  # the same pooled connection each time
        assert len(pinged) == pings
    finally:
        db.dispose()
