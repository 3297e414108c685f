"""Repositories for what we know about papers: metadata, popularity snapshots and summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import Paper, Signal, Summary
from bot.storage.dialect import upsert
from bot.storage.tables import PaperRow, SignalSnapshotRow, SummaryRow, SummaryVoteRow

_BATCH = 500
REPORTS_TO_HIDE = 3
"""A summary reported this many times is no longer shown."""


def _paper(row: PaperRow) -> Paper:
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
        row = await self._session.get(PaperRow, paper_id)
        return _paper(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = await self._session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk)))
            found.update((row.id, _paper(row)) for row in rows)
        return found

    async def save(self, papers: Sequence[Paper], *, now: datetime) -> tuple[int, int]:
        """Insert new papers and move known ones to a newer version; never duplicate, never go back a version.

        Returns (new, updated) counts.
        """
        known = await self._versions([p.id for p in papers])
        fresh = [p for p in papers if p.id not in known or p.version >= known[p.id]]
        if not fresh:
            return 0, 0
        columns = ("version", "title", "authors", "abstract", "categories", "primary_category", "published")
        rows = [_row_values(p, now) for p in {p.id: p for p in fresh}.values()]
        for start in range(0, len(rows), _BATCH):
            statement = upsert(
                self._session,
                PaperRow.__table__,
                rows[start : start + _BATCH],
                keys=["id"],
                update=[*columns, "updated", "comment", "journal_ref", "doi", "fetched_at"],
            )
            await self._session.execute(statement)
        new = sum(1 for p in fresh if p.id not in known)
        updated = sum(1 for p in fresh if p.id in known and p.version > known[p.id])
        return new, updated

    async def mark_announced(self, ids: Sequence[str], day: date) -> None:
        for chunk in _chunks(list(ids)):
            await self._session.execute(
                update(PaperRow)
                .where(PaperRow.id.in_(chunk))
                .values(announced=day)
                .execution_options(synchronize_session=False)
            )

    async def announced_between(self, first: date, last: date) -> list[Paper]:
        rows = await self._session.scalars(
            select(PaperRow).where(PaperRow.announced >= first, PaperRow.announced <= last).order_by(PaperRow.id)
        )
        return [_paper(row) for row in rows]

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
        self._session.add_all(rows)
        await self._session.flush()
        return len(rows)

    async def latest(self, ids: Sequence[str]) -> dict[str, tuple[Signal, ...]]:
        """The newest snapshot of each source for each paper, in one query per 500 ids."""
        latest: dict[str, list[Signal]] = defaultdict(list)
        for chunk in _chunks(list(dict.fromkeys(ids))):
            newest = (
                select(
                    SignalSnapshotRow,
                    func.row_number()
                    .over(
                        partition_by=(SignalSnapshotRow.paper_id, SignalSnapshotRow.source),
                        order_by=(SignalSnapshotRow.fetched_at.desc(), SignalSnapshotRow.id.desc()),
                    )
                    .label("n"),
                )
                .where(SignalSnapshotRow.paper_id.in_(chunk))
                .subquery()
            )
            result = await self._session.execute(select(newest).where(newest.c.n == 1))
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
        for chunk in _chunks(list(versions)):
            rows = await self._session.scalars(
                select(SummaryRow)
                .where(SummaryRow.paper_id.in_(chunk), SummaryRow.reports < REPORTS_TO_HIDE)
                .order_by(SummaryRow.id)
            )
            for row in rows:
                if row.source != "llm" or row.version == versions[row.paper_id]:
                    found[row.paper_id].append(_summary(row))
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
        return _summary(row)

    async def replace_source(self, paper_id: str, summary: Summary) -> None:
        """Keep one summary per external source (HF, S2): the latest wins."""
        existing = await self._session.scalar(
            select(SummaryRow).where(SummaryRow.paper_id == paper_id, SummaryRow.source == summary.source)
        )
        if existing is None:
            await self.add(paper_id, summary)
        elif existing.text != summary.text:
            existing.text, existing.created_at, existing.model = summary.text, summary.created, summary.model

    async def vote(self, summary_id: int, user_id: str, value: int) -> None:
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
        return (row.paper_id, _summary(row)) if row else None

    async def forget_llm(self, paper_id: str, *, model: str) -> int:
        """Drop the cached LLM summaries of a paper for a model, so the next card asks the model again."""
        result = await self._session.execute(
            delete(SummaryRow).where(
                SummaryRow.paper_id == paper_id, SummaryRow.source == "llm", SummaryRow.model == model
            )
        )
        return int(result.rowcount or 0)

    async def report(self, summary_id: int) -> bool:
        result = await self._session.execute(
            update(SummaryRow).where(SummaryRow.id == summary_id).values(reports=SummaryRow.reports + 1)
        )
        return bool(result.rowcount)

    async def delete_by_author(self, author_id: str) -> int:
        rows = list(await self._session.scalars(select(SummaryRow).where(SummaryRow.author_id == author_id)))
        for row in rows:
            await self._session.delete(row)
        return len(rows)


def _summary(row: SummaryRow) -> Summary:
    return Summary(
        text=row.text,
        source=row.source,
        created=row.created_at,
        author=row.author,
        model=row.model,
        votes=row.score,
        id=row.id,
    )
