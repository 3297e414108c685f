"""The one place where SQLite and PostgreSQL differ: upserts and insert-if-absent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def _insert(session: AsyncSession, table: Table) -> Any:
    assert session.bind is not None, "sessions are always bound to the engine"
    dialect = session.bind.dialect.name
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
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
    )


def insert_ignore(session: AsyncSession, table: Table, row: Mapping[str, Any], *, keys: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING; `rowcount` tells whether the row was new."""
    return _insert(session, table).values(dict(row)).on_conflict_do_nothing(index_elements=list(keys))
