"""Repositories for what we know about papers: metadata, popularity snapshots and summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import Paper, Signal, Summary
from bot.storage.dialect import affected, id_lists, one_of, per_dialect, upsert
from bot.storage.tables import PaperRow, SignalSnapshotRow, SummaryRow, SummaryVoteRow, table_of

_BATCH = 500
REPORTS_TO_HIDE = 3
"""A summary reported this many times is no longer shown."""

_PAPERS = table_of(PaperRow)
_SIGNALS = table_of(SignalSnapshotRow)
_SUMMARIES = table_of(SummaryRow)


class Changes:
    """Counts this process's writes to papers and signals, so caches of derived data (`cards.WindowCache`) know
    when to rebuild. Bumped when a write is sent and again when it commits; other processes' writes are caught by
    `PaperRepository.window_fingerprint`."""

    generation = 0
    cards = 0
    """Writes to what cards show besides the paper: summaries (and their votes and reports) and posts."""

    @classmethod
    def bump(cls, session: AsyncSession | None = None) -> None:
        cls.generation += 1
        if session is not None:
            session.info["papers_changed"] = True

    plans = 0
    """Writes of digest plans (new rows in posts), which is what the versions posted in each channel depend on:
    recording a planned entry's message changes what cards show, not those."""

    @classmethod
    def bump_cards(cls, session: AsyncSession | None = None) -> None:
        cls.cards += 1
        if session is not None:
            session.info["cards_changed"] = True

    @classmethod
    def bump_plans(cls, session: AsyncSession | None = None) -> None:
        cls.plans += 1
        cls.bump_cards(session)
        if session is not None:
            session.info["plans_changed"] = True


@per_dialect
def _paper_by_id(dialect: str) -> Select[Any]:
    return select(_PAPERS).where(_PAPERS.c.id == bindparam("id"))


@per_dialect
def _papers_by_ids(dialect: str) -> Select[Any]:
    return select(_PAPERS).where(one_of(_PAPERS.c.id, "ids", dialect))


@per_dialect
def _categories_by_ids(dialect: str) -> Select[Any]:
    return select(_PAPERS.c.id, _PAPERS.c.categories).where(one_of(_PAPERS.c.id, "ids", dialect))


@per_dialect
def _announced(dialect: str) -> Select[Any]:
    announced = _PAPERS.c.announced
    return select(_PAPERS).where(announced >= bindparam("first"), announced <= bindparam("last")).order_by(_PAPERS.c.id)


@per_dialect
def _window_fingerprint(dialect: str) -> Select[Any]:
    announced = _PAPERS.c.announced
    newest_signal = select(func.max(_SIGNALS.c.id)).scalar_subquery()
    return select(func.count(), func.max(_PAPERS.c.fetched_at), func.sum(_PAPERS.c.version), newest_signal).where(
        announced >= bindparam("first"), announced <= bindparam("last")
    )


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


def shown_summaries(dialect: str) -> Select[Any]:
    return (
        select(_SUMMARIES)
        .where(one_of(_SUMMARIES.c.paper_id, "ids", dialect), _SUMMARIES.c.reports < REPORTS_TO_HIDE)
        .order_by(_SUMMARIES.c.id)
    )


_visible_summaries = per_dialect(shown_summaries)


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


def _chunks(items: Sequence[str], size: int = _BATCH) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PaperRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, paper_id: str) -> Paper | None:
        row = (await self._session.execute(_paper_by_id(self._session), {"id": paper_id})).first()
        return paper_of(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for chunk in id_lists(self._session, ids):
            rows = await self._session.execute(_papers_by_ids(self._session), {"ids": chunk})
            found.update((row.id, paper_of(row)) for row in rows)
        return found

    async def categories(self, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Just the categories of `ids` (a channel's taste is learnt from the categories of what it voted on)."""
        found: dict[str, tuple[str, ...]] = {}
        for chunk in id_lists(self._session, ids):
            rows = await self._session.execute(_categories_by_ids(self._session), {"ids": chunk})
            found.update((paper_id, tuple(categories)) for paper_id, categories in rows)
        return found

    async def save(self, papers: Sequence[Paper], *, now: datetime) -> tuple[int, int]:
        """Insert new papers and move known ones to a newer version; never duplicate, never go back a version.

        Returns (new, updated) counts.
        """
        known = await self._versions([p.id for p in papers])
        fresh = [p for p in papers if p.id not in known or p.version >= known[p.id]]
        if not fresh:
            return 0, 0
        Changes.bump(self._session)
        columns = ("version", "title", "authors", "abstract", "categories", "primary_category", "published")
        rows = [_row_values(p, now) for p in {p.id: p for p in fresh}.values()]
        for start in range(0, len(rows), _BATCH):
            statement = upsert(
                self._session,
                table_of(PaperRow),
                rows[start : start + _BATCH],
                keys=["id"],
                update=[*columns, "updated", "comment", "journal_ref", "doi", "fetched_at"],
            )
            await self._session.execute(statement)
        new = sum(1 for p in fresh if p.id not in known)
        updated = sum(1 for p in fresh if p.id in known and p.version > known[p.id])
        return new, updated

    async def mark_announced(self, ids: Sequence[str], day: date) -> None:
        if ids:
            Changes.bump(self._session)
        for chunk in _chunks(list(ids)):
            await self._session.execute(
                update(PaperRow)
                .where(PaperRow.id.in_(chunk))
                .values(announced=day)
                .execution_options(synchronize_session=False)
            )

    async def announced_between(self, first: date, last: date) -> list[Paper]:
        rows = await self._session.execute(_announced(self._session), {"first": first, "last": last})
        return [paper_of(row) for row in rows]

    async def window_fingerprint(self, first: date, last: date) -> tuple[object, ...]:
        """What changes when the papers announced in [first, last] or any signal change — count, newest fetch,
        sum of versions, newest signal id — in one cheap statement, so a cache of the window can be checked."""
        row = (await self._session.execute(_window_fingerprint(self._session), {"first": first, "last": last})).one()
        return tuple(row)

    async def latest_announcement(self, on_or_before: date) -> date | None:
        return await self._session.scalar(
            select(func.max(PaperRow.announced)).where(PaperRow.announced <= on_or_before)
        )

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(PaperRow)) or 0)

    async def _versions(self, ids: Sequence[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            result = await self._session.execute(select(PaperRow.id, PaperRow.version).where(PaperRow.id.in_(chunk)))
            versions.update((row.id, row.version) for row in result)
        return versions


def _row_values(paper: Paper, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "published": paper.published,
        "updated": paper.updated,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "announced": paper.announced,
        "fetched_at": now,
    }
    return values


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
        latest: dict[str, list[Signal]] = defaultdict(list)
        for chunk in id_lists(self._session, ids):
            result = await self._session.execute(_latest_signals(self._session), {"ids": chunk})
            for row in result:
                latest[row.paper_id].append(Signal(row.source, row.value, row.label, row.fetched_at, row.url))
        return {paper_id: tuple(sorted(signals, key=lambda s: s.source)) for paper_id, signals in latest.items()}


class SummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_papers(self, papers: Sequence[Paper]) -> dict[str, list[Summary]]:
        """Visible summaries per paper; LLM summaries only when written for the paper's current version."""
        versions = {p.id: p.version for p in papers}
        found: dict[str, list[Summary]] = defaultdict(list)
        for chunk in id_lists(self._session, versions):
            rows = await self._session.execute(_visible_summaries(self._session), {"ids": chunk})
            for row in rows:
                if row.source != "llm" or row.version == versions[row.paper_id]:
                    found[row.paper_id].append(summary_of(row))
        return found

    async def add(
        self,
        paper_id: str,
        summary: Summary,
        *,
        version: int | None = None,
        author_id: str | None = None,
        channel_id: int | None = None,
    ) -> Summary:
        Changes.bump_cards(self._session)
        row = SummaryRow(
            paper_id=paper_id,
            version=version,
            source=summary.source,
            text=summary.text,
            author=summary.author,
            author_id=author_id,
            model=summary.model,
            channel_id=channel_id,
            created_at=summary.created,
            score=0,
            reports=0,
        )
        self._session.add(row)
        await self._session.flush()
        return summary_of(row)

    async def replace_source(self, paper_id: str, summary: Summary) -> None:
        """Keep one summary per external source (HF, S2): the latest wins."""
        Changes.bump_cards(self._session)
        existing = await self._session.scalar(
            select(SummaryRow).where(SummaryRow.paper_id == paper_id, SummaryRow.source == summary.source)
        )
        if existing is None:
            await self.add(paper_id, summary)
        elif existing.text != summary.text:
            existing.text, existing.created_at, existing.model = summary.text, summary.created, summary.model

    async def vote(self, summary_id: int, user_id: str, value: int) -> None:
        Changes.bump_cards(self._session)
        row = await self._session.get(SummaryVoteRow, (summary_id, user_id))
        previous = row.value if row else 0
        if row is None:
            self._session.add(SummaryVoteRow(summary_id=summary_id, user_id=user_id, value=value))
        else:
            row.value = value
        await self._session.execute(
            update(SummaryRow).where(SummaryRow.id == summary_id).values(score=SummaryRow.score + value - previous)
        )

    async def get(self, summary_id: int) -> tuple[str, Summary] | None:
        """(paper id, summary) for a summary id."""
        row = await self._session.get(SummaryRow, summary_id)
        return (row.paper_id, summary_of(row)) if row else None

    async def forget_llm(self, paper_id: str, *, model: str) -> int:
        """Drop the cached LLM summaries of a paper for a model, so the next card asks the model again."""
        Changes.bump_cards(self._session)
        result = await self._session.execute(
            delete(SummaryRow).where(
                SummaryRow.paper_id == paper_id, SummaryRow.source == "llm", SummaryRow.model == model
            )
        )
        return int(affected(result) or 0)

    async def report(self, summary_id: int) -> bool:
        Changes.bump_cards(self._session)
        result = await self._session.execute(
            update(SummaryRow).where(SummaryRow.id == summary_id).values(reports=SummaryRow.reports + 1)
        )
        return bool(affected(result))

    async def delete_by_author(self, author_id: str) -> int:
        Changes.bump_cards(self._session)
        rows = list(await self._session.scalars(select(SummaryRow).where(SummaryRow.author_id == author_id)))
        for row in rows:
            await self._session.delete(row)
        return len(rows)


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
