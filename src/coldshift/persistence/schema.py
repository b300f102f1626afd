"""Create or upgrade the schema with Alembic; safe when several processes start at once."""

from __future__ import annotations

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


def upgrade(db: Database) -> None:
    # On SQLite the migration runs in one BEGIN IMMEDIATE transaction: a second process
    # waits for the write lock, then finds the schema at head.
    with db.engine.connect().execution_options(coldshift_immediate=True) as conn:
        if not db.is_sqlite:
            # Session-level advisory lock: a second process waits here, then finds head.
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _UPGRADE_LOCK_KEY})
            conn.commit()
        try:
            with conn.begin():
                command.upgrade(alembic_config(conn), "head")
        finally:
            if not db.is_sqlite:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _UPGRADE_LOCK_KEY})
                conn.commit()


def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head
