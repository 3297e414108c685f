"""The paper repository: arXiv metadata and announcement days."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import Paper
from bot.storage.changes import Changes
from bot.storage.dialect import id_lists, one_of, per_dialect, upsert
from bot.storage.rows import paper_of as paper_of  # also imported from here (card_parts)
from bot.storage.tables import PaperRow, SignalSnapshotRow, table_of

_BATCH = 500

_PAPERS = table_of(PaperRow)
_SIGNALS = table_of(SignalSnapshotRow)


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
