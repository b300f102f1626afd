"""What this process knows has been committed: one generation per table.

A cached read (the API's pre-encoded answers) is stamped with the generations of the tables it
was built from, taken before the read; it may be served again while the stamp is unchanged.
That is exact when every commit bumps its tables' generations before anyone can have seen it
acknowledged:

- this process's own writes: ``Database.write`` bumps the tables its transaction wrote right
  after the commit, before the caller (an HTTP handler, a job step) goes on;
- other processes' writes (PostgreSQL only): a trigger on every table NOTIFYs the table's name
  at commit, and ``ChangeListener`` bumps it here. A notification may still be in flight when
  a client, having had its answer from another process, asks this one; so on PostgreSQL a stamp
  is only given after a barrier (``ChangeListener.barrier``): this process NOTIFYs a token of
  its own and waits until its listener hears it. PostgreSQL delivers notifications in commit
  order, so by then every commit made before the stamp was asked for has been heard.

SQLite has one serving process (``coldshift serve`` holds the file); its own writes are all.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine, event

#: where a connection collects the names of the tables its open transaction wrote
WRITTEN = "coldshift_written"


class ChangeFeed:
    """Per-table generations, bumped after each commit this process makes or hears of."""

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}
        #: bumped when what changed is unknown (a listener that reconnected may have missed
        #: notifications): every stamp changes
        self._epoch = 0
        self._lock = threading.Lock()
        #: None: every commit is this process's own (SQLite); else the barrier that makes
        #: every earlier commit of other processes heard, False when it could not (the same,
        #: awaited on an event loop)
        self._barrier: Callable[[], bool] | None = None
        self._barrier_async: Callable[[], Awaitable[bool]] | None = None

    def hear_others(
        self, barrier: Callable[[], bool], barrier_async: Callable[[], Awaitable[bool]]
    ) -> None:
        self._barrier = barrier
        self._barrier_async = barrier_async

    def stamp(self, tables: Iterable[str]) -> int | None:
        """A number that differs from every earlier one once a commit made before this call
        wrote one of ``tables``; None when that cannot be vouched for (serve no cache)."""
        if self._barrier is not None and not self._barrier():
            return None
        return self._sum(tables)

    async def stamp_async(self, tables: Iterable[str]) -> int | None:
        """``stamp`` for a caller on an event loop: the barrier is awaited, not waited on."""
        if self._barrier_async is not None and not await self._barrier_async():
            return None
        return self._sum(tables)

    def _sum(self, tables: Iterable[str]) -> int:
        generations = self._generations
        return self._epoch + sum(generations.get(t, 0) for t in tables)

    def committed(self, tables: Iterable[str]) -> None:
        with self._lock:
            for table in tables:
                self._generations[table] = self._generations.get(table, 0) + 1

    def everything_changed(self) -> None:
        with self._lock:
            self._epoch += 1


def track_writes(engine: Engine) -> None:
    """Collect, per connection, the tables its statements insert into, update or delete from
    (``Database.write`` reads them at commit)."""

    @event.listens_for(engine, "after_execute")
    def _wrote(conn: Connection, clause: Any, *_: Any) -> None:
        if getattr(clause, "is_dml", False):
            written: set[str] | None = conn.info.get(WRITTEN)
            if written is not None:
                written.add(clause.table.name)
