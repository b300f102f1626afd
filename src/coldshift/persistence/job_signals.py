"""Cross-process job wake-ups: NOTIFY at commit, LISTEN in every process (PostgreSQL only).

Polling stays the fallback: a lost notification (listener reconnecting, database restart)
delays a job by at most one poll interval, never loses it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection, text

from coldshift.persistence.db import Database

CHANNEL = "coldshift_jobs"
#: tells this process's own announcements apart: it has woken its workers in-process already
PROCESS_TOKEN = os.urandom(8).hex()

log = logging.getLogger(__name__)


def announce(conn: Connection, runnable: int, origin: str = PROCESS_TOKEN) -> None:
    """Inside a write transaction: at its commit, tell every listening process that
    ``runnable`` jobs can be taken. PostgreSQL delivers nothing if the transaction rolls back."""
    if runnable > 0 and conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": f"{runnable}:{origin}"},
        )


class JobListener:
    """A thread holding one LISTEN connection; calls ``on_jobs(count)`` for each notification
    sent by another process (``own_token`` names this one)."""

    def __init__(
        self,
        db: Database,
        on_jobs: Callable[[int], None],
        *,
        check_seconds: float = 0.5,
        reconnect_seconds: float = 1.0,
        own_token: str = PROCESS_TOKEN,
    ) -> None:
        self._conninfo = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._on_jobs = on_jobs
        self._own_token = own_token
        self._check = check_seconds
        self._reconnect = reconnect_seconds
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coldshift-listen", daemon=True)

    def start(self, ready_timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._listening.wait(ready_timeout):
            log.warning("job listener not ready after %.0fs; polling covers the gap", ready_timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(self._check * 4)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("job listener lost its connection; reconnecting")
            self._listening.clear()
            self._stopping.wait(self._reconnect)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            # What was announced while no connection listened is found by a worker now.
            self._on_jobs(1)
            while not self._stopping.is_set():
                for note in conn.notifies(timeout=self._check):
                    count, origin = _parse(note.payload)
                    if origin != self._own_token:
                        self._on_jobs(count)


def _parse(payload: str) -> tuple[int, str]:
    """``"count:origin"``; anything else still wakes one worker (the poll would anyway)."""
    count, _, origin = payload.partition(":")
    try:
        return max(1, int(count)), origin
    except ValueError:
        return 1, origin
