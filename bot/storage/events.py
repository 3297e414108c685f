"""The event repository: platform event ids already handled, so a retried delivery is counted once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import affected, insert_ignore
from bot.storage.tables import ProcessedEventRow, table_of


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_delivery(self, platform: str, event_id: str, *, now: datetime) -> bool:
        """Record the event id; False when it was seen before (a retried delivery)."""
        result = await self._session.execute(
            insert_ignore(
                self._session,
                table_of(ProcessedEventRow),
                {"platform": platform, "event_id": event_id[:128], "seen_at": now},
                keys=["platform", "event_id"],
            )
        )
        return bool(affected(result))

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.seen_at < before))
        return int(affected(result) or 0)
