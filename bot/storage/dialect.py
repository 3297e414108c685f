"""The one place where SQLite and PostgreSQL differ: upserts, insert-if-absent and list parameters."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def dialect_of(session: AsyncSession) -> str:
    assert session.bind is not None, "sessions are always bound to the engine"
    return session.bind.dialect.name


def _insert(session: AsyncSession, table: Table) -> Any:
    return insert_for(dialect_of(session), table)


def insert_for(dialect: str, table: Table) -> Any:
    """A dialect-specific INSERT (it has `on_conflict_do_nothing` / `on_conflict_do_update`)."""
    if dialect == "postgresql":
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
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


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


def affected(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched (every `execute` of one returns a cursor result)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
