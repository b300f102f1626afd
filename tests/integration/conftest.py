from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coldshift.persistence.db import Database, connect
from coldshift.persistence.schema import upgrade
from tests.conftest import PG_URL, require_pg
from tests.e2e.harness import fresh_pg_database


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "pg":
        require_pg()
        with fresh_pg_database(PG_URL) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'it.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = connect(db_url)
    upgrade(database)
    yield database
    database.dispose()
