"""Per-database memos of facts that never change once written: a channel's row id, the paper a posted message shows.

Rows of `channels` are never deleted and a post's message id is set once, so remembering them is exact; only what
was found is remembered (a channel or a post may appear later). Each engine has its own memo, so two databases in
one process (tests, benchmarks) never see each other's ids.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

LIMIT = 50_000
"""Entries per memo; the oldest go first when it is full."""

_MEMOS: weakref.WeakKeyDictionary[Any, dict[str, dict[Any, Any]]] = weakref.WeakKeyDictionary()


def memo(session: AsyncSession, name: str) -> dict[Any, Any]:
    """The memo called `name` of the session's database engine."""
    assert session.bind is not None, "sessions are always bound to the engine"
    engine = session.bind.sync_engine
    memos = _MEMOS.get(engine)
    if memos is None:
        memos = _MEMOS[engine] = {}
    return memos.setdefault(name, {})


def remember(table: dict[Any, Any], key: Any, value: Any) -> None:
    if len(table) >= LIMIT:
        del table[next(iter(table))]
    table[key] = value
