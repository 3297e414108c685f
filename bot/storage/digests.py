"""Repositories for digests (the exactly-once claim) and posts (message → paper)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, bindparam, delete, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import ChannelRef, PostRecord
from bot.storage.dialect import affected, id_lists, insert_ignore, one_of, per_dialect
from bot.storage.memo import memo, remember
from bot.storage.papers import Changes
from bot.storage.tables import ChannelRow, DigestRow, PostRow, table_of
from bot.storage.vote_batch import buckets

_POSTS = table_of(PostRow)
_DIGESTS = table_of(DigestRow)
_CHANNELS = table_of(ChannelRow)


@per_dialect
def _papers_of_messages(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return select(posts.channel_id, posts.message_id, posts.paper_id).where(
        tuple_(posts.channel_id, posts.message_id).in_(bindparam("keys", expanding=True))
    )


@per_dialect
def _posted_versions(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return (
        select(posts.paper_id, func.max(posts.version))
        .where(posts.channel_id == bindparam("channel_id"), one_of(posts.paper_id, "ids", dialect))
        .group_by(posts.paper_id)
    )


@per_dialect
def _posted_versions_anywhere(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return (
        select(posts.channel_id, posts.paper_id, func.max(posts.version))
        .where(one_of(posts.paper_id, "ids", dialect))
        .group_by(posts.channel_id, posts.paper_id)
    )


def postings_select(dialect: str) -> Select[Any]:
    """(paper, digest day, channel's platform, workspace, channel, name, channel id) of each posting of `:ids`.

    Correlated look-ups rather than joins on PostgreSQL: a prepared statement's generic plan would otherwise
    hash-join the whole digests table for a paper posted in three channels. (SQLite has no LATERAL, and its
    planner looks rows up by key anyway.)"""
    posts, channels = _POSTS.c, _CHANNELS.c
    day = select(_DIGESTS.c.day).where(_DIGESTS.c.id == posts.digest_id).scalar_subquery().label("day")
    if dialect == "postgresql":
        wanted = select(channels.platform, channels.workspace, channels.channel, channels.name)
        channel = wanted.where(channels.id == posts.channel_id).limit(1).lateral("channel")  # LIMIT: not flattened
        source, columns = _POSTS.join(channel, true()), channel.c
    else:
        source, columns = _POSTS.join(_CHANNELS, channels.id == posts.channel_id), channels
    return (
        select(
            posts.paper_id, day, columns.platform, columns.workspace, columns.channel, columns.name, posts.channel_id
        )
        .select_from(source)
        .where(one_of(posts.paper_id, "ids", dialect), posts.message_id.is_not(None))
        .order_by(day, posts.channel_id)
    )


_postings = per_dialect(postings_select)


def posting_records(rows: Iterable[Sequence[Any]]) -> dict[str, list[PostRecord]]:
    found: dict[str, list[PostRecord]] = {}
    for paper_id, day, platform, workspace, channel, name, _ in rows:
        found.setdefault(paper_id, []).append(PostRecord(ChannelRef(platform, workspace, channel, name), day))
    return found


Recorded = Literal["recorded", "fence-lost", "taken"]
"""What a fenced record did: stored the message; refused because another holder has the claim now; or refused
because the slot already holds another message (someone else recorded that entry first)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A holder's claim on one (channel, day) digest. `fence` is its token: every record about the digest must
    present it, and a takeover bumps it, so a holder that lost the claim can no longer record anything."""

    digest_id: int
    outcome: Literal["new", "resumed", "done-before", "held-elsewhere"]
    fence: int = 0
    header_message_id: str | None = None
    header_intent: bool = False
    claimed_at: datetime | None = None
    lease_until: datetime | None = None


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
    version: int
    updated: bool
    message_id: str | None
    intent: bool = False
    skipped: str | None = None
    score: float | None = None
    why: tuple[str, ...] | None = None

    @property
    def open(self) -> bool:
        """Still to be posted: no message recorded and not skipped for good."""
        return self.message_id is None and self.skipped is None


def _fence_holds(digest_id: int, fence: int) -> Any:
    return (DigestRow.id == digest_id) & (DigestRow.fence == fence) & (DigestRow.state == "claimed")


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, channel_id: int, day: date, *, holder: str, now: datetime, lease: timedelta) -> Claim:
        """Claim (channel, day) for `holder`. A new row wins outright; an unfinished claim whose lease has run
        out (its holder died or stalled) or that `holder` already holds is taken over, with a new fence;
        otherwise someone else has it (`lease_until` says until when)."""
        values = {
            "channel_id": channel_id,
            "day": day,
            "state": "claimed",
            "holder": holder,
            "lease_until": now + lease,
            "claimed_at": now,
            "attempts": 1,
            "fence": 1,
        }
        inserted = await self._session.execute(
            insert_ignore(self._session, table_of(DigestRow), values, keys=["channel_id", "day"])
        )
        row = await self._row(channel_id, day)
        if affected(inserted):
            return Claim(row.id, "new", row.fence, claimed_at=row.claimed_at, lease_until=row.lease_until)
        if row.state == "done":
            return Claim(row.id, "done-before")
        taken = await self._session.execute(
            update(DigestRow)
            .where(
                DigestRow.id == row.id,
                DigestRow.state == "claimed",
                or_(DigestRow.lease_until <= now, DigestRow.holder == holder),
            )
            .values(holder=holder, lease_until=now + lease, attempts=DigestRow.attempts + 1, fence=DigestRow.fence + 1)
        )
        await self._session.refresh(row)
        if not affected(taken):
            return Claim(row.id, "held-elsewhere", lease_until=row.lease_until)
        return Claim(
            row.id,
            "resumed",
            row.fence,
            row.header_message_id,
            row.header_intent_at is not None,
            row.claimed_at,
            row.lease_until,
        )

    async def renew(self, digest_id: int, fence: int, *, until: datetime) -> bool:
        """Extend the lease; False means another holder took the claim over (or it is finished) and we must stop.
        On PostgreSQL the row stays locked until the unit of work ends: whatever it records next is fenced."""
        result = await self._session.execute(
            update(DigestRow).where(_fence_holds(digest_id, fence)).values(lease_until=until)
        )
        return bool(affected(result))

    async def intend_header(self, digest_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        result = await self._session.execute(
            update(DigestRow).where(_fence_holds(digest_id, fence)).values(lease_until=until, header_intent_at=now)
        )
        return bool(affected(result))

    async def record_header(self, digest_id: int, fence: int, message_id: str, *, until: datetime) -> Recorded:
        if not await self.renew(digest_id, fence, until=until):
            return "fence-lost"
        result = await self._session.execute(
            update(DigestRow)
            .where(DigestRow.id == digest_id, DigestRow.header_message_id.is_(None))
            .values(header_message_id=message_id[:64])
        )
        return "recorded" if affected(result) else "taken"

    async def header_of(self, digest_id: int) -> tuple[str | None, str]:
        """(recorded header message, state) as stored now."""
        row = (
            await self._session.execute(
                select(DigestRow.header_message_id, DigestRow.state).where(DigestRow.id == digest_id)
            )
        ).one()
        return row[0], row[1]

    async def finish(self, digest_id: int, fence: int, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(DigestRow)
            .where(_fence_holds(digest_id, fence))
            .values(state="done", finished_at=now, last_error=None)
        )
        return bool(affected(result))

    async def release(self, digest_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        """Give the claim up (shutdown, failure, pause) so another run can resume it at once."""
        await self._session.execute(
            update(DigestRow).where(_fence_holds(digest_id, fence)).values(lease_until=now, last_error=error)
        )

    async def abandon(self, digest_id: int, fence: int) -> bool:
        """Remove an unposted claim (nothing to post, no empty-day line): the day stays unclaimed."""
        result = await self._session.execute(delete(DigestRow).where(_fence_holds(digest_id, fence)))
        return bool(affected(result))

    async def progress(self, digest_id: int) -> tuple[int, int]:
        """(entries with a message, entries planned) of a digest."""
        row = (
            await self._session.execute(
                select(func.count(PostRow.message_id), func.count(PostRow.id)).where(PostRow.digest_id == digest_id)
            )
        ).one()
        return int(row[0]), int(row[1])

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


@dataclass(frozen=True, slots=True)
class PlanEntry:
    rank: int
    paper_id: str
    version: int
    updated: bool
    score: float
    why: tuple[str, ...]


class PostRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def plan(self, digest_id: int, channel_id: int, entries: Sequence[PlanEntry]) -> None:
        """Store the digest's entries before anything is posted: rank, paper, version, the "updated" flag, and the
        score and why-line the channel's ranking gave them."""
        Changes.bump_plans(self._session)
        self._session.add_all(
            PostRow(
                channel_id=channel_id,
                paper_id=e.paper_id,
                digest_id=digest_id,
                rank=e.rank,
                version=e.version,
                updated_version=e.updated,
                score=e.score,
                why=list(e.why),
            )
            for e in entries
        )
        await self._session.flush()

    async def planned(self, digest_id: int) -> list[PlannedPost]:
        rows = await self._session.scalars(select(PostRow).where(PostRow.digest_id == digest_id).order_by(PostRow.rank))
        return [
            PlannedPost(
                r.id,
                r.rank or 0,
                r.paper_id,
                r.version,
                r.updated_version,
                r.message_id,
                r.intent_at is not None,
                r.skipped,
                r.score,
                tuple(r.why) if r.why is not None else None,
            )
            for r in rows
        ]

    async def intend(self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        """Write the intent to post this entry (fenced): from now on its message may exist on the platform."""
        if not await DigestRepository(self._session).renew(digest_id, fence, until=until):
            return False
        await self._session.execute(update(PostRow).where(PostRow.id == post_id).values(intent_at=now))
        return True

    async def record(
        self, post_id: int, digest_id: int, fence: int, message_id: str, *, now: datetime, until: datetime
    ) -> Recorded:
        """Record the entry's message: only with the current fence, and only into an empty slot."""
        if not await DigestRepository(self._session).renew(digest_id, fence, until=until):
            return "fence-lost"
        Changes.bump_cards(self._session)
        result = await self._session.execute(
            update(PostRow)
            .where(PostRow.id == post_id, PostRow.message_id.is_(None))
            .values(message_id=message_id[:64], posted_at=now)
        )
        return "recorded" if affected(result) else "taken"

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime) -> bool:
        """The platform refused this entry for good: remember why, and go on with the rest."""
        if not await DigestRepository(self._session).renew(digest_id, fence, until=until):
            return False
        await self._session.execute(update(PostRow).where(PostRow.id == post_id).values(skipped=reason[:500]))
        return True

    async def slot(self, post_id: int) -> str | None:
        """The message recorded for an entry now (None: nobody has recorded one yet)."""
        return await self._session.scalar(select(PostRow.message_id).where(PostRow.id == post_id))

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """The highest version of each paper already posted (or planned) in the channel."""
        found: dict[str, int] = {}
        for chunk in id_lists(self._session, paper_ids):
            values = {"channel_id": channel_id, "ids": chunk}
            result = await self._session.execute(_posted_versions(self._session), values)
            found.update((paper_id, int(version)) for paper_id, version in result)
        return found

    def remembered_papers(
        self, keys: Sequence[tuple[int, str]]
    ) -> tuple[dict[tuple[int, str], str], list[tuple[int, str]]]:
        """The papers of these (channel id, message id) pairs that are remembered, and the pairs that are not."""
        papers = memo(self._session, "message_papers")
        found = {key: papers[key] for key in keys if key in papers}
        return found, [key for key in keys if key not in found]

    async def papers_of_messages(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """The paper each of these (channel id, message id) pairs shows: remembered ones at once, the rest in one
        query. Messages that are not our posts are absent."""
        papers = memo(self._session, "message_papers")
        found = {key: papers[key] for key in keys if key in papers}
        missing = [key for key in keys if key not in found]
        if missing:
            rows = await self._session.execute(_papers_of_messages(self._session), {"keys": buckets(missing)})
            for channel_id, message_id, paper_id in rows:
                remember(papers, (channel_id, message_id), paper_id)
                found[(channel_id, message_id)] = paper_id
        return found

    async def posted_versions_everywhere(self, paper_ids: Iterable[str]) -> dict[int, dict[str, int]]:
        """channel id -> {paper: highest version posted (or planned) there}, for `paper_ids` in every channel: a
        digest window's papers, read once for all the channels' digests (few of a new day's papers were posted)."""
        found: dict[int, dict[str, int]] = {}
        for chunk in id_lists(self._session, paper_ids):
            result = await self._session.execute(_posted_versions_anywhere(self._session), {"ids": chunk})
            for channel_id, paper_id, version in result:
                found.setdefault(channel_id, {})[paper_id] = int(version)
        return found

    async def postings(self, paper_ids: Sequence[str]) -> dict[str, list[PostRecord]]:
        """Where and when each paper was posted (channel, digest day), oldest first, with the channels joined
        in: one statement for a card however many channels posted the paper."""
        rows: list[Any] = []
        chunks = id_lists(self._session, paper_ids)
        for chunk in chunks:
            rows.extend(await self._session.execute(_postings(self._session), {"ids": chunk}))
        if len(chunks) > 1:
            rows.sort(key=lambda row: (row.day, row.channel_id))
        return posting_records(rows)
