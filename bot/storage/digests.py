"""Repositories for digests (the exactly-once claim) and posts (message → paper)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, bindparam, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import ChannelRef, PostRecord
from bot.storage.dialect import id_lists, insert_ignore, one_of, per_dialect
from bot.storage.memo import memo, remember
from bot.storage.papers import Changes
from bot.storage.tables import ChannelRow, DigestRow, PostRow
from bot.storage.vote_batch import buckets

_POSTS = PostRow.__table__
_DIGESTS = DigestRow.__table__
_CHANNELS = ChannelRow.__table__


@per_dialect
def _paper_for_message(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return select(posts.paper_id).where(
        posts.channel_id == bindparam("channel_id"), posts.message_id == bindparam("message_id")
    )


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


@per_dialect
def _posted_in(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return (
        select(posts.paper_id, posts.channel_id, _DIGESTS.c.day)
        .join(_DIGESTS, _DIGESTS.c.id == posts.digest_id)
        .where(one_of(posts.paper_id, "ids", dialect), posts.message_id.is_not(None))
        .order_by(_DIGESTS.c.day, posts.channel_id)
    )


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

    async def status(self, channel_id: int, day: date) -> DigestStatus | None:
        """The (channel, day) digest's state, or None when nobody has claimed it yet."""
        row = await self._session.scalar(
            select(DigestRow).where(DigestRow.channel_id == channel_id, DigestRow.day == day)
        )
        return DigestStatus(row.day, row.state, row.finished_at, row.attempts, row.last_error) if row else None

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
        Changes.bump_cards(self._session)
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
        Changes.bump_cards(self._session)
        await self._session.execute(
            update(PostRow).where(PostRow.id == post_id).values(message_id=message_id[:64], posted_at=now)
        )

    async def paper_for_message(self, channel_id: int, message_id: str) -> str | None:
        """The paper a posted message shows, remembered once found (a post's message id is set once)."""
        papers = memo(self._session, "message_papers")
        found = papers.get((channel_id, message_id))
        if found is None:
            values = {"channel_id": channel_id, "message_id": message_id}
            found = await self._session.scalar(_paper_for_message(self._session), values)
            if found is not None:
                remember(papers, (channel_id, message_id), found)
        return found

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """The highest version of each paper already posted (or planned) in the channel."""
        found: dict[str, int] = {}
        for chunk in id_lists(self._session, paper_ids):
            values = {"channel_id": channel_id, "ids": chunk}
            result = await self._session.execute(_posted_versions(self._session), values)
            found.update((paper_id, int(version)) for paper_id, version in result)
        return found

    async def papers_of_messages(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """`paper_for_message` for many (channel id, message id) pairs: remembered ones at once, the rest in one
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
        """Where and when each paper was posted (channel, digest day), oldest first: `posted_in` with the channels
        joined in, one statement for a card however many channels posted the paper."""
        rows: list[Any] = []
        chunks = id_lists(self._session, paper_ids)
        for chunk in chunks:
            rows.extend(await self._session.execute(_postings(self._session), {"ids": chunk}))
        if len(chunks) > 1:
            rows.sort(key=lambda row: (row.day, row.channel_id))
        return posting_records(rows)

    async def posted_in(self, paper_ids: Sequence[str]) -> dict[str, list[tuple[int, date]]]:
        """(channel id, digest day) for each digest that posted each paper, oldest first."""
        rows: list[tuple[str, int, date]] = []
        chunks = id_lists(self._session, paper_ids)
        for chunk in chunks:
            result = await self._session.execute(_posted_in(self._session), {"ids": chunk})
            rows.extend(tuple(row) for row in result)  # type: ignore[misc]
        if len(chunks) > 1:
            rows.sort(key=lambda row: (row[2], row[1]))
        found: dict[str, list[tuple[int, date]]] = {}
        for paper_id, channel_id, day in rows:
            found.setdefault(paper_id, []).append((channel_id, day))
        return found
