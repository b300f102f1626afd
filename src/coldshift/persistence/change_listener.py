"""Other processes' commits, heard on PostgreSQL (see change_feed for why this is exact).

Every table has a statement trigger (Alembic 0009) that NOTIFYs ``coldshift_changes`` with the
table's name; a listening thread bumps the feed. A barrier NOTIFYs a token of this process and
waits for it to come back: notifications arrive in commit order, so every commit made before
the barrier began has been heard when it returns.

Barriers are shared in rounds: a caller waits for the first round begun after it arrived, so a
burst of reads costs one round trip, not one each. A sending thread begins the rounds and the
listening thread settles them. Callers on an event loop (``barrier_async``) wait on a future
that the listener resolves on their loop, so the hot cached GETs never leave the loop; other
callers (``barrier``) wait on an event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass

import psycopg

from coldshift.persistence.change_feed import ChangeFeed
from coldshift.persistence.db import Database

CHANNEL = "coldshift_changes"
_SYNC = "sync:"

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Waiter:
    #: the round whose return answers this caller
    round: int
    #: a caller on an event loop waits on a future of that loop ...
    future: asyncio.Future[bool] | None = None
    #: ... any other on an event, with the answer beside it
    event: threading.Event | None = None
    ok: bool = False


class ChangeListener:
    def __init__(
        self,
        db: Database,
        *,
        barrier_seconds: float = 2.0,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self._conninfo = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._feed: ChangeFeed = db.changes
        self._token = os.urandom(8).hex()
        self._patience = barrier_seconds
        self._reconnect = reconnect_seconds
        self._stopping = threading.Event()
        self._listening = False
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._started = 0  # the last round whose NOTIFY was begun
        self._asked = 0  # the last round a waiter waits for
        self._waiters: list[_Waiter] = []
        self._wanted = threading.Event()  # a waiter needs a round not yet begun
        self._sender: psycopg.Connection | None = None
        self._threads = (
            threading.Thread(target=self._run, name="coldshift-changes", daemon=True),
            threading.Thread(target=self._send_rounds, name="coldshift-barrier", daemon=True),
        )
        # From now on no stamp is given without a barrier (none succeeds before start()).
        self._feed.hear_others(self.barrier, self.barrier_async)

    def start(self, ready_timeout: float = 10.0) -> None:
        for thread in self._threads:
            thread.start()
        if not self._ready.wait(ready_timeout):
            log.warning(
                "change listener not ready after %.0fs; reads skip the cache", ready_timeout
            )

    def stop(self) -> None:
        self._stopping.set()
        self._wanted.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(2.0)
        self._set_listening(False)
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    @property
    def rounds(self) -> int:
        """How many barrier rounds were begun (each is one NOTIFY travelling)."""
        return self._started

    def barrier(self) -> bool:
        """Return once every commit made before the call has been heard (False: could not
        tell within the patience, or no connection listens now)."""
        waiter = self._wait_for_round(event=threading.Event())
        if waiter is None or waiter.event is None:
            return False
        if not waiter.event.wait(self._patience):
            self._forget(waiter)
        return waiter.ok

    async def barrier_async(self) -> bool:
        """``barrier`` for a caller on an event loop, which it never blocks."""
        waiter = self._wait_for_round(future=asyncio.get_running_loop().create_future())
        if waiter is None or waiter.future is None:
            return False
        try:
            return await asyncio.wait_for(waiter.future, self._patience)
        except TimeoutError:
            self._forget(waiter)
            return False

    def _wait_for_round(
        self,
        *,
        future: asyncio.Future[bool] | None = None,
        event: threading.Event | None = None,
    ) -> _Waiter | None:
        with self._lock:
            if not self._listening:
                return None
            # A round already begun may have been sent before the caller's last commit.
            waiter = _Waiter(self._started + 1, future, event)
            self._waiters.append(waiter)
            self._asked = waiter.round
        self._wanted.set()
        return waiter

    def _forget(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _settle(self, up_to: int | None, ok: bool) -> None:
        """Answer the waiters of every round up to ``up_to`` (None: all of them)."""
        done: list[_Waiter] = []
        with self._lock:
            waiting: list[_Waiter] = []
            for waiter in self._waiters:
                (done if up_to is None or waiter.round <= up_to else waiting).append(waiter)
            self._waiters = waiting
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
        for waiter in done:
            if waiter.future is not None:
                by_loop.setdefault(waiter.future.get_loop(), []).append(waiter.future)
            elif waiter.event is not None:
                waiter.ok = ok
                waiter.event.set()
        # One wake-up per loop and round, however many of its requests wait.
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, futures, ok)
            except RuntimeError:  # the loop closed; nobody waits there any more
                pass

    def _send_rounds(self) -> None:
        while not self._stopping.is_set():
            self._wanted.wait()
            self._wanted.clear()
            with self._lock:
                if not self._listening or self._asked <= self._started:
                    continue
                self._started += 1
                number = self._started
            try:
                self._notify(f"{_SYNC}{self._token}:{number}")
            except psycopg.Error:
                log.warning("change barrier could not notify; reads skip the cache", exc_info=True)
                self._sender = None
                self._settle(number, False)

    def _notify(self, payload: str) -> None:
        sender = self._sender
        if sender is None or sender.closed:
            sender = self._sender = psycopg.connect(self._conninfo, autocommit=True)
        sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def _set_listening(self, listening: bool) -> None:
        with self._lock:
            self._listening = listening
        if not listening:
            self._settle(None, False)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("change listener lost its connection; reconnecting")
            self._set_listening(False)
            self._stopping.wait(self._reconnect)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # What was committed while no connection listened is unknown: drop every stamp.
            self._feed.everything_changed()
            self._set_listening(True)
            self._ready.set()
            own = f"{_SYNC}{self._token}:"
            while not self._stopping.is_set():
                for note in conn.notifies(timeout=0.5):
                    payload = note.payload
                    if payload.startswith(own):
                        self._settle(int(payload[len(own) :]), True)
                    elif not payload.startswith(_SYNC):
                        self._feed.committed((payload,))


def _resolve(futures: list[asyncio.Future[bool]], ok: bool) -> None:
    for future in futures:
        if not future.done():  # a waiter that timed out was cancelled
            future.set_result(ok)
