"""The operator's use cases: ingestion, signal refreshes, housekeeping and status. The scheduler, the CLI and the
benchmarks call these; chat adapters never do (they see `bot.domain.ports.ChatService`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.app.ingest import Ingestor
from bot.domain.config import Config
from bot.domain.model import ChannelRef, ChannelSettings, IngestReport, Paper
from bot.domain.ports import Clock, NullProgress, Progress, UnitOfWork
from bot.domain.records import DigestStatus

if TYPE_CHECKING:
    from bot.app.signals import SourceHealth


class Operations:
    """What keeps the engine's data fresh and small, and what `hotpapers status` shows. One unit of work each."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, config: Config, clock: Clock, ingestor: Ingestor) -> None:
        self._uow = uow
        self._config = config
        self._clock = clock
        self._ingestor = ingestor

    def now(self) -> datetime:
        return self._clock.now()

    async def ingest(self, day: date | None = None, *, progress: Progress | None = None) -> IngestReport:
        """Fetch the announcement list and its metadata, store it, then refresh the popularity signals."""
        async with self._uow() as uow:
            channels = await uow.channels.subscribed()
        categories = sorted({*self._config.arxiv.categories, *(c for _, s in channels for c in s.categories)})
        return await self._ingestor.ingest(categories, day, progress or NullProgress())

    async def refresh_signals(self, day: date | None = None) -> int:
        """Refresh the popularity signals of the latest announced papers (the periodic job)."""
        async with self._uow() as uow:
            target = day or await uow.papers.latest_announcement(self._clock.now().date())
        return await self._ingestor.refresh_day(target) if target else 0

    async def probe_signals(self) -> list[SourceHealth]:
        """Each signal source's health after a small refresh (for `hotpapers signals`)."""
        return await self._ingestor.probe()

    async def store_papers(self, papers: Sequence[Paper]) -> tuple[int, int]:
        """Save papers directly (sample data, backfills). Returns (new, updated)."""
        async with self._uow() as uow:
            counts = await uow.papers.save(papers, now=self._clock.now())
            await uow.commit()
        return counts

    async def subscriptions(self) -> list[tuple[ChannelRef, ChannelSettings]]:
        """Every subscribed channel with its settings (the scheduler's jobs follow these)."""
        async with self._uow() as uow:
            return await uow.channels.subscribed()

    async def last_digests(self) -> dict[ChannelRef, DigestStatus]:
        """The latest digest of each subscribed channel (for `hotpapers status`)."""
        async with self._uow() as uow:
            rows = {ref: await uow.channels.find(ref) for ref, _ in await uow.channels.subscribed()}
            ids = {row.id: ref for ref, row in rows.items() if row is not None}
            return {ids[cid]: status for cid, status in (await uow.digests.last_for_channels(list(ids))).items()}

    async def prune_events(self, older_than: timedelta) -> int:
        """Forget processed event ids (deduplication of retried deliveries and of summary reports) seen longer ago
        than `older_than`. Returns how many went."""
        async with self._uow() as uow:
            removed = await uow.events.prune(self._clock.now() - older_than)
            await uow.commit()
        return removed

    async def prune_replies(self, older_than: timedelta) -> int:
        """Forget thread replies (who replied where) older than `older_than`: they stop counting. Returns how
        many went."""
        async with self._uow() as uow:
            removed = await uow.threads.prune(self._clock.now() - older_than)
            await uow.commit()
        return removed
