from __future__ import annotations

from collections.abc import Iterator

import pytest

from coldshift.persistence.db import Database, connect
from coldshift.persistence.upgrades import upgrade


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = connect(db_url)
    upgrade(database)
    yield database
    database.dispose()
