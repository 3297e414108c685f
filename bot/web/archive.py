"""What a channel's page shows, read from the database: its digest days, each day's posted papers, and a page
per paper it posted. Plain dataclasses, already cleaned of control and bidi characters; no HTML here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.model import ChannelRef, Paper, Summary, VoteTally, abs_url, pdf_url
from bot.domain.summaries import best_summary, extractive_summary
from bot.domain.text import clean_multiline, clean_text
from bot.domain.tokens import looks_like_token, token_hash
from bot.storage.pages import DayRecord, PageState
from bot.storage.uow import UnitOfWork

FEED_DAYS = 30
"""How many digest days the Atom feed carries."""


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper as the page prints it: every field cleaned, links built from the canonical id only."""

    id: str
    version: int
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    published: datetime

    @property
    def slug(self) -> str:
        """The paper page's file name part: old-style ids hold a slash (`hep-th/9901001` → `hep-th_9901001`)."""
        return self.id.replace("/", "_")

    @property
    def abs_url(self) -> str:
        return abs_url(self.id)

    @property
    def pdf_url(self) -> str:
        return pdf_url(self.id, self.version)


@dataclass(frozen=True, slots=True)
class ShownSummary:
    text: str
    provenance: str
    votes: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    paper: PaperText
    summary: ShownSummary
    why: tuple[str, ...]
    votes: VoteTally
    updated_version: bool
    community: int
    """How many community summaries were written about it in this channel."""


@dataclass(frozen=True, slots=True)
class DayPage:
    day: date
    entries: tuple[Entry, ...]
    updated: datetime
    newer: date | None = None
    older: date | None = None


@dataclass(frozen=True, slots=True)
class Month:
    label: str
    days: tuple[DayRecord, ...]


@dataclass(frozen=True, slots=True)
class FrontPage:
    latest: DayPage | None
    months: tuple[Month, ...]
    updated: datetime | None


@dataclass(frozen=True, slots=True)
class PaperPage:
    paper: PaperText
    shown: ShownSummary
    community: tuple[ShownSummary, ...]
    votes: VoteTally
    postings: tuple[tuple[date, int], ...]
    updated: datetime


def paper_text(paper: Paper) -> PaperText:
    title = clean_text(paper.title) or f"arXiv:{paper.id}"
    authors = tuple(name for name in (clean_text(a) for a in paper.authors) if name)
    categories = tuple(clean_text(c) for c in paper.categories)
    return PaperText(paper.id, paper.version, title, authors, clean_multiline(paper.abstract), categories,
                     paper.published)  # fmt: skip


def shown(summary: Summary) -> ShownSummary:
    """A summary with its provenance. A community summary's author is never named on the public page: nobody
    chose to be credited there (chat names are not for the open web)."""
    community = summary.source == "community"
    provenance = "Community summary written in this channel" if community else summary.provenance
    return ShownSummary(clean_multiline(summary.text), clean_text(provenance), summary.votes)


class ChannelArchive:
    """The reads behind a channel's pages. Every method takes the `PageState` that `find` returned for a token."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def find(self, token: str) -> PageState | None:
        """The published channel this token opens, or None (unknown, malformed, rotated away or turned off)."""
        if not looks_like_token(token):
            return None
        async with self._uow() as uow:
            await uow.read_only()
            state = await uow.pages.by_token_hash(token_hash(token))
        return state if state is not None and state.published else None

    async def for_channel(self, channel: ChannelRef) -> PageState | None:
        """The channel's page if it is published (`hotpapers web export`), else None."""
        async with self._uow() as uow:
            await uow.read_only()
            channel_id = await uow.channels.id_of(channel)
            state = None if channel_id is None else await uow.pages.state(channel_id)
        return state if state is not None and state.published else None

    async def days(self, state: PageState) -> list[DayRecord]:
        async with self._uow() as uow:
            await uow.read_only()
            return await uow.pages.days(state.channel_id)

    async def front(self, state: PageState) -> FrontPage:
        days = await self.days(state)
        latest = await self.day(state, days[0].day, days=days) if days else None
        months: dict[str, list[DayRecord]] = {}
        for record in days:
            months.setdefault(f"{record.day:%B %Y}", []).append(record)
        return FrontPage(latest, tuple(Month(label, tuple(found)) for label, found in months.items()),
                         max((d.updated for d in days), default=None))  # fmt: skip

    async def day(self, state: PageState, day: date, *, days: Sequence[DayRecord] | None = None) -> DayPage | None:
        days = list(days) if days is not None else await self.days(state)
        index = next((i for i, record in enumerate(days) if record.day == day), None)
        if index is None:
            return None
        async with self._uow() as uow:
            await uow.read_only()
            records = await uow.pages.entries(state.channel_id, day)
            ids = [record.paper_id for record in records]
            papers = await uow.papers.get_many(ids)
            summaries = await uow.summaries.for_papers(list(papers.values()))
            community = await uow.pages.community_summaries(state.channel_id, ids)
            tallies = await uow.votes.tallies(state.channel_id, ids)
        entries = []
        for record in records:
            paper = papers.get(record.paper_id)
            if paper is None:
                continue
            theirs = community.get(paper.id, [])
            best = _best(paper, summaries.get(paper.id, []), theirs)
            entries.append(Entry(record.rank, paper_text(paper), best, tuple(clean_text(w) for w in record.why),
                                 tallies.get(paper.id, VoteTally()), record.updated_version, len(theirs)))  # fmt: skip
        newer = days[index - 1].day if index > 0 else None
        older = days[index + 1].day if index + 1 < len(days) else None
        return DayPage(day, tuple(entries), days[index].updated, newer, older)

    async def recent(self, state: PageState, limit: int = FEED_DAYS) -> list[DayPage]:
        days = await self.days(state)
        pages = [await self.day(state, record.day, days=days) for record in days[:limit]]
        return [page for page in pages if page is not None]

    async def paper(self, state: PageState, slug: str) -> PaperPage | None:
        """The page of a paper the channel posted; None for any other paper (it is not this channel's to show)."""
        paper_id = slug.replace("_", "/")
        async with self._uow() as uow:
            await uow.read_only()
            postings = await uow.pages.postings_of(state.channel_id, paper_id)
            if not postings:
                return None
            paper = await uow.papers.get(paper_id)
            if paper is None:
                return None
            summaries = (await uow.summaries.for_papers([paper])).get(paper.id, [])
            community = (await uow.pages.community_summaries(state.channel_id, [paper.id]))[paper.id]
            tally = (await uow.votes.tallies(state.channel_id, [paper.id])).get(paper.id, VoteTally())
            days = {record.day: record.updated for record in await uow.pages.days(state.channel_id)}
        updated = max((days[day] for day, _ in postings if day in days), default=paper.updated)
        return PaperPage(paper_text(paper), _best(paper, summaries, community), tuple(shown(s) for s in community),
                         tally, tuple(postings), updated)  # fmt: skip


def _best(paper: Paper, summaries: Sequence[Summary], community: Sequence[Summary]) -> ShownSummary:
    """The card's order of preference, with only this channel's community summaries (another channel's words
    never appear on this one's page), falling back to key sentences of the abstract."""
    candidates = [s for s in summaries if s.source != "community"] + list(community)
    chosen = best_summary(candidates) or extractive_summary(paper.abstract, created=paper.updated)
    return shown(chosen)
