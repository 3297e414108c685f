"""Reading what a card shows besides the paper — its visible summaries and where it was posted — in one go.

Both are needed together for every card; on PostgreSQL they come back as one row of arrays (each kept in its
order), one round trip for all the papers of a digest. A `/paper` card reads the paper, its latest signals and its
votes in that same round trip (`paper_view`). SQLite gets the plain queries, one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import POSTINGS_ON_A_CARD, ChannelRef, Paper, Signal, Summary, VoteTally
from bot.domain.records import CardParts, PaperView
from bot.storage.channels import ChannelRepository
from bot.storage.dialect import list_chunk, per_dialect, returns_arrays
from bot.storage.papers import PaperRepository, paper_of
from bot.storage.posts import PostRepository, posting_records, postings_select
from bot.storage.signals import SignalRepository
from bot.storage.summaries import SummaryRepository, shown_summaries, summary_of
from bot.storage.tables import (
    ChannelRow,
    DigestRow,
    PaperRow,
    PostRow,
    SignalSnapshotRow,
    SummaryRow,
    VoteRow,
    table_of,
)
from bot.storage.votes import DOWN, UP, VoteRepository

_SUMMARIES = table_of(SummaryRow)
_PAPERS = table_of(PaperRow)
_SIGNALS = table_of(SignalSnapshotRow)
_VOTES = table_of(VoteRow)
_CHANNELS = table_of(ChannelRow)


def _summary_and_posting_arrays(dialect: str, *, last: int | None = None) -> tuple[Any, Any]:
    """Summaries and postings of `:ids`, each as one row of arrays kept in its order (PostgreSQL); with `last`, only
    the most recent postings (the rest is counted, not read)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by  # PostgreSQL's dialect: not loaded on SQLite

    shown = shown_summaries(dialect).subquery()
    summaries = select(*(func.array_agg(aggregate_order_by(c, shown.c.id)) for c in shown.c)).subquery()
    posted = (postings_select(dialect) if last is None else _recent_postings(last)).subquery()
    order = (posted.c.day, posted.c.channel_id)
    postings = select(*(func.array_agg(aggregate_order_by(c, *order)) for c in posted.c)).subquery()
    return summaries, postings


def _recent_postings(last: int) -> Select[Any]:
    """`postings_select`'s columns for the `last` most recent postings of `:paper_id` (PostgreSQL): the digest day
    is looked up for every posting, to order them, but the channel only for those kept."""
    posts, channels, digests = table_of(PostRow).c, _CHANNELS.c, table_of(DigestRow).c
    day = select(digests.day).where(digests.id == posts.digest_id).scalar_subquery().label("day")
    recent = (
        select(posts.paper_id, day, posts.channel_id)
        .where(posts.paper_id == bindparam("paper_id"), posts.message_id.is_not(None))
        .order_by(day.desc(), posts.channel_id.desc())
        .limit(last)
        .subquery()
    )
    wanted = select(channels.platform, channels.workspace, channels.channel, channels.name)
    channel = wanted.where(channels.id == recent.c.channel_id).limit(1).lateral("channel")
    shown = (recent.c.paper_id, recent.c.day, *channel.c, recent.c.channel_id)
    return select(*shown).select_from(recent.join(channel, true()))


@per_dialect
def _summaries_and_postings(dialect: str) -> Select[Any]:
    summaries, postings = _summary_and_posting_arrays(dialect)
    return select(summaries, postings).select_from(summaries.join(postings, true()))


def _paper_view(dialect: str, *, in_channel: bool) -> Select[Any]:
    """One paper (`:paper_id`, also in `:ids`), its latest signal per source, its votes — in the channel named by
    `:platform`/`:workspace`/`:channel`, or everywhere — its summaries and its postings, as one row (PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on

    paper_id: BindParameter[str] = bindparam("paper_id")
    paper = select(_PAPERS).where(_PAPERS.c.id == paper_id).subquery()
    signal = _SIGNALS.c
    latest = (
        select(signal.source, signal.value, signal.label, signal.fetched_at, signal.url)
        .where(signal.paper_id == paper_id)
        .ext(distinct_on(signal.source))
        .order_by(signal.source, signal.fetched_at.desc(), signal.id.desc())
        .subquery()
    )
    signals = select(*(func.array_agg(aggregate_order_by(c, latest.c.source)) for c in latest.c)).subquery()
    votes = select(UP, DOWN).where(_VOTES.c.paper_id == paper_id)
    if in_channel:
        channel_id = select(_CHANNELS.c.id).where(
            _CHANNELS.c.platform == bindparam("platform"),
            _CHANNELS.c.workspace == bindparam("workspace"),
            _CHANNELS.c.channel == bindparam("channel"),
        )
        votes = votes.where(_VOTES.c.channel_id == channel_id.scalar_subquery())
    tally = votes.subquery()
    summaries, postings = _summary_and_posting_arrays(dialect, last=POSTINGS_ON_A_CARD)
    posts = table_of(PostRow).c
    count = select(func.count()).where(posts.paper_id == paper_id, posts.message_id.is_not(None)).scalar_subquery()
    source = paper.join(signals, true()).join(tally, true()).join(summaries, true()).join(postings, true())
    return select(paper, signals, tally, summaries, postings, count.label("posted_count")).select_from(source)


_paper_view_everywhere = per_dialect(lambda dialect: _paper_view(dialect, in_channel=False))
_paper_view_in_channel = per_dialect(lambda dialect: _paper_view(dialect, in_channel=True))


class CardPartsRepository:
    """Reads across the other repositories' tables; where a database reads them step by step (SQLite), it asks
    those repositories."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        papers: PaperRepository,
        signals: SignalRepository,
        summaries: SummaryRepository,
        posts: PostRepository,
        channels: ChannelRepository,
        votes: VoteRepository,
    ) -> None:
        self._session = session
        self._papers, self._signals, self._summaries = papers, signals, summaries
        self._posts, self._channels, self._votes = posts, channels, votes

    async def read(self, papers: Sequence[Paper]) -> CardParts:
        """`SummaryRepository.for_papers` and `PostRepository.postings` of the same papers, in one round trip
        on PostgreSQL."""
        ids = list(dict.fromkeys(p.id for p in papers))
        if not returns_arrays(self._session) or len(ids) > list_chunk(self._session):
            summaries = await self._summaries.for_papers(papers)
            return summaries, await self._posts.postings(ids)
        if not ids:
            return {}, {}
        row = (await self._session.execute(_summaries_and_postings(self._session), {"ids": ids})).one()
        return _parts(row, {p.id: p.version for p in papers})

    async def paper_view(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        """Everything a `/paper` card shows about a stored paper — the paper, its latest signals, its votes (the
        channel's; every channel's without one; none in a channel we have never seen), summaries, postings — in
        one statement on PostgreSQL. None when the paper is not stored."""
        if not returns_arrays(self._session):
            return await self._paper_view_in_steps(paper_id, channel)
        values: dict[str, Any] = {"paper_id": paper_id, "ids": [paper_id]}
        if channel is None:
            statement = _paper_view_everywhere(self._session)
        else:
            statement = _paper_view_in_channel(self._session)
            values |= {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}
        connection = await self._session.connection()  # a Core statement: no ORM machinery on this path
        row = (await connection.execute(statement, values)).first()
        if row is None:
            return None
        width = len(_PAPERS.c)
        paper = paper_of(SimpleNamespace(**dict(zip(_PAPERS.c.keys(), row[:width], strict=True))))
        sources, signal_values, labels, fetched, urls = row[width : width + 5]
        signals = tuple(map(Signal, sources, signal_values, labels, fetched, urls)) if sources else ()
        up, down = row[width + 5 : width + 7]
        summaries, postings = _parts(row[width + 7 : -1], {paper.id: paper.version})
        return PaperView(
            paper,
            signals,
            VoteTally(int(up or 0), int(down or 0)),
            summaries.get(paper.id, []),
            postings.get(paper.id, []),
            int(row[-1]),
        )

    async def _paper_view_in_steps(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        paper = await self._papers.get(paper_id)
        if paper is None:
            return None
        channel_id = await self._channels.id_of(channel) if channel else None
        signals = (await self._signals.latest([paper_id])).get(paper_id, ())
        votes = VoteTally()
        if channel_id is not None or channel is None:
            votes = (await self._votes.tallies(channel_id, [paper_id])).get(paper_id, votes)
        summaries, postings = await self.read([paper])
        posted = postings.get(paper_id, [])
        return PaperView(paper, signals, votes, summaries.get(paper_id, []), posted[-POSTINGS_ON_A_CARD:], len(posted))


def _parts(row: Sequence[Any], versions: dict[str, int]) -> CardParts:
    """Summaries and postings from their columns of arrays (LLM summaries only for the paper's current version)."""
    width = len(_SUMMARIES.c)
    found: defaultdict[str, list[Summary]] = defaultdict(list)
    if row[0] is not None:
        for values in zip(*row[:width], strict=True):
            summary = SimpleNamespace(**dict(zip(_SUMMARIES.c.keys(), values, strict=True)))
            if summary.source != "llm" or summary.version == versions[summary.paper_id]:
                found[summary.paper_id].append(summary_of(summary))
    postings = posting_records(zip(*row[width:], strict=True)) if row[width] is not None else {}
    return found, postings
