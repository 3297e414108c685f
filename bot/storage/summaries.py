"""The summary repository: stored summaries of every source, their votes and reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import Paper, Summary
from bot.storage.changes import Changes
from bot.storage.dialect import affected, id_lists, one_of, per_dialect
from bot.storage.rows import summary_of as summary_of  # also imported from here (card_parts)
from bot.storage.rows import visible_summaries
from bot.storage.tables import SummaryRow, SummaryVoteRow, table_of

REPORTS_TO_HIDE = 3
"""A summary reported this many times is no longer shown."""

_SUMMARIES = table_of(SummaryRow)


def shown_summaries(dialect: str) -> Select[Any]:
    return (
        select(_SUMMARIES)
        .where(one_of(_SUMMARIES.c.paper_id, "ids", dialect), _SUMMARIES.c.reports < REPORTS_TO_HIDE)
        .order_by(_SUMMARIES.c.id)
    )


_visible_summaries = per_dialect(shown_summaries)


class SummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_papers(self, papers: Sequence[Paper]) -> dict[str, list[Summary]]:
        """Visible summaries per paper; LLM summaries only when written for the paper's current version."""
        versions = {p.id: p.version for p in papers}
        found: dict[str, list[Summary]] = {}
        for chunk in id_lists(self._session, versions):
            rows = await self._session.execute(_visible_summaries(self._session), {"ids": chunk})
            found.update(visible_summaries(rows, versions))  # a paper's summaries come in one chunk
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
