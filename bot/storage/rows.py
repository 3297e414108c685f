"""Rows to domain dataclasses, apart from SQLAlchemy: the repositories map their rows with these, and so does the
stdlib-`sqlite3` reader of `hotpapers paper` (`bot.storage.sqlite_reader`), so the two read a row the same way.

A row is anything with the selected columns as attributes and in order (a SQLAlchemy `Row`, an ORM object where
only attributes are read, a named tuple)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.domain.model import ChannelRef, Paper, PostRecord, Signal, Summary, VoteTally


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
