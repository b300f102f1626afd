"""Statements of the hot path, compiled once per dialect and run on the driver's own cursor.

A job step commits a few small statements, and SQLAlchemy's ``Connection.execute`` costs far
more Python than SQLite takes to run them: the statement's cache key, the compiled-cache
look-up, an execution context, events, result metadata (about 100–400 µs a statement). On
SQLite that Python runs while the process holds the file's one write lock, so it bounds the
writes per second of the whole process. A ``Prepared`` statement is still written with
SQLAlchemy Core (the tables stay the one definition of the schema) but is compiled once per
dialect; a call only orders its parameters, applies the column types' bind processors (JSON,
booleans) and runs the SQL on the DB-API connection inside the caller's transaction; rows come
back as named tuples with the types' result processors applied.

What it gives up, on purpose: no SQLAlchemy events (the tables it writes are told to the
change feed here), and no "expanding" IN parameters (a prepared statement has a fixed shape).
A driver error is raised as SQLAlchemy's own exception class, as ``Connection.execute`` would.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, false, literal, or_
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from coldshift.persistence.change_feed import WRITTEN

Processor = Callable[[Any], Any]


def one_of(column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` with the values written into the statement: a prepared
    statement has a fixed shape, which SQLAlchemy's own ``in_`` (an expanding parameter) has not."""
    return or_(false(), *(column == literal(v) for v in values))


@dataclass(frozen=True, slots=True)
class DriverResult:
    """What a prepared statement answered: rows already converted, and the rows it changed."""

    rows: list[Any]
    rowcount: int

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any | None:
        return self.rows[0][0] if self.rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: the parameters as the driver takes them: in placeholder order (SQLite), or by name
    arrange: Callable[[dict[str, Any]], Any]
    defaults: dict[str, Any]
    binds: tuple[tuple[str, Processor], ...]
    #: (column index, result processor) of the columns whose values the driver's differ from
    results: tuple[tuple[int, Processor], ...]
    row: Any  # the named tuple type of a row
    written: str | None


#: a statement whose SQL differs by dialect, built from the dialect's name
DialectStatement = Callable[[str], ClauseElement]


class Prepared:
    """One statement, compiled on first use for each dialect it meets; given as a function
    of the dialect's name where the SQL differs (a host stamp, ``ON CONFLICT``)."""

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: ClauseElement | DialectStatement) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> DriverResult:
        compiled = self._for(conn.dialect)
        values = _driver_params(compiled, params or {})
        cursor = self._run(conn, compiled, lambda c: c.execute(compiled.sql, values), values)
        rows: list[Any] = []
        if cursor.description is not None:
            rows = [_converted(compiled, row) for row in cursor.fetchall()]
        return DriverResult(rows, cursor.rowcount)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        compiled = self._for(conn.dialect)
        values = [_driver_params(compiled, row) for row in rows]
        cursor = self._run(conn, compiled, lambda c: c.executemany(compiled.sql, values), values)
        return int(cursor.rowcount)

    def _run(
        self, conn: Connection, compiled: _Compiled, call: Callable[[Any], Any], params: Any
    ) -> Any:
        dbapi_conn = conn.connection.driver_connection
        assert dbapi_conn is not None  # a connection in a transaction is checked out
        cursor = dbapi_conn.cursor()
        try:
            call(cursor)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from exc
        if compiled.written is not None:
            written: set[str] | None = conn.info.get(WRITTEN)
            if written is not None:
                written.add(compiled.written)
        return cursor

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self._statement
            if not isinstance(statement, ClauseElement):
                statement = statement(dialect.name)
            compiled = self._compiled[dialect.name] = _compile(statement, dialect)
        return compiled


def _converted(compiled: _Compiled, row: Sequence[Any]) -> Any:
    if compiled.results:
        values = list(row)
        for index, process in compiled.results:
            if values[index] is not None:
                values[index] = process(values[index])
        row = values
    return compiled.row._make(row)


def _driver_params(compiled: _Compiled, given: Mapping[str, Any]) -> Any:
    params = {**compiled.defaults, **given}
    for name, process in compiled.binds:
        value = params[name]
        if value is not None:
            params[name] = process(value)
    return compiled.arrange(params)


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError(f"a prepared statement has a fixed shape: no expanding IN in {compiled}")
    if compiled.escaped_bind_names:
        raise ValueError(f"bind names that need escaping in {compiled}")
    binds = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    columns = list(getattr(statement, "exported_columns", ()))
    processors = ((i, _result_processor(c.type, dialect)) for i, c in enumerate(columns))
    results = tuple((i, p) for i, p in processors if p is not None)
    table = getattr(statement, "table", None) if getattr(statement, "is_dml", False) else None
    return _Compiled(
        sql=compiled.string,
        arrange=_arrangement(tuple(compiled.positiontup or ())) if compiled.positional else dict,
        # literal values written into the statement (``.values(status="RUNNING")``)
        defaults={n: b.effective_value for n, b in compiled.binds.items() if not b.required},
        binds=tuple(binds),
        results=results,
        row=namedtuple("PreparedRow", [c.key for c in columns], rename=True),
        written=table.name if table is not None else None,
    )


def _arrangement(order: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Positional parameters from named ones, in C (itemgetter) rather than a loop."""
    if len(order) > 1:
        return itemgetter(*order)
    return lambda params: tuple(params[name] for name in order)


def _result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except TypeError:
        # psycopg's numeric types ask for the column's type code, which only a cursor knows;
        # the driver already answers a float8 as float (this schema has no DECIMAL column)
        return None
