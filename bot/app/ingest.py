"""Getting papers and signals into the store: `/paper` look-ups, the daily announcement, signal refreshes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bot.app.lookups import LookupGuard
from bot.domain.errors import NotFound, UpstreamUnavailable
from bot.domain.model import Announcement, ArxivId, IngestReport, Paper, Signal
from bot.domain.ports import Clock, Progress, UnitOfWork

log = logging.getLogger(__name__)

PROBE_PAPER = Paper(
    id="1706.03762",
    version=7,
    title="Attention Is All You Need",
    authors=("Ashish Vaswani",),
    abstract="",
    categories=("cs.CL", "cs.LG"),
    primary_category="cs.CL",
    published=datetime(2017, 6, 12, tzinfo=UTC),
    updated=datetime(2023, 8, 2, tzinfo=UTC),
)
"""What `hotpapers signals` asks about when nothing is stored yet: every source knows it, so one request tells."""


class MetadataSource(Protocol):
    @property
    def requests(self) -> int: ...

    async def fetch(self, ids: Sequence[str]) -> list[Paper]: ...


class AnnouncementSource(Protocol):
    @property
    def requests(self) -> int: ...

    async def announcements(self, categories: Sequence[str], day: date | None = None) -> list[Announcement]: ...


class Signals(Protocol):
    """What the ingestor needs of bot.app.signals.SignalHub."""

    async def refresh(self, papers: Sequence[Paper], day: date) -> object: ...

    def unavailable(self) -> tuple[str, ...]: ...

    def health(self) -> list[Any]: ...


class Ingestor:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        metadata: MetadataSource | None = None,
        feed: AnnouncementSource | None = None,
        signals: Signals | None = None,
        refresh_after: timedelta = timedelta(hours=6),
        batch: int = 100,
        guard: LookupGuard | None = None,
    ) -> None:
        self._guard = guard or LookupGuard(clock)
        self._uow = uow
        self._clock = clock
        self._metadata = metadata
        self._feed = feed
        self._signals = signals
        self._refresh_after = refresh_after
        self._batch = batch

    async def lookup(self, ref: ArxivId, *, user: str | None = None) -> Paper:
        """The stored paper, fetched from arXiv when we do not have it (or not the version asked for). A look-up
        that would reach arXiv counts against `user`'s hourly limit; an id arXiv lacks is remembered for hours."""
        async with self._uow() as uow:
            paper = await uow.papers.get(ref.id)
        if paper is not None and (ref.version is None or ref.version <= paper.version):
            return paper
        if self._metadata is None:
            if paper is not None:  # asked for a newer version than the one we hold, with no arXiv to ask
                raise NotFound(
                    f"{ref.versioned}: v{paper.version} is the only version of {ref.id} known here (arXiv look-ups "
                    f"are off); ask for {ref.id}"
                )
            raise NotFound(f"no paper {ref.id} in the local store (arXiv look-ups are off)")
        self._guard.before_request(ref.id, user)
        fetched = await self._metadata.fetch([ref.id])
        if not fetched:
            self._guard.not_on_arxiv(ref.id)
            raise NotFound(f"arXiv has no paper {ref.id}")
        async with self._uow() as uow:
            await uow.papers.save(fetched, now=self._clock.now())
            await uow.commit()
            stored = await uow.papers.get(ref.id)
        assert stored is not None
        return stored

    async def ingest(self, categories: Sequence[str], day: date | None, progress: Progress) -> IngestReport:
        """Store the day's announced papers (new versions update, never duplicate), then refresh their signals."""
        if self._feed is None or self._metadata is None:
            raise UpstreamUnavailable("arXiv ingestion is not configured")
        before = self._metadata.requests + self._feed.requests
        progress.start("Reading the announcement feed", None)
        announced = await self._feed.announcements(categories, day)
        target = day or (announced[0].day if announced else self._clock.now().date())
        ids = list(dict.fromkeys(a.id for a in announced))
        progress.start(f"Fetching metadata for {len(ids)} papers", len(ids))
        new = updated = 0
        for start in range(0, len(ids), self._batch):
            chunk = ids[start : start + self._batch]
            papers = await self._metadata.fetch(chunk)
            async with self._uow() as uow:
                counts = await uow.papers.save(papers, now=self._clock.now())
                await uow.papers.mark_announced([p.id for p in papers], target)
                await uow.commit()
            new, updated = new + counts[0], updated + counts[1]
            progress.advance(len(chunk))
        requests = self._metadata.requests + self._feed.requests - before
        report = IngestReport(target, len(ids), new, updated, requests)
        if ids:
            await self.refresh_day(target, progress=progress)
        return report

    async def refresh_day(self, day: date, *, progress: Progress | None = None) -> int:
        """Refresh the signals of every paper announced on `day`. Returns how many readings were stored."""
        async with self._uow() as uow:
            papers = await uow.papers.announced_between(day, day)
        if progress:
            progress.start(f"Refreshing signals for {len(papers)} papers", None)
        return await self._refresh(papers, day)

    async def refresh_stale(self, papers: Sequence[Paper]) -> bool:
        """Refresh signals for papers with no recent snapshot (a `/paper` for an older paper); returns whether any
        was refreshed (its card is then read again)."""
        if self._signals is None:
            return False
        async with self._uow() as uow:
            latest = await uow.signals.latest([p.id for p in papers])
        stale = self.stale(papers, latest)
        if stale:
            await self._refresh(stale, self._clock.now().date())
        return bool(stale)

    def stale(self, papers: Sequence[Paper], latest: Mapping[str, Sequence[Signal]]) -> list[Paper]:
        """The papers among `papers` that `refresh_stale` would refresh, given their `latest` signals (already
        read, e.g. with the rest of a `/paper` card): none with a snapshot of the last `refresh_after`, and none at
        all without signal sources."""
        if self._signals is None:
            return []
        cutoff = self._clock.now() - self._refresh_after
        return [p for p in papers if not any(s.fetched_at >= cutoff for s in latest.get(p.id, ()))]

    def unavailable(self) -> tuple[str, ...]:
        return self._signals.unavailable() if self._signals else ()

    async def probe(self, *, sample: int = 5) -> list[Any]:
        """Ask every enabled source for real and report each one's health: the latest announced papers (a few,
        stored like any refresh), or on an empty database one well-known paper (one cheap request each, nothing
        stored). A source that cannot be reached is reported failing, never "ok" on the strength of silence."""
        if self._signals is None:
            return []
        async with self._uow() as uow:
            latest = await uow.papers.latest_announcement(self._clock.now().date())
            papers = await uow.papers.announced_between(latest, latest) if latest else []
        if papers:
            await self._refresh(papers[:sample], latest or self._clock.now().date())
        else:
            await self._signals.refresh([PROBE_PAPER], self._clock.now().date())
        return self._signals.health()

    async def _refresh(self, papers: Sequence[Paper], day: date) -> int:
        if self._signals is None or not papers:
            return 0
        refresh = await self._signals.refresh(papers, day)
        readings = getattr(refresh, "readings", {})
        summaries = getattr(refresh, "summaries", {})
        rows = [(paper_id, signal) for by_paper in readings.values() for paper_id, signal in by_paper.items()]
        async with self._uow() as uow:
            await uow.signals.add(rows)
            for paper_id, found in summaries.items():
                for summary in found:
                    await uow.summaries.replace_source(paper_id, summary)
            await uow.commit()
        return len(rows)

    def now(self) -> datetime:
        return self._clock.now()
