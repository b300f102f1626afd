"""Other processes' commits, heard on PostgreSQL (see change_feed for why this is exact).

Every table has a statement trigger (Alembic 0009) that NOTIFYs ``coldshift_changes`` with the
table's name; this thread LISTENs and bumps the feed. ``barrier`` NOTIFYs a token of this
process and waits for it to come back: notifications arrive in commit order, so every commit
made before the barrier began has been heard when it returns. Concurrent callers share a round
that began after they arrived, so a burst of reads costs one round trip, not one each.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg

from coldshift.persistence.change_feed import ChangeFeed
from coldshift.persistence.db import Database

CHANNEL = "coldshift_changes"
_SYNC = "sync:"

log = logging.getLogger(__name__)


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
        self._listening = threading.Event()
        self._rounds = threading.Condition()
        self._started = 0  # the last barrier round whose NOTIFY was begun
        self._heard = 0  # the last round heard back
        self._sending = False
        self._sender: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="coldshift-changes", daemon=True)
        # From now on no stamp is given without a barrier (none succeeds before start()).
        self._feed.hear_others(self.barrier)

    def start(self, ready_timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._listening.wait(ready_timeout):
            log.warning(
                "change listener not ready after %.0fs; reads skip the cache", ready_timeout
            )

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(2.0)
        with self._rounds:
            if self._sender is not None:
                self._sender.close()
                self._sender = None

    def barrier(self) -> bool:
        """Return once every commit made before the call has been heard (False: could not
        tell within the patience, or no connection listens now)."""
        if not self._listening.is_set():
            return False
        deadline = time.monotonic() + self._patience
        with self._rounds:
            # A round already begun may have been sent before the caller's last commit.
            wanted = self._started + 1
            while self._heard < wanted:
                if not self._sending and self._started < wanted:
                    if not self._send_round():
                        return False
                    continue
                left = deadline - time.monotonic()
                if left <= 0 or not self._listening.is_set():
                    return False
                self._rounds.wait(left)
            return True

    def _send_round(self) -> bool:
        """Called holding the condition; releases it while the NOTIFY travels."""
        self._sending = True
        self._started += 1
        number = self._started
        self._rounds.release()
        try:
            self._notify(f"{_SYNC}{self._token}:{number}")
            return True
        except psycopg.Error:
            log.warning("change barrier could not notify; reads skip the cache", exc_info=True)
            self._sender = None
            return False
        finally:
            self._rounds.acquire()
            self._sending = False
            self._rounds.notify_all()

    def _notify(self, payload: str) -> None:
        sender = self._sender
        if sender is None or sender.closed:
            sender = self._sender = psycopg.connect(self._conninfo, autocommit=True)
        sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("change listener lost its connection; reconnecting")
            self._listening.clear()
            with self._rounds:
                self._rounds.notify_all()
            self._stopping.wait(self._reconnect)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # What was committed while no connection listened is unknown: drop every stamp.
            self._feed.everything_changed()
            self._listening.set()
            own = f"{_SYNC}{self._token}:"
            while not self._stopping.is_set():
                for note in conn.notifies(timeout=0.5):
                    payload = note.payload
                    if payload.startswith(own):
                        self._heard_round(int(payload[len(own) :]))
                    elif not payload.startswith(_SYNC):
                        self._feed.committed((payload,))

    def _heard_round(self, number: int) -> None:
        with self._rounds:
            self._heard = max(self._heard, number)
            self._rounds.notify_all()
