"""What every SQL store holds: the database, and the clock that stamps its writes."""

from __future__ import annotations

from collections.abc import Callable

from coldshift.persistence.db import Database


class SqlStore:
    """The base of the SQL stores by port; SqlRegionStore joins them."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock
