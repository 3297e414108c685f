"""Repositories for digests (the exactly-once claim) and posts (message → paper)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import insert_ignore
from bot.storage.tables import DigestRow, PostRow


@dataclass(frozen=True, slots=True)
class Claim:
    digest_id: int
    outcome: Literal["new", "resumed", "done-before", "held-elsewhere"]
    header_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class DigestStatus:
    day: date
    state: str
    finished_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PlannedPost:
    post_id: int
    rank: int
    paper_id: str
    updated: bool
    message_id: str | None


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, channel_id: int, day: date, *, holder: str, now: datetime, lease: timedelta) -> Claim:
        """Claim (channel, day) for `holder`. A new row wins outright; an unfinished claim whose lease has run
        out (its holder died) or that `holder` already holds is taken over; otherwise someone else has it."""
        values = {
            "channel_id": channel_id,
            "day": day,
            "state": "claimed",
            "holder": holder,
            "lease_until": now + lease,
            "claimed_at": now,
            "attempts": 1,
        }
        inserted = await self._session.execute(
            insert_ignore(self._session, DigestRow.__table__, values, keys=["channel_id", "day"])
        )
        row = await self._row(channel_id, day)
        if inserted.rowcount:
            return Claim(row.id, "new")
        if row.state == "done":
            return Claim(row.id, "done-before")
        taken = await self._session.execute(
            update(DigestRow)
            .where(
                DigestRow.id == row.id,
                DigestRow.state == "claimed",
                or_(DigestRow.lease_until <= now, DigestRow.holder == holder),
            )
            .values(holder=holder, lease_until=now + lease, attempts=DigestRow.attempts + 1)
        )
        if not taken.rowcount:
            return Claim(row.id, "held-elsewhere")
        await self._session.refresh(row)
        return Claim(row.id, "resumed", row.header_message_id)

    async def renew(self, digest_id: int, *, holder: str, until: datetime) -> bool:
        """Extend the lease; False means another replica took the claim over and we must stop."""
        result = await self._session.execute(
            update(DigestRow)
            .where(DigestRow.id == digest_id, DigestRow.holder == holder, DigestRow.state == "claimed")
            .values(lease_until=until)
        )
        return bool(result.rowcount)

    async def set_header(self, digest_id: int, message_id: str) -> None:
        await self._session.execute(
            update(DigestRow).where(DigestRow.id == digest_id).values(header_message_id=message_id)
        )

    async def finish(self, digest_id: int, *, now: datetime) -> None:
        await self._session.execute(
            update(DigestRow).where(DigestRow.id == digest_id).values(state="done", finished_at=now, last_error=None)
        )

    async def release(self, digest_id: int, *, holder: str, now: datetime, error: str | None = None) -> None:
        """Give the claim up (shutdown or failure) so another run can resume it at once."""
        await self._session.execute(
            update(DigestRow)
            .where(DigestRow.id == digest_id, DigestRow.holder == holder, DigestRow.state == "claimed")
            .values(lease_until=now, last_error=error)
        )

    async def last_for_channels(self, channel_ids: Sequence[int]) -> dict[int, DigestStatus]:
        newest = (
            select(DigestRow.channel_id, func.max(DigestRow.day).label("day"))
            .where(DigestRow.channel_id.in_(list(channel_ids)))
            .group_by(DigestRow.channel_id)
            .subquery()
        )
        rows = await self._session.scalars(
            select(DigestRow).join(
                newest, (DigestRow.channel_id == newest.c.channel_id) & (DigestRow.day == newest.c.day)
            )
        )
        return {
            row.channel_id: DigestStatus(row.day, row.state, row.finished_at, row.attempts, row.last_error)
            for row in rows
        }

    async def _row(self, channel_id: int, day: date) -> DigestRow:
        row = await self._session.scalar(
            select(DigestRow).where(DigestRow.channel_id == channel_id, DigestRow.day == day)
        )
        assert row is not None, "digest row vanished between insert and select"
        return row


class PostRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def plan(self, digest_id: int, channel_id: int, entries: Sequence[tuple[int, str, int, bool]]) -> None:
        """Store the digest's entries (rank, paper, version, updated) before anything is posted."""
        self._session.add_all(
            PostRow(
                channel_id=channel_id,
                paper_id=paper_id,
                digest_id=digest_id,
                rank=rank,
                version=version,
                updated_version=updated,
            )
            for rank, paper_id, version, updated in entries
        )
        await self._session.flush()

    async def planned(self, digest_id: int) -> list[PlannedPost]:
        rows = await self._session.scalars(select(PostRow).where(PostRow.digest_id == digest_id).order_by(PostRow.rank))
        return [PlannedPost(r.id, r.rank or 0, r.paper_id, r.updated_version, r.message_id) for r in rows]

    async def mark_posted(self, post_id: int, message_id: str, *, now: datetime) -> None:
        await self._session.execute(
            update(PostRow).where(PostRow.id == post_id).values(message_id=message_id[:64], posted_at=now)
        )

    async def paper_for_message(self, channel_id: int, message_id: str) -> str | None:
        return await self._session.scalar(
            select(PostRow.paper_id).where(PostRow.channel_id == channel_id, PostRow.message_id == message_id)
        )

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """The highest version of each paper already posted (or planned) in the channel."""
        if not paper_ids:
            return {}
        result = await self._session.execute(
            select(PostRow.paper_id, func.max(PostRow.version))
            .where(PostRow.channel_id == channel_id, PostRow.paper_id.in_(list(dict.fromkeys(paper_ids))))
            .group_by(PostRow.paper_id)
        )
        return {paper_id: int(version) for paper_id, version in result}

    async def posted_in(self, paper_ids: Sequence[str]) -> dict[str, list[tuple[int, date]]]:
        """(channel id, digest day) for each digest that posted each paper."""
        if not paper_ids:
            return {}
        result = await self._session.execute(
            select(PostRow.paper_id, PostRow.channel_id, DigestRow.day)
            .join(DigestRow, DigestRow.id == PostRow.digest_id)
            .where(PostRow.paper_id.in_(list(dict.fromkeys(paper_ids))), PostRow.message_id.is_not(None))
            .order_by(DigestRow.day, PostRow.channel_id)
        )
        found: dict[str, list[tuple[int, date]]] = {}
        for paper_id, channel_id, day in result:
            found.setdefault(paper_id, []).append((channel_id, day))
        return found
