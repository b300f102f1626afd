"""Engines and transactions; the SQLite/PostgreSQL differences live here and nowhere else."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidatePoolError
from sqlalchemy.pool import NullPool

from coldshift.persistence.change_feed import WRITTEN, ChangeFeed, track_writes


class SoleWriter:
    """SQLite: the process's one write connection, used by one thread at a time.

    SQLite admits one writer at a time, and a writer that finds the file locked naps in the
    busy handler (up to 100 ms a nap) however soon the lock is freed: under load, writers
    slept far longer than they wrote. Queueing this process's writers on a lock of its own
    hands the file over the moment it is free. (`coldshift serve` is the only process on a
    SQLite file; another one, e.g. `coldshift check`, still meets the busy handler.)

    Their turns then need only one connection, kept open: no pool check-out and reset per
    write, and its page cache stays warm (a connection's cache is dropped when another
    connection has written the file, which a pool of rotating writers does every time)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.turn = threading.RLock()
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        """Only while holding ``turn``."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect().execution_options(coldshift_immediate=True)
        return self._conn

    def close(self) -> None:
        with self.turn:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class ThreadReaders:
    """SQLite: a read connection kept by each thread that reads, outside the pool.

    A pooled read paid SQLAlchemy's check-out and return (the connection's reset, its events)
    on every call: under a burst of migrations that was a tenth of the process's time, more
    than the reads' own statements. A connection kept per thread pays them once; it lives as
    long as its thread (closed when the thread is gone, or at dispose). Its page cache is kept
    small: there are as many of them as reading threads (the API's thread pool has 40)."""

    #: KiB of page cache per reader (SQLite's default is 2,000)
    CACHE_KIB = 512

    def __init__(self, url: str) -> None:
        self._engine = _sqlite_engine(url, pooled=False, cache_kib=self.CACHE_KIB)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Connection] = set()

    @property
    def engine(self) -> Engine:
        """The readers' own engine (not pooled): what counts their transactions listens here."""
        return self._engine

    def connection(self) -> Connection | None:
        """This thread's reader, or None while it is already in a read of this thread (a
        read inside a read): the caller then takes a pooled connection."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self._engine.connect()
            with self._lock:
                self._open.add(conn)
            weakref.finalize(threading.current_thread(), self._close, conn)
        return None if conn.in_transaction() else conn

    def _close(self, conn: Connection) -> None:
        with self._lock:
            self._open.discard(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            readers, self._open = list(self._open), set()
        for conn in readers:
            conn.close()
        self._engine.dispose()


@dataclass(frozen=True)
class Database:
    """One engine plus how to open a read or a write transaction on it."""

    engine: Engine
    #: SQLite's one writer (see SoleWriter); None: writers take pooled connections at once
    sole_writer: SoleWriter | None = None
    #: SQLite's read connections kept per thread (see ThreadReaders); None: reads are pooled
    readers: ThreadReaders | None = None
    # The write transaction this thread has open, which a nested write() joins.
    _open_write: threading.local = field(default_factory=threading.local, repr=False)
    # The read transaction a snapshot() of this thread holds open, which read() joins.
    _open_read: threading.local = field(default_factory=threading.local, repr=False)
    #: the tables each commit wrote (what a cached read must not outlive)
    changes: ChangeFeed = field(default_factory=ChangeFeed, compare=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write. On SQLite it takes the write lock up front
        (BEGIN IMMEDIATE) so that two writers never deadlock on a lock upgrade.

        Inside another write() of the same thread it joins that transaction: a job step's
        deferred store write commits with the step's record (StepContext.defer)."""
        joined: Connection | None = getattr(self._open_write, "conn", None)
        if joined is not None:
            yield joined
            return
        written: set[str] = set()
        if self.sole_writer is not None:
            with self.sole_writer.turn:
                yield from self._transaction(self.sole_writer.connection(), written)
        else:
            with self.engine.connect().execution_options(coldshift_immediate=True) as conn:
                yield from self._transaction(conn, written)
        self.changes.committed(written)

    def _transaction(self, conn: Connection, written: set[str]) -> Iterator[Connection]:
        conn.info[WRITTEN] = written
        try:
            with conn.begin():
                self._open_write.conn = conn
                try:
                    yield conn
                finally:
                    self._open_write.conn = None
        finally:
            del conn.info[WRITTEN]

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; inside ``snapshot()`` of the same thread, that one; inside a
        ``write()`` of the same thread, the write's (it sees the write's own changes)."""
        joined: Connection | None = getattr(self._open_read, "conn", None) or getattr(
            self._open_write, "conn", None
        )
        if joined is not None:
            yield joined
            return
        # Under read committed each statement reads its own snapshot, in a transaction or not:
        # without BEGIN and COMMIT a one-statement read is one round trip, not three.
        with self._read_transaction(postgresql_isolation="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read() of this thread inside it joins one read transaction, which sees one
        state of the database: SQLite's read transaction holds its snapshot from its first
        read; PostgreSQL's default (read committed) would not, so it asks for repeatable read.

        Inside a ``write()`` of the same thread the reads join the write instead: on SQLite
        it holds the file's write lock, so nothing changes under it; on PostgreSQL (read
        committed) a later read may see another commit, and what the checks rely on must be
        re-checked by the write's guarded statements, as submissions' task guards do."""
        if getattr(self._open_read, "conn", None) or getattr(self._open_write, "conn", None):
            yield
            return
        with self._read_transaction(postgresql_isolation="REPEATABLE READ") as conn:
            self._open_read.conn = conn
            try:
                yield
            finally:
                self._open_read.conn = None

    @contextmanager
    def _read_transaction(self, postgresql_isolation: str) -> Iterator[Connection]:
        """A begun read transaction: on SQLite on this thread's kept reader (ThreadReaders)
        unless it is busy, else on a pooled connection."""
        kept = self.readers.connection() if self.readers is not None else None
        if kept is not None:
            with kept.begin():
                yield kept
            return
        connection = self.engine.connect()
        if not self.is_sqlite:
            connection = connection.execution_options(isolation_level=postgresql_isolation)
        with connection as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if self.sole_writer is not None:
            self.sole_writer.close()
        if self.readers is not None:
            self.readers.close()
        self.engine.dispose()


def insert_or_skip(table: Table, dialect: str) -> Insert:
    """An insert of one row that does nothing when one of the same key exists (row count 0).
    Unlike a caught IntegrityError, the transaction goes on, on PostgreSQL too; a concurrent
    insert of the same key waits for the first to end and then skips: a compare-and-set on
    the key. The caller gives its values (``.values(...)``)."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(table).on_conflict_do_nothing()


URL_FORMS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
# The drivers this package installs: any other one fails deep in SQLAlchemy on a missing module.
_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg"), "postgres": ("",)}


class DatabaseUrlError(ValueError):
    """The URL itself is wrong (malformed, unsupported, no database): no server was asked."""


#: seconds a PostgreSQL connection attempt may take (libpq's connect_timeout)
CONNECT_TIMEOUT = 10


class DatabaseUnreachable(Exception):
    """The URL is well formed but its database cannot be connected to."""


def display_url(url: str) -> str:
    """The URL for messages: never with its password, even when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # Up to the last @: a password may hold an @ of its own; hiding too much is harmless.
        return re.sub(r"(://[^:/@]*:).*@", r"\1***@", url)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUrlError(f"not a database URL: {display_url(url)}; use {URL_FORMS}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if driver not in _DRIVERS.get(backend, ()):
        raise DatabaseUrlError(
            f"unsupported database {display_url(url)}; coldshift runs on {URL_FORMS}"
        )
    if backend != "sqlite" and not parsed.database:
        raise DatabaseUrlError(f"no database name in {display_url(url)}; add one: {URL_FORMS}")
    return parsed


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick the psycopg 3 driver for it; refuse, with
    DatabaseUrlError, a URL that cannot work whatever the server."""
    parsed = _parse(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL; None for PostgreSQL and for an in-memory SQLite."""
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


#: seconds a pooled PostgreSQL connection may lie unused and still be lent without a ping
PING_AFTER_IDLE = 1.0


def connect(url: str, *, pool_size: int = 20, ping_after_idle: float = PING_AFTER_IDLE) -> Database:
    """``ping_after_idle``: see _ping_when_idle (PostgreSQL only)."""
    given, url = url, normalise_url(url)
    # JSON columns (server details, job payloads) are decoded on every read: orjson reads
    # the same documents several times faster than the json module.
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
        track_writes(engine)
        # an in-memory database is one per connection: it can have no readers of its own
        readers = ThreadReaders(url) if sqlite_path(url) is not None else None
        return Database(engine, sole_writer=SoleWriter(engine), readers=readers)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        json_deserializer=orjson.loads,
        # A host that drops packets would otherwise hang the connect for minutes (the OS's
        # TCP timeout): give up after CONNECT_TIMEOUT seconds, as DatabaseUnreachable.
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )
    _ping_when_idle(engine, ping_after_idle)
    _probe(engine, given)
    track_writes(engine)
    return Database(engine)


def _ping_when_idle(engine: Engine, idle_after: float) -> None:
    """Ping a pooled connection before lending it only when it lay unused for ``idle_after``
    seconds. A server restarted or a link dropped while the pool slept then shows here, and
    the pool connects afresh, rather than as a failed request. SQLAlchemy's pool_pre_ping
    pings at every lending: one more round trip per transaction, some sixteen per migration.
    A connection that dies within ``idle_after`` of its last use fails its statement instead;
    SQLAlchemy then discards every connection of the pool made before the failure."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_after:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool replaces this connection and those made before it, then lends anew
            raise InvalidatePoolError(f"a pooled connection was found dead: {exc}") from exc


def _probe(engine: Engine, url: str) -> None:
    """Connect once now, so that a server that is down or a database that is missing is
    one DatabaseUnreachable here rather than a driver traceback from deep in the start-up.
    The connection goes back to the pool for the first real use."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        # psycopg: 'connection failed: connection to server at "h", port 1 failed: REASON\n\t
        # hint...'; the reason is what a user can act on, the rest is on several lines.
        first_line = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
        reason = first_line.rsplit(" failed: ", 1)[-1].replace("FATAL:  ", "").strip()
        database = make_url(url).database
        advice = (
            f"create it (createdb {database}) or name another"
            if f'database "{database}" does not exist' in reason
            else "start PostgreSQL there or correct the host, port, user and password"
        )
        raise DatabaseUnreachable(
            f"cannot reach database {display_url(url)} ({reason}); {advice}"
        ) from exc


def _sqlite_engine(url: str, *, pooled: bool = True, cache_kib: int | None = None) -> Engine:
    """``pooled=False``: every connect() opens a connection of its own (ThreadReaders')."""
    path = make_url(url).database
    if path and path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": 30},
        "json_deserializer": orjson.loads,  # see connect()
    }
    if not pooled or not path or path == ":memory:":
        options["poolclass"] = NullPool
    else:
        options.update(pool_size=20, max_overflow=20)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if cache_kib is not None:
            cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("coldshift_immediate", False)
        # Straight to the driver: every request opens a transaction, and going through
        # exec_driver_sql (events, execution context, cursor) cost more than the SELECT itself.
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection being begun is checked out
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: Any, patience: float = 30.0) -> None:
    """Switch to WAL. Changing the journal mode of a new file answers SQLITE_BUSY at once,
    without the busy handler, while another connection holds a lock: back off and retry."""
    deadline = time.monotonic() + patience
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
