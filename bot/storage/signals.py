"""The signal repository: popularity snapshots per paper and source (the newest of each is what counts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import Signal
from bot.storage.changes import Changes
from bot.storage.dialect import id_lists, one_of, per_dialect
from bot.storage.rows import latest_signals
from bot.storage.tables import SignalSnapshotRow, table_of

_SIGNALS = table_of(SignalSnapshotRow)


@per_dialect
def _latest_signals(dialect: str) -> Select[Any]:
    newest = (
        select(
            _SIGNALS,
            func.row_number()
            .over(
                partition_by=(_SIGNALS.c.paper_id, _SIGNALS.c.source),
                order_by=(_SIGNALS.c.fetched_at.desc(), _SIGNALS.c.id.desc()),
            )
            .label("n"),
        )
        .where(one_of(_SIGNALS.c.paper_id, "ids", dialect))
        .subquery()
    )
    return select(newest).where(newest.c.n == 1)


class SignalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, readings: Iterable[tuple[str, Signal]]) -> int:
        rows = [
            SignalSnapshotRow(
                paper_id=paper_id, source=s.source, value=s.value, label=s.label, url=s.url, fetched_at=s.fetched_at
            )
            for paper_id, s in readings
        ]
        if rows:
            Changes.bump(self._session)
        self._session.add_all(rows)
        await self._session.flush()
        return len(rows)

    async def latest(self, ids: Sequence[str]) -> dict[str, tuple[Signal, ...]]:
        """The newest snapshot of each source for each paper, in one query per chunk of ids."""
        latest: dict[str, tuple[Signal, ...]] = {}
        for chunk in id_lists(self._session, ids):
            result = await self._session.execute(_latest_signals(self._session), {"ids": chunk})
            latest.update(latest_signals(result))  # a paper's signals come in one chunk
        return latest
