"""Rows taken under a lease (jobs, maintenance tasks): one guarded statement to take the next,
one to write while still holding it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    or_,
    select,
    update,
)

from coldshift.jobs.ports import LeaseLost
from coldshift.persistence.db import Database
from coldshift.persistence.prepared import Prepared


def lease_free(table: Table, now: float | ColumnElement[Any]) -> ColumnElement[bool]:
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
    probe, take = _taking(db, table, takeable, first, values)
    return _take(
        db,
        (lambda conn: conn.execute(probe).first()) if probe is not None else None,
        lambda conn: conn.execute(take).first(),
        then,
    )


@dataclass(frozen=True)
class Taking:
    """The statements of one kind of take: a probe (SQLite) and the guarded take. Built once
    with bound parameters by a hot caller (the job store), and prepared (persistence.prepared):
    every idle worker polls with them."""

    probe: Prepared | None
    take: Prepared

    @staticmethod
    def of(
        db: Database,
        table: Table,
        takeable: Sequence[ColumnElement[bool]],
        first: ColumnElement[Any],
        values: dict[str, Any],
    ) -> Taking:
        probe, take = _taking(db, table, takeable, first, values)
        return Taking(Prepared(probe) if probe is not None else None, Prepared(take))


def _taking(
    db: Database,
    table: Table,
    takeable: Sequence[ColumnElement[bool]],
    first: ColumnElement[Any],
    values: dict[str, Any],
) -> tuple[Select[Any] | None, Update]:
    """The probe (SQLite only) and the take."""
    # Idle workers poll: on SQLite finding nothing must not cost a write transaction (the
    # file's one write lock, which the busy workers queue for). PostgreSQL's SKIP LOCKED
    # take is cheap, and a read first would cost every pickup a round trip.
    probe = select(table.c.id).where(*takeable).limit(1) if db.is_sqlite else None
    candidate = select(table.c.id).where(*takeable).order_by(first).limit(1)
    if not db.is_sqlite:
        candidate = candidate.with_for_update(skip_locked=True)
    take = (
        update(table)
        .where(table.c.id == candidate.scalar_subquery())
        .values(**values)
        .returning(*table.c)
    )
    return probe, take


def take_prepared(
    db: Database,
    taking: Taking,
    params: dict[str, Any],
    then: Callable[[Connection, Any], None] | None = None,
) -> Any | None:
    probe = taking.probe
    return _take(
        db,
        (lambda conn: probe.execute(conn, params).first()) if probe is not None else None,
        lambda conn: taking.take.execute(conn, params).first(),
        then,
    )


def _take(
    db: Database,
    probe: Callable[[Connection], Any] | None,
    take: Callable[[Connection], Any],
    then: Callable[[Connection, Any], None] | None,
) -> Any | None:
    """Probe in a read (when given: nothing found, no write), then take and ``then`` in one
    write transaction."""
    if probe is not None:
        with db.read() as conn:
            if probe(conn) is None:
                return None
    with db.write() as conn:
        row = take(conn)
        if row is not None and then is not None:
            then(conn, row)
    return row


def write_held(
    conn: Connection, table: Table, row_id: str, owner: str, values: dict[str, Any]
) -> None:
    """Write ``values`` to a row ``owner`` still holds; LeaseLost if another took it over."""
    statement = _write_held(table, tuple(values))
    params = {"b_id": row_id, "b_owner": owner, **{f"v_{k}": v for k, v in values.items()}}
    if statement.execute(conn, params).rowcount != 1:
        raise LeaseLost(row_id)


@cache
def _write_held(table: Table, columns: tuple[str, ...]) -> Prepared:
    # Every job step records itself through this: one prepared statement per shape.
    return Prepared(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == bindparam("b_owner"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
