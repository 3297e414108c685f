"""The one place where SQLite and PostgreSQL differ: upserts, insert-if-absent, list parameters, one-row look-ups,
column types, and how an engine connects. (`database.py` tells the two apart in URLs, to refuse unusable ones in
words; the migrations keep the branches they were written with.)"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Constraint,
    DateTime,
    FromClause,
    Index,
    Integer,
    Table,
    any_,
    bindparam,
    event,
    select,
    true,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect, Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.expression import ColumnCollection
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite stores naive values and would hand them back naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


INCLUDE = "postgresql_include"
"""Covering columns of an index or unique constraint (PostgreSQL's `INCLUDE (…)`), kept in the item's `info` and
given to it as the `postgresql_include` option only when it is created on PostgreSQL (`covering_on_postgresql`):
passed as a keyword in `tables.py`, the option would load SQLAlchemy's PostgreSQL dialect in every process."""


def covering_on_postgresql(table: Table, connection: Connection, **_: Any) -> None:
    """A `before_create` listener: on PostgreSQL, the `INCLUDE` columns in `table`'s items' `info` become their
    `postgresql_include` (the dialect is loaded there anyway); SQLite creates the items without them."""
    if connection.dialect.name != "postgresql":
        return
    items: list[Index | Constraint] = [*table.indexes, *table.constraints]
    for item in items:
        columns = item.info.get(INCLUDE)
        if columns is not None:
            item.dialect_kwargs[INCLUDE] = columns


def engine_options(url: str, *, pool_size: int, schema: str | None) -> dict[str, Any]:
    """`create_async_engine` keywords: SQLite waits for a lock instead of failing at once; PostgreSQL gets a pool of
    `pool_size` and, with `schema`, its search_path pinned (tests give each run its own)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    options: dict[str, Any] = {"pool_size": pool_size}
    if schema:
        options["connect_args"] = {"server_settings": {"search_path": schema}}
    return options


def prepare_engine(engine: AsyncEngine) -> None:
    """SQLite connections get their pragmas (foreign keys, WAL, a busy timeout) as they open."""
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def writers(engine: AsyncEngine, wanted: int, *, pool_size: int) -> int:
    """How many transactions of one kind may write at once: `wanted` on PostgreSQL, no more than the pool's
    connections; one on SQLite, which has one writer (a second would only wait for the lock)."""
    if engine.dialect.name == "sqlite":
        return 1
    return max(1, min(wanted, pool_size))


def dialect_of(session: AsyncSession) -> str:
    assert session.bind is not None, "sessions are always bound to the engine"
    return session.bind.dialect.name


def _insert(session: AsyncSession, table: Table) -> Any:
    return insert_for(dialect_of(session), table)


def insert_for(dialect: str, table: Table) -> Any:
    """A dialect-specific INSERT (it has `on_conflict_do_nothing` / `on_conflict_do_update`)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # loaded on PostgreSQL only (its dialect is, there, anyway)

        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> Insert:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET update-columns = excluded values."""
    statement = _insert(session, table).values(list(rows))
    upserted: Insert = statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
    )
    return upserted


def insert_ignore(session: AsyncSession, table: Table, row: Mapping[str, Any], *, keys: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING; `rowcount` tells whether the row was new."""
    inserted: Insert = _insert(session, table).values(dict(row)).on_conflict_do_nothing(index_elements=list(keys))
    return inserted


T = TypeVar("T")


def per_dialect(build: Callable[[str], T]) -> Callable[[AsyncSession], T]:
    """Build a statement once per database dialect and reuse it: constructing a SQLAlchemy statement costs more
    than running a simple one, so the hot queries are made once with bind parameters."""
    built: dict[str, T] = {}

    def statement(session: AsyncSession) -> T:
        dialect = dialect_of(session)
        if dialect not in built:
            built[dialect] = build(dialect)
        return built[dialect]

    return statement


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`column IN (:name)` for a list bound at execution: one array parameter on PostgreSQL (`= ANY(:name)`, the
    statement text never changes), an expanding IN list on SQLite."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def join_one(
    dialect: str,
    left: FromClause,
    right: Table,
    on: ColumnElement[bool],
    columns: Sequence[ColumnElement[Any]],
    *,
    name: str,
) -> tuple[FromClause, ColumnCollection[str, Any]]:
    """`left` joined to the one row of `right` that `on` finds, and the columns to read it by: a correlated LATERAL
    look-up of `columns` on PostgreSQL (a prepared statement's generic plan would otherwise hash-join the whole of
    `right`), a plain join on SQLite (no LATERAL; its planner looks rows up by key anyway)."""
    if dialect == "postgresql":
        found = select(*columns).where(on).limit(1).lateral(name)  # LIMIT: not flattened
        return left.join(found, true()), found.c
    return left.join(right, on), right.c


def list_chunk(session: AsyncSession) -> int:
    """How many ids one `one_of` list may hold: SQLite caps the number of bound variables, PostgreSQL's array
    parameter does not."""
    return 10_000 if dialect_of(session) == "postgresql" else 500


H = TypeVar("H", bound=Hashable)


def id_lists(session: AsyncSession, ids: Iterable[H]) -> list[list[H]]:
    """The distinct `ids`, in their order, cut into lists that one `one_of` parameter may hold (`list_chunk`)."""
    unique = list(dict.fromkeys(ids))
    size = list_chunk(session)
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def returns_arrays(session: AsyncSession) -> bool:
    """Whether per-channel aggregates come back as one row of arrays (`array_agg`): thousands of rows decoded by
    the driver in C instead of row by row. PostgreSQL only."""
    return dialect_of(session) == "postgresql"


def writes_in_ctes(session: AsyncSession) -> bool:
    """Whether one statement may write in its WITH clauses (data-modifying CTEs, `UPDATE … RETURNING` read by the
    rest of the statement): several reads and writes, and the row locks they take, go in one round trip. PostgreSQL
    only; SQLite runs them one by one."""
    return dialect_of(session) == "postgresql"


def shared_by_processes(session: AsyncSession) -> bool:
    """Whether several processes (replicas) may write the database at once, so a lock held in one process does not
    keep out another: PostgreSQL. SQLite is written by one process."""
    return dialect_of(session) == "postgresql"


def affected(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched (every `execute` of one returns a cursor result)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
