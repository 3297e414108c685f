"""Per-database memos of facts that never change once written: a channel's row id, the paper a posted message shows.

Rows of `channels` are never deleted and a post's message id is set once, so remembering them is exact; only what
was found is remembered (a channel or a post may appear later). Each engine has its own memo, so two databases in
one process (tests, benchmarks) never see each other's ids.
"""

from __future__ import annotations

import weakref
from typing import Any

from cachetools import FIFOCache
from sqlalchemy.ext.asyncio import AsyncSession

LIMIT = 50_000
"""Entries per memo; the oldest go first when it is full."""

Memo = FIFOCache[Any, Any]

_MEMOS: weakref.WeakKeyDictionary[Any, dict[str, Memo]] = weakref.WeakKeyDictionary()


def memo(session: AsyncSession, name: str) -> Memo:
    """The memo called `name` of the session's database engine."""
    assert session.bind is not None, "sessions are always bound to the engine"
    engine = session.bind.sync_engine
    memos = _MEMOS.get(engine)
    if memos is None:
        memos = _MEMOS[engine] = {}
    found = memos.get(name)
    if found is None:
        found = memos[name] = FIFOCache(maxsize=LIMIT)
    return found


def remember(table: Memo, key: Any, value: Any) -> None:
    table[key] = value
