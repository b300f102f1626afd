"""Upgrade the schema with Alembic (to the head of `migrations/`); safe when several processes
start at once. The schema itself is `tables.py`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from coldshift.persistence.db import Database

# Any constant works; every coldshift process uses the same one to serialise upgrades.
_UPGRADE_LOCK_KEY = 0x636F6C64


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "coldshift.persistence:migrations")
    config.attributes["connection"] = conn
    return config


@contextmanager
def start_up_lock(db: Database) -> Iterator[None]:
    """Serialise start-up work (schema upgrade, pool reconciliation) between processes that
    share one PostgreSQL database. SQLite has one process per file, so nothing to do."""
    if db.is_sqlite:
        yield
        return
    with db.engine.connect() as conn:
        # Session-level advisory lock: a second process waits here until the first is done.
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _UPGRADE_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _UPGRADE_LOCK_KEY})
            conn.commit()


def upgrade(db: Database) -> None:
    """Create or upgrade the schema to head (call under ``start_up_lock``)."""
    # On SQLite the migration runs in one BEGIN IMMEDIATE transaction: a concurrent upgrader
    # (a test, or a second process refused later by the file lock) waits for the write lock.
    with db.engine.connect().execution_options(coldshift_immediate=True) as conn:
        with conn.begin():
            command.upgrade(alembic_config(conn), "head")


def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head
