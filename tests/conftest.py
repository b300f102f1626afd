from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("COLDSHIFT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {exc}"


def require_pg() -> None:
    skip_unless_ci(pg_available(), "PostgreSQL tests")


def skip_unless_ci(reason: str | None, what: str) -> None:
    """Skip when ``reason`` says why the test cannot run here; under CI=true, where every
    test must run, fail instead."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: {what} must run)")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "pg":
        from tests.e2e.harness import fresh_pg_database

        require_pg()
        with fresh_pg_database(PG_URL) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'coldshift.db'}"
