"""Repositories for digests (the exactly-once claim) and posts (message → paper)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, bindparam, case, delete, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import ChannelRef, PostRecord
from bot.storage.dialect import affected, dialect_of, id_lists, insert_ignore, one_of, per_dialect
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


# The fenced writes of a posting run: Core statements built once, run on the session's connection (no ORM
# evaluation, no cache key computed per call). Each has the fence (`:digest_id`, `:fence`) in its WHERE, so a
# holder that lost the claim writes nothing. The posts' writes check it with `EXISTS (… FOR SHARE)`: on PostgreSQL
# that holds the digest row against a takeover until the write commits (SQLite has one writer at a time anyway),
# so each of these is safe as a statement of its own, outside a transaction.
_D, _P = _DIGESTS.c, _POSTS.c


def _param(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


_FENCE = (_D.id == bindparam("b_digest")) & (_D.fence == bindparam("b_fence")) & (_D.state == "claimed")
_FENCE_HOLDS = select(_D.id).where(_FENCE).with_for_update(read=True).exists()
_FENCE_CHECK = select(_D.id).where(_FENCE)
_RENEW = update(_DIGESTS).where(_FENCE).values(lease_until=_param("until", _D.lease_until))
_INTEND_HEADER = update(_DIGESTS).where(_FENCE).values(header_intent_at=_param("now", _D.header_intent_at))
_RECORD_HEADER = (
    update(_DIGESTS)
    .where(_FENCE, _D.header_message_id.is_(None))
    .values(header_message_id=_param("b_message", _D.header_message_id))
)
_FINISH = (
    update(_DIGESTS).where(_FENCE).values(state="done", finished_at=_param("now", _D.finished_at), last_error=None)
)
_RELEASE = (
    update(_DIGESTS)
    .where(_FENCE)
    .values(lease_until=_param("now", _D.lease_until), last_error=_param("error", _D.last_error))
)
_POST = _P.id == _param("post_id", _P.id)
_NEXT = _P.id == _param("next_id", _P.id)
_INTEND = update(_POSTS).where(_POST, _FENCE_HOLDS).values(intent_at=_param("now", _P.intent_at))
_SKIP = update(_POSTS).where(_POST, _FENCE_HOLDS).values(skipped=_param("reason", _P.skipped))
_RECORD = (
    update(_POSTS)
    .where((_POST & _P.message_id.is_(None)) | _NEXT, _FENCE_HOLDS)
    .values(
        message_id=case((_POST, _param("b_message", _P.message_id)), else_=_P.message_id),
        posted_at=case((_POST, _param("now", _P.posted_at)), else_=_P.posted_at),
        intent_at=case((_NEXT, _param("now", _P.intent_at)), else_=_P.intent_at),
    )
    .returning(_P.id)
)
"""Record an entry's message into its empty slot and, in the same statement, the intent of the next entry (`:next_id`,
NULL for none): one write per message of a digest."""
_LEASE = (
    update(_DIGESTS).where(_FENCE).values(lease_until=_param("until", _D.lease_until)).returning(_D.id).cte("lease")
)
_RECORD_RENEWING = (
    update(_POSTS)
    .where((_POST & _P.message_id.is_(None)) | _NEXT, select(_LEASE.c.id).exists())
    .values(
        message_id=case((_POST, _param("b_message", _P.message_id)), else_=_P.message_id),
        posted_at=case((_POST, _param("now", _P.posted_at)), else_=_P.posted_at),
        intent_at=case((_NEXT, _param("now", _P.intent_at)), else_=_P.intent_at),
    )
    .returning(_P.id)
)
"""`_RECORD` renewing the lease in the same statement (PostgreSQL): the lease's UPDATE is the fence check, and its
row lock holds off a takeover until the statement commits."""


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
        return await _write(self._session, _RENEW, digest_id, fence, until=until) > 0

    async def renewed(self, digest_id: int, fence: int, until: datetime | None) -> bool:
        """`renew` when `until` is given (the lease is due), else True: the write that follows checks the fence."""
        return until is None or await self.renew(digest_id, fence, until=until)

    async def intend_header(self, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        if not await self.renewed(digest_id, fence, until):
            return False
        return await _write(self._session, _INTEND_HEADER, digest_id, fence, now=now) > 0

    async def record_header(self, digest_id: int, fence: int, message_id: str, *, until: datetime | None) -> Recorded:
        if not await self.renewed(digest_id, fence, until):
            return "fence-lost"
        if await _write(self._session, _RECORD_HEADER, digest_id, fence, b_message=message_id[:64]):
            return "recorded"
        return await _why_not(self._session, digest_id, fence)

    async def header_of(self, digest_id: int) -> tuple[str | None, str]:
        """(recorded header message, state) as stored now."""
        row = (
            await self._session.execute(
                select(DigestRow.header_message_id, DigestRow.state).where(DigestRow.id == digest_id)
            )
        ).one()
        return row[0], row[1]

    async def finish(self, digest_id: int, fence: int, *, now: datetime) -> bool:
        return await _write(self._session, _FINISH, digest_id, fence, now=now) > 0

    async def release(self, digest_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        """Give the claim up (shutdown, failure, pause) so another run can resume it at once."""
        await _write(self._session, _RELEASE, digest_id, fence, now=now, error=error)

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

    async def intend(self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        """Write the intent to post this entry (fenced): from now on its message may exist on the platform."""
        if not await DigestRepository(self._session).renewed(digest_id, fence, until):
            return False
        return await _write(self._session, _INTEND, digest_id, fence, post_id=post_id, now=now) > 0

    async def record(
        self,
        post_id: int,
        digest_id: int,
        fence: int,
        message_id: str,
        *,
        now: datetime,
        until: datetime | None,
        next_id: int | None = None,
    ) -> Recorded:
        """Record the entry's message: only with the current fence, and only into an empty slot. With `next_id`,
        the intent of that entry is written by the same statement (so, like the record, only with the fence)."""
        renewing = until is not None and dialect_of(self._session) == "postgresql"
        if not renewing and not await DigestRepository(self._session).renewed(digest_id, fence, until):
            return "fence-lost"
        Changes.bump_cards(self._session)
        connection = await self._session.connection()
        values = {"b_digest": digest_id, "b_fence": fence, "post_id": post_id, "next_id": next_id, "now": now}
        statement, values = (_RECORD_RENEWING, {**values, "until": until}) if renewing else (_RECORD, values)
        written = await connection.execute(statement, {**values, "b_message": message_id[:64]})
        if post_id in {row[0] for row in written}:
            return "recorded"
        return await _why_not(self._session, digest_id, fence)

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime | None) -> bool:
        """The platform refused this entry for good: remember why, and go on with the rest."""
        if not await DigestRepository(self._session).renewed(digest_id, fence, until):
            return False
        return await _write(self._session, _SKIP, digest_id, fence, post_id=post_id, reason=reason[:500]) > 0

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


async def _write(session: AsyncSession, statement: Any, digest_id: int, fence: int, **values: Any) -> int:
    """Run one fenced write on the session's connection; how many rows it changed (0: the fence is lost)."""
    connection = await session.connection()
    result = await connection.execute(statement, {"b_digest": digest_id, "b_fence": fence, **values})
    return int(result.rowcount or 0)


async def _why_not(session: AsyncSession, digest_id: int, fence: int) -> Recorded:
    """Why a fenced record wrote nothing: the fence is lost, or the slot holds another message. (A fence once lost
    stays lost, so a slot taken and then a takeover reads as "fence-lost": the safer of the two.)"""
    connection = await session.connection()
    held = (await connection.execute(_FENCE_CHECK, {"b_digest": digest_id, "b_fence": fence})).first()
    return "taken" if held is not None else "fence-lost"
