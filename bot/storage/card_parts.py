"""Reading what a card shows besides the paper — its visible summaries and where it was posted — in one go.

Both are needed together for every card; on PostgreSQL they come back as one row of arrays (each kept in its
order), one round trip for all the papers of a digest. A `/paper` card reads the paper, its latest signals, its
votes and its discussion in that same round trip (`paper_view`), on the driver's connection. SQLite gets the plain
queries, one after the other.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Dialect, Select, bindparam, func, literal_column, select, true

from bot.domain.model import POSTINGS_ON_A_CARD, ChannelRef, Paper, Signal, Summary, VoteTally
from bot.domain.records import CardParts, PaperView
from bot.storage.database import read_on_driver, reads_on_driver
from bot.storage.dialect import list_chunk, per_dialect, returns_arrays
from bot.storage.driver import on_driver, raise_if_unavailable
from bot.storage.papers import paper_of
from bot.storage.posts import posting_records, postings_select
from bot.storage.rows import paper_view_in_steps
from bot.storage.summaries import shown_summaries, summary_of
from bot.storage.tables import (
    ChannelRow,
    PaperRow,
    PostRow,
    SignalSnapshotRow,
    SummaryRow,
    VoteRow,
    table_of,
)
from bot.storage.votes import DOWN, UP

if TYPE_CHECKING:
    from bot.storage.uow import UnitOfWork

_SUMMARIES = table_of(SummaryRow)
_PAPERS = table_of(PaperRow)
_SIGNALS = table_of(SignalSnapshotRow)
_VOTES = table_of(VoteRow)
_CHANNELS = table_of(ChannelRow)


def _summary_and_posting_arrays(
    dialect: str, *, last: int | None = None, paper_id: ColumnElement[str] | None = None
) -> tuple[Any, Any]:
    """Summaries and postings of `:ids`, each as one row of arrays kept in its order (PostgreSQL); with `last`, only
    the most recent postings of `paper_id` (the rest is counted, not read)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by  # PostgreSQL's dialect: not loaded on SQLite

    shown = shown_summaries(dialect).subquery()
    summaries = select(*(func.array_agg(aggregate_order_by(c, shown.c.id)) for c in shown.c)).subquery()
    if last is None:
        posted = postings_select(dialect).subquery()
    else:
        assert paper_id is not None, "the most recent postings of one paper"
        posted = _recent_postings(last, paper_id).subquery()
    order = (posted.c.day, posted.c.channel_id)
    postings = select(*(func.array_agg(aggregate_order_by(c, *order)) for c in posted.c)).subquery()
    return summaries, postings


def _recent_postings(last: int, paper_id: ColumnElement[str]) -> Select[Any]:
    """`postings_select`'s columns for the `last` most recent postings of `paper_id` (PostgreSQL): `last` entries of
    the (paper, day, channel) index read backwards, however many channels posted the paper, and the channel looked up
    only for those kept."""
    posts, channels = table_of(PostRow).c, _CHANNELS.c
    recent = (
        select(posts.paper_id, posts.day, posts.channel_id)
        .where(posts.paper_id == paper_id, posts.message_id.is_not(None))
        .order_by(posts.day.desc(), posts.channel_id.desc())
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
    `:platform`/`:workspace`/`:channel`, or everywhere —, its summaries, its postings and, in a channel, how many
    people replied in its discussion threads there, as one row (PostgreSQL).

    The paper id is compared through a one-row subquery, `(SELECT :paper_id)`, everywhere: the planner's estimates
    then do not depend on its value, so PostgreSQL keeps one generic plan for the prepared statement (from its sixth
    run on) instead of planning the seven parts anew for every call, which took 0.3 ms where running them takes
    0.04 (`bench/RESULTS.md`, "paper")."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on

    paper_id = select(bindparam("paper_id", type_=_PAPERS.c.id.type)).scalar_subquery()
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
    people: ColumnElement[int] = literal_column("0")
    if in_channel:
        from bot.storage.threads import ThreadReplyRow  # the threads' mapping loads with the first use of threads

        channel_id = select(_CHANNELS.c.id).where(
            _CHANNELS.c.platform == bindparam("platform"),
            _CHANNELS.c.workspace == bindparam("workspace"),
            _CHANNELS.c.channel == bindparam("channel"),
        )
        votes = votes.where(_VOTES.c.channel_id == channel_id.scalar_subquery())
        replies = table_of(ThreadReplyRow).c
        people = (
            select(func.count(func.distinct(replies.user_id)))
            .where(replies.channel_id == channel_id.scalar_subquery(), replies.paper_id == paper_id)
            .scalar_subquery()
        )
    tally = votes.subquery()
    summaries, postings = _summary_and_posting_arrays(dialect, last=POSTINGS_ON_A_CARD, paper_id=paper_id)
    posts = table_of(PostRow).c
    count = select(func.count()).where(posts.paper_id == paper_id, posts.message_id.is_not(None)).scalar_subquery()
    source = paper.join(signals, true()).join(tally, true()).join(summaries, true()).join(postings, true())
    shown = (paper, signals, tally, summaries, postings, count.label("posted_count"), people.label("people"))
    return select(*shown).select_from(source)


@dataclass(frozen=True, slots=True)
class _DriverStatement:
    """A statement compiled once for the driver: its SQL, and which bind parameter each `$n` is."""

    sql: str
    names: tuple[str, ...]
    constants: dict[str, Any]

    @classmethod
    def compile(cls, statement: Select[Any], dialect: Dialect) -> _DriverStatement:
        compiled = statement.compile(dialect=dialect)
        constants = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        return cls(str(compiled), tuple(compiled.positiontup or ()), constants)

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.constants[name] for name in self.names]


_driver_statements: dict[bool, _DriverStatement] = {}
"""`_paper_view` compiled for asyncpg, with and without a channel (the same SQL for every engine: the schema is
PostgreSQL's search_path, not a name in the text)."""


def _driver_statement(in_channel: bool, dialect: Dialect) -> _DriverStatement:
    found = _driver_statements.get(in_channel)
    if found is None:
        view = _paper_view(dialect.name, in_channel=in_channel)
        found = _driver_statements[in_channel] = _DriverStatement.compile(view, dialect)
    return found


async def _fetch(driver: Any, statement: _DriverStatement, values: dict[str, Any]) -> Sequence[Any] | None:
    """One row of `statement` on asyncpg's connection `driver` (a connection that broke meanwhile: the database is
    unavailable, as `bot.storage.driver` reports it)."""
    try:
        row: Sequence[Any] | None = await driver.fetchrow(statement.sql, *statement.arguments(values))
    except Exception as error:
        raise_if_unavailable(error, driver)
        raise
    return row


class CardPartsRepository:
    """Reads across the other repositories' tables; where a database reads them step by step (SQLite), it asks
    those repositories. It lives on the unit of work without its session: a `/paper` card on PostgreSQL is read on
    the driver's connection, and the session is made only when a read needs it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def read(self, papers: Sequence[Paper]) -> CardParts:
        """`SummaryRepository.for_papers` and `PostRepository.postings` of the same papers, in one round trip
        on PostgreSQL."""
        uow, session = self._uow, self._uow._session
        ids = list(dict.fromkeys(p.id for p in papers))
        if not returns_arrays(session) or len(ids) > list_chunk(session):
            summaries = await uow.summaries.for_papers(papers)
            return summaries, await uow.posts.postings(ids)
        if not ids:
            return {}, {}
        row = (await session.execute(_summaries_and_postings(session), {"ids": ids})).one()
        return _parts(row, {p.id: p.version for p in papers})

    async def paper_view(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        """Everything a `/paper` card shows about a stored paper — the paper, its latest signals, its votes (the
        channel's; every channel's without one; none in a channel we have never seen), summaries, postings, the
        people in its discussion in the channel — in one statement on PostgreSQL. None when the paper is not
        stored."""
        if not reads_on_driver(self._uow.engine):
            return await self._paper_view_in_steps(paper_id, channel)
        values: dict[str, Any] = {"paper_id": paper_id, "ids": [paper_id]}
        if channel is not None:
            values |= {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}
        row = await self._fetch_on_driver(channel is not None, values)
        if row is None:
            return None
        paper = paper_of(_PaperColumns._make(row[:_PAPER_WIDTH]))
        sources, signal_values, labels, fetched, urls, up, down = row[_PAPER_WIDTH : _PAPER_WIDTH + 7]
        signals = tuple(map(Signal, sources, signal_values, labels, fetched, urls)) if sources else ()
        summaries, postings = _parts(row[_PAPER_WIDTH + 7 : -2], {paper.id: paper.version})
        return PaperView(
            paper,
            signals,
            VoteTally(int(up or 0), int(down or 0)),
            summaries.get(paper.id, []),
            postings.get(paper.id, []),
            int(row[-2]),
            int(row[-1]),
        )

    async def _fetch_on_driver(self, in_channel: bool, values: dict[str, Any]) -> Sequence[Any] | None:
        """`_paper_view`'s row, run on asyncpg's own connection: SQLAlchemy's execution and result machinery cost
        more than PostgreSQL takes to answer (0.15 ms of 0.3 on a Core connection). The driver prepares the SQL once
        per connection and hands back what SQLAlchemy's types would (JSON decoded by the codec SQLAlchemy's dialect
        sets on each connection, timestamps as aware UTC datetimes). A unit of work that already holds a connection
        reads in its transaction (`bot.storage.driver.on_driver`); any other on the connection the engine keeps for
        such reads (`read_on_driver`), outside any transaction, as `read_only` would run it."""
        engine = self._uow.engine
        statement = _driver_statement(in_channel, engine.dialect)
        if self._uow.began:
            async with on_driver(self._uow._session) as driver:
                row: Sequence[Any] | None = await driver.fetchrow(statement.sql, *statement.arguments(values))
            return row
        return await read_on_driver(engine, lambda driver: _fetch(driver, statement, values))

    async def _paper_view_in_steps(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        uow = self._uow
        return await paper_view_in_steps(
            paper_id,
            channel,
            get=uow.papers.get,
            id_of=uow.channels.id_of,
            latest=uow.signals.latest,
            tallies=uow.votes.tallies,
            parts=self.read,
            people=self._people,
        )

    async def _people(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        return await self._uow.threads.people(channel_id, paper_ids)


_PAPER_WIDTH = len(_PAPERS.c)
_PaperColumns = namedtuple("_PaperColumns", _PAPERS.c.keys())  # type: ignore[misc]
"""A `papers` row of the card's statement with its columns as attributes, as `paper_of` reads them."""
_SUMMARY_WIDTH = len(_SUMMARIES.c)
_SummaryColumns = namedtuple("_SummaryColumns", _SUMMARIES.c.keys())  # type: ignore[misc]


def _parts(row: Sequence[Any], versions: dict[str, int]) -> CardParts:
    """Summaries and postings from their columns of arrays (LLM summaries only for the paper's current version)."""
    width = _SUMMARY_WIDTH
    found: defaultdict[str, list[Summary]] = defaultdict(list)
    if row[0] is not None:
        for values in zip(*row[:width], strict=True):
            summary: Any = _SummaryColumns._make(values)
            if summary.source != "llm" or summary.version == versions[summary.paper_id]:
                found[summary.paper_id].append(summary_of(summary))
    postings = posting_records(zip(*row[width:], strict=True)) if row[width] is not None else {}
    return found, postings
