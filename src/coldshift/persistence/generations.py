"""Generations: where a host's last change stands, so that a reader re-reads only what changed.

Every transaction that writes a host's row or its NUMA nodes (a claim, a release, a state or
name change, an insert, a drain fence) sets ``hosts.generation`` to ``stamp_in(conn)``;
removing a host leaves a ``host_removals`` row with that stamp. A reader takes
``mark_in(conn)`` first, in its read transaction, and reads every row whose generation is at
least its previous mark (an indexed range: ``ix_hosts_generation``). That misses nothing
if every change that commits after a mark was taken carries a generation >= that mark.

The classic pitfall is a stamp from a sequence: a transaction that took 5 may commit after
one that took 6, and a reader that saw 6 and asks for "> 6" never sees 5. Here:

- PostgreSQL: the stamp is the writing transaction's id (``pg_current_xact_id()``, 64 bits:
  it never wraps), and the mark is the xmin of the reader's snapshot (the oldest transaction
  id still running then; ``pg_snapshot_xmin(pg_current_snapshot())``). A transaction that
  commits after the mark either was running when it was taken, so its id is >= xmin, or had
  no id yet, so the id it takes later is above every id assigned before, >= xmin. A stamp
  taken before and committed after is therefore caught, and no writer waits on a counter.
  The price: the rows of transactions running at the mark are read again next time (a long
  transaction anywhere on the server holds the mark back until it ends).
- SQLite: one writer at a time (BEGIN IMMEDIATE holds the write lock from the first
  statement to the commit), so the stamp can be "one more than the largest generation
  recorded" (hosts and tombstones; ix_hosts_generation answers it at once), computed inside
  the statement that writes: no extra statement, no counter row. The mark is the same
  maximum + 1 as the reader's snapshot (WAL) holds it. A writer that holds the lock across
  a reader's mark started from what was committed, so its stamp is >= that mark. The maximum
  never goes down: a removal writes its tombstone before it deletes the row, and adding an
  id again writes the row before it deletes the tombstone.

These are the only statements that differ by dialect outside ``db``, as ``guards`` does for
its advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
    union_all,
    update,
)

from coldshift.persistence.prepared import Prepared
from coldshift.persistence.tables import host_removals, hosts


def stamp_in(conn: Connection) -> ColumnElement[int]:
    """The generation this transaction's host writes carry, as an SQL expression evaluated
    by the statement that writes (see the module docstring)."""
    return stamp_for(conn.dialect.name)


def stamp_for(dialect: str) -> ColumnElement[int]:
    """``stamp_in`` for a statement prepared once per dialect (persistence.prepared)."""
    return _XACT_ID if dialect == "postgresql" else _ONE_ABOVE_LARGEST


def mark_in(conn: Connection) -> int:
    """The mark a reader takes before it reads, in its read transaction: every change that
    commits after this carries a generation >= it."""
    query = _SNAPSHOT_XMIN if conn.dialect.name == "postgresql" else _LARGEST_PLUS_ONE
    mark: int = conn.execute(query).scalar_one()
    return mark


def _largest() -> Select[int]:
    """The largest generation recorded, of a host or a tombstone (0: none): one index look-up
    each."""
    each = union_all(
        select(func.max(hosts.c.generation).label("g")),
        select(func.max(host_removals.c.generation)),
        select(literal(0, BigInteger)),
    ).subquery()
    return select(func.max(each.c.g))


def _as_bigint(xid8: ColumnElement[object]) -> ColumnElement[int]:
    return cast(cast(xid8, Text), BigInteger)


# Built once: a statement is then not built again, nor its cache key computed, at every write.
_XACT_ID = _as_bigint(func.pg_current_xact_id())
_SNAPSHOT_XMIN = select(_as_bigint(func.pg_snapshot_xmin(func.pg_current_snapshot())))
_ONE_ABOVE_LARGEST = _largest().scalar_subquery() + 1
_LARGEST_PLUS_ONE = select(_ONE_ABOVE_LARGEST)


_STAMP_HOST = Prepared(
    lambda dialect: (
        update(hosts)
        .where(hosts.c.id == bindparam("host_id"))
        .values(generation=stamp_for(dialect))
    )
)


def stamp_hosts_in(conn: Connection, host_ids: Iterable[str]) -> None:
    """Stamp these hosts as changed by this transaction, one row at a time in id order: two
    transactions stamping the same hosts lock them in the same order (no deadlock), and
    before their NUMA nodes, as a claim does (claim_store)."""
    for host_id in sorted(set(host_ids)):
        _STAMP_HOST.execute(conn, {"host_id": host_id})
