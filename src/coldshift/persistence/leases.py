"""Rows taken under a lease (jobs, maintenance tasks): one guarded statement to take the next,
one to write while still holding it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, or_, select, update

from coldshift.jobs.ports import LeaseLost
from coldshift.persistence.db import Database


def lease_free(table: Table, now: float) -> ColumnElement[bool]:
    return or_(table.c.lease_owner.is_(None), table.c.lease_expires < now)


def take_next(
    db: Database,
    table: Table,
    takeable: Sequence[ColumnElement[bool]],
    first: ColumnElement[Any],
    values: dict[str, Any],
    then: Callable[[Connection, Row[Any]], None] | None = None,
) -> Row[Any] | None:
    """Give the ``takeable`` row that comes ``first`` the lease ``values``, atomically: of two
    takers, one gets it (PostgreSQL: the other skips the locked row; SQLite: they queue for the
    write lock). ``then`` runs in the same transaction."""
    # Idle workers poll: on SQLite finding nothing must not cost a write transaction (the
    # file's one write lock, which the busy workers queue for). PostgreSQL's SKIP LOCKED take
    # is cheap, and a read first would cost every pickup a round trip.
    if db.is_sqlite:
        with db.read() as conn:
            if conn.execute(select(table.c.id).where(*takeable).limit(1)).first() is None:
                return None
    candidate = select(table.c.id).where(*takeable).order_by(first).limit(1)
    if not db.is_sqlite:
        candidate = candidate.with_for_update(skip_locked=True)
    stmt = (
        update(table)
        .where(table.c.id == candidate.scalar_subquery())
        .values(**values)
        .returning(*table.c)
    )
    with db.write() as conn:
        row = conn.execute(stmt).first()
        if row is not None and then is not None:
            then(conn, row)
    return row


def write_held(
    conn: Connection, table: Table, row_id: str, owner: str, values: dict[str, Any]
) -> None:
    """Write ``values`` to a row ``owner`` still holds; LeaseLost if another took it over."""
    result = conn.execute(
        update(table).where(table.c.id == row_id, table.c.lease_owner == owner).values(**values)
    )
    if result.rowcount != 1:
        raise LeaseLost(row_id)
