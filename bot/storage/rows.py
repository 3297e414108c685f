"""Rows to domain dataclasses, apart from SQLAlchemy: the repositories map their rows with these, and so does the
stdlib-`sqlite3` reader of `hotpapers paper` (`bot.storage.sqlite_reader`), so the two read a row the same way.

A row is anything with the selected columns as attributes and in order (a SQLAlchemy `Row`, an ORM object where
only attributes are read, a named tuple)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.domain.model import POSTINGS_ON_A_CARD, ChannelRef, Paper, PostRecord, Signal, Summary, VoteTally
from bot.domain.records import CardParts, PaperView


def paper_of(row: Any) -> Paper:
    """A Paper from a `papers` row (ORM or Core: both have the columns as attributes)."""
    return Paper(
        id=row.id,
        version=row.version,
        title=row.title,
        authors=tuple(row.authors),
        abstract=row.abstract,
        categories=tuple(row.categories),
        primary_category=row.primary_category,
        published=row.published,
        updated=row.updated,
        comment=row.comment,
        journal_ref=row.journal_ref,
        doi=row.doi,
        announced=row.announced,
    )


def summary_of(row: Any) -> Summary:
    return Summary(
        text=row.text,
        source=row.source,
        created=row.created_at,
        author=row.author,
        model=row.model,
        votes=row.score,
        id=row.id,
    )


def visible_summaries(rows: Iterable[Any], versions: Mapping[str, int]) -> dict[str, list[Summary]]:
    """Summaries per paper from `summaries` rows; LLM summaries only when written for the paper's current version
    (`versions`)."""
    found: defaultdict[str, list[Summary]] = defaultdict(list)
    for row in rows:
        if row.source != "llm" or row.version == versions[row.paper_id]:
            found[row.paper_id].append(summary_of(row))
    return found


def latest_signals(rows: Iterable[Any]) -> dict[str, tuple[Signal, ...]]:
    """Each paper's signals, by source, from `signal_snapshots` rows (the newest per source)."""
    latest: defaultdict[str, list[Signal]] = defaultdict(list)
    for row in rows:
        latest[row.paper_id].append(Signal(row.source, row.value, row.label, row.fetched_at, row.url))
    return {paper_id: tuple(sorted(signals, key=lambda s: s.source)) for paper_id, signals in latest.items()}


def tallies_of(rows: Iterable[Sequence[Any]]) -> dict[str, VoteTally]:
    """(paper id, up, down) rows as tallies (a sum over no rows is NULL)."""
    return {paper_id: VoteTally(int(up or 0), int(down or 0)) for paper_id, up, down in rows}


def counts_of(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """(paper id, count) rows."""
    return {paper_id: int(count) for paper_id, count in rows}


def posting_records(rows: Iterable[Sequence[Any]]) -> dict[str, list[PostRecord]]:
    """(paper, digest day, platform, workspace, channel, name, channel id) rows: where each paper was posted."""
    found: dict[str, list[PostRecord]] = {}
    for paper_id, day, platform, workspace, channel, name, _ in rows:
        found.setdefault(paper_id, []).append(PostRecord(ChannelRef(platform, workspace, channel, name), day))
    return found


async def paper_view_in_steps(
    paper_id: str,
    channel: ChannelRef | None,
    *,
    get: Callable[[str], Awaitable[Paper | None]],
    id_of: Callable[[ChannelRef], Awaitable[int | None]],
    latest: Callable[[Sequence[str]], Awaitable[Mapping[str, tuple[Signal, ...]]]],
    tallies: Callable[[int | None, Sequence[str]], Awaitable[Mapping[str, VoteTally]]],
    parts: Callable[[Sequence[Paper]], Awaitable[CardParts]],
    people: Callable[[int, Sequence[str]], Awaitable[Mapping[str, int]]],
) -> PaperView | None:
    """`PaperView` read one part at a time — SQLite's way (`CardPartsRepository`) and the stdlib reader's — from the
    repositories' reads: the paper, the channel, the latest signals, the votes, summaries and postings, the people
    in its discussion. None when the paper is not stored."""
    paper = await get(paper_id)
    if paper is None:
        return None
    channel_id = await id_of(channel) if channel else None
    signals = (await latest([paper_id])).get(paper_id, ())
    votes = VoteTally()
    if channel_id is not None or channel is None:
        votes = (await tallies(channel_id, [paper_id])).get(paper_id, votes)
    summaries, postings = await parts([paper])
    posted = postings.get(paper_id, [])
    discussed = 0 if channel_id is None else (await people(channel_id, [paper_id])).get(paper_id, 0)
    shown = posted[-POSTINGS_ON_A_CARD:]
    return PaperView(paper, signals, votes, summaries.get(paper_id, []), shown, len(posted), discussed)
