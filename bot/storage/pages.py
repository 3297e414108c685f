"""The channel's public page (issue 20): which channels publish their archive, and the reads its pages need.

A channel's page is found by the SHA-256 of the token in its URL; the token itself is never stored. Rows never
leave this module: the reads return plain tuples and dataclasses (`bot.web.archive` turns them into pages).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import ForeignKey, String, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.model import Summary
from bot.domain.records import PageState
from bot.storage.summaries import REPORTS_TO_HIDE, summary_of
from bot.storage.tables import Base, DigestRow, PostRow, SummaryRow, Timestamp

_POSTS = PostRow.__table__
_DIGESTS = DigestRow.__table__


class ChannelPageRow(Base):
    """One row per channel that ever published its page. `token_hash` is NULL while the page is off; `feed_id`
    stays for good, so the feed's ids survive a rotation or a pause in publishing."""

    __tablename__ = "channel_pages"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    feed_id: Mapped[str] = mapped_column(String(36))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)
    rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)


@dataclass(frozen=True, slots=True)
class DayRecord:
    """A digest day the channel's page shows: only entries that were really posted count."""

    day: date
    posted: int
    updated: datetime


@dataclass(frozen=True, slots=True)
class EntryRecord:
    rank: int
    paper_id: str
    version: int
    updated_version: bool
    why: tuple[str, ...]
    posted_at: datetime | None


class ChannelPageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def state(self, channel_id: int) -> PageState | None:
        row = await self._session.get(ChannelPageRow, channel_id)
        return None if row is None else _state(row)

    async def by_token_hash(self, token_hash: str) -> PageState | None:
        row = await self._session.scalar(select(ChannelPageRow).where(ChannelPageRow.token_hash == token_hash))
        return None if row is None else _state(row)

    async def publish(self, channel_id: int, token_hash: str, *, now: datetime, rotated: bool = False) -> PageState:
        """Turn the page on (or give it a new token): the previous token, if any, stops working in this commit."""
        row = await self._session.get(ChannelPageRow, channel_id)
        if row is None:
            row = ChannelPageRow(channel_id=channel_id, feed_id=str(uuid.uuid4()))
            self._session.add(row)
        row.token_hash = token_hash
        if rotated:
            row.rotated_at = now
        else:
            row.published_at = now
        await self._session.flush()
        return _state(row)

    async def unpublish(self, channel_id: int) -> bool:
        """Turn the page off (the URL answers 404 at once). False when it was not on."""
        row = await self._session.get(ChannelPageRow, channel_id)
        if row is None or row.token_hash is None:
            return False
        row.token_hash = None
        row.published_at = None
        await self._session.flush()
        return True

    async def days(self, channel_id: int) -> list[DayRecord]:
        """The channel's digest days with at least one posted entry, newest first."""
        posts = PostRow.__table__.c
        digests = DigestRow.__table__.c
        query = (
            select(digests.day, func.count(posts.id), func.max(posts.posted_at), func.max(digests.finished_at))
            .select_from(_DIGESTS.join(_POSTS, posts.digest_id == digests.id))
            .where(digests.channel_id == channel_id, posts.message_id.is_not(None))
            .group_by(digests.day)
            .order_by(digests.day.desc())
        )
        found = []
        for day, count, posted_at, finished_at in await self._session.execute(query):
            stamps = [stamp for stamp in (posted_at, finished_at) if stamp is not None]
            found.append(DayRecord(day, int(count), max(stamps) if stamps else _midnight(day)))
        return found

    async def entries(self, channel_id: int, day: date) -> list[EntryRecord]:
        """The posted entries of one digest day, by rank."""
        posts = PostRow.__table__.c
        digests = DigestRow.__table__.c
        query = (
            select(posts.rank, posts.paper_id, posts.version, posts.updated_version, posts.why, posts.posted_at)
            .select_from(_DIGESTS.join(_POSTS, posts.digest_id == digests.id))
            .where(digests.channel_id == channel_id, digests.day == day, posts.message_id.is_not(None))
            .order_by(posts.rank)
        )
        return [
            EntryRecord(int(rank or 0), paper_id, int(version), bool(updated), tuple(why or ()), _aware(posted_at))
            for rank, paper_id, version, updated, why, posted_at in await self._session.execute(query)
        ]

    async def postings_of(self, channel_id: int, paper_id: str) -> list[tuple[date, int]]:
        """(day, rank) of every posted digest entry of this paper in the channel, oldest first."""
        posts = PostRow.__table__.c
        digests = DigestRow.__table__.c
        query = (
            select(digests.day, posts.rank)
            .select_from(_DIGESTS.join(_POSTS, posts.digest_id == digests.id))
            .where(and_(digests.channel_id == channel_id, posts.paper_id == paper_id, posts.message_id.is_not(None)))
            .order_by(digests.day)
        )
        return [(day, int(rank or 0)) for day, rank in await self._session.execute(query)]

    async def community_summaries(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, list[Summary]]:
        """The community summaries written in this channel about these papers, best-voted first (reported ones
        hidden). Summaries written in other channels never reach this channel's page."""
        found: dict[str, list[Summary]] = {paper_id: [] for paper_id in paper_ids}
        if not paper_ids:
            return found
        query = (
            select(SummaryRow)
            .where(
                SummaryRow.paper_id.in_(list(paper_ids)),
                SummaryRow.channel_id == channel_id,
                SummaryRow.source == "community",
                SummaryRow.reports < REPORTS_TO_HIDE,
            )
            .order_by(SummaryRow.score.desc(), SummaryRow.created_at, SummaryRow.id)
        )
        for row in await self._session.scalars(query):
            found[row.paper_id].append(summary_of(row))
        return found


def _state(row: ChannelPageRow) -> PageState:
    return PageState(row.channel_id, row.feed_id, row.token_hash is not None, _aware(row.published_at))


def _aware(stamp: datetime | None) -> datetime | None:
    if stamp is None:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


__all__ = ["ChannelPageRepository", "ChannelPageRow", "DayRecord", "EntryRecord", "PageState"]
