"""The digest repository: the exactly-once claim on a (channel, day) digest, fenced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.records import Claim, DigestStatus, Recorded
from bot.storage.dialect import affected, insert_ignore
from bot.storage.tables import ChannelRow, DigestRow, PostRow, table_of

_POSTS = table_of(PostRow)
_DIGESTS = table_of(DigestRow)
_CHANNELS = table_of(ChannelRow)


def _fence_holds(digest_id: int, fence: int) -> Any:
    return (DigestRow.id == digest_id) & (DigestRow.fence == fence) & (DigestRow.state == "claimed")


# The fenced writes of a posting run: Core statements built once, run on the session's connection (no ORM
# evaluation, no cache key computed per call). Each has the fence (`:digest_id`, `:fence`) in its WHERE, so a
# holder that lost the claim writes nothing. The posts' writes check it with `EXISTS (… FOR SHARE)`: on PostgreSQL
# that holds the digest row against a takeover until the write commits (SQLite has one writer at a time anyway),
# so each of these is safe as a statement of its own, outside a transaction.
_D = _DIGESTS.c


def param(name: str, column: Any) -> Any:
    """A bind parameter typed as `column`."""
    return bindparam(name, type_=column.type)


FENCE = (_D.id == bindparam("b_digest")) & (_D.fence == bindparam("b_fence")) & (_D.state == "claimed")
FENCE_HOLDS = select(_D.id).where(FENCE).with_for_update(read=True).exists()
_FENCE_CHECK = select(_D.id).where(FENCE)
_RENEW = update(_DIGESTS).where(FENCE).values(lease_until=param("until", _D.lease_until))
_INTEND_HEADER = update(_DIGESTS).where(FENCE).values(header_intent_at=param("now", _D.header_intent_at))
_RENEW_INTENDING = _RENEW.values(header_intent_at=param("now", _D.header_intent_at))
_RECORD_HEADER = (
    update(_DIGESTS)
    .where(FENCE, _D.header_message_id.is_(None))
    .values(header_message_id=param("b_message", _D.header_message_id))
)
_RECORD_HEADER_RENEWING = (
    update(_DIGESTS)
    .where(FENCE)
    .values(
        lease_until=param("until", _D.lease_until),
        header_message_id=func.coalesce(_D.header_message_id, param("b_message", _D.header_message_id)),
    )
    .returning(_D.header_message_id)
)
"""`_RECORD_HEADER` and the lease's renewal as one statement: the header's slot as it is after it (ours: recorded;
another message: taken), no row when the fence is lost."""
_FINISH = update(_DIGESTS).where(FENCE).values(state="done", finished_at=param("now", _D.finished_at), last_error=None)
_RELEASE = (
    update(_DIGESTS)
    .where(FENCE)
    .values(lease_until=param("now", _D.lease_until), last_error=param("error", _D.last_error))
)


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self, channel_id: int, day: date, *, holder: str, now: datetime, lease: timedelta, kind: str = "daily"
    ) -> Claim:
        """Claim (channel, day) for `holder`. A new row wins outright; an unfinished claim whose lease has run
        out (its holder died or stalled) or that `holder` already holds is taken over, with a new fence;
        otherwise someone else has it (`lease_until` says until when). `kind` "roundup" claims the weekly
        roundup keyed by the week's last day, apart from that day's digest. A new digest's claim is one statement
        (`INSERT … ON CONFLICT DO NOTHING RETURNING`), so a caller may run it without a transaction around it
        (`UnitOfWork.one_statement`); taking a claim over writes with one conditional UPDATE."""
        values = {
            "channel_id": channel_id,
            "kind": kind,
            "day": day,
            "state": "claimed",
            "holder": holder,
            "lease_until": now + lease,
            "claimed_at": now,
            "attempts": 1,
            "fence": 1,
        }
        inserted = (
            await self._session.execute(
                insert_ignore(self._session, _DIGESTS, values, keys=["channel_id", "kind", "day"]).returning(
                    _D.id, _D.fence, _D.claimed_at, _D.lease_until
                )
            )
        ).first()
        if inserted is not None:  # a new row, read back by the INSERT itself: one statement for a new digest
            return Claim(
                inserted.id, "new", inserted.fence, claimed_at=inserted.claimed_at, lease_until=inserted.lease_until
            )
        row = await self._row(channel_id, day, kind)
        if row.state == "done":
            return Claim(row.id, "done-before")
        taken = (
            await self._session.execute(
                update(_DIGESTS)
                .where(_D.id == row.id, _D.state == "claimed", or_(_D.lease_until <= now, _D.holder == holder))
                .values(holder=holder, lease_until=now + lease, attempts=_D.attempts + 1, fence=_D.fence + 1)
                .returning(_D.fence, _D.header_message_id, _D.header_intent_at, _D.claimed_at, _D.lease_until)
            )
        ).first()  # the row as this UPDATE left it (without a transaction, a later read may see a newer holder's)
        if taken is None:
            await self._session.refresh(row)
            return Claim(row.id, "held-elsewhere", lease_until=row.lease_until)
        return Claim(
            row.id,
            "resumed",
            taken.fence,
            taken.header_message_id,
            taken.header_intent_at is not None,
            taken.claimed_at,
            taken.lease_until,
        )

    async def renew(
        self, digest_id: int, fence: int, *, until: datetime, header_intent: datetime | None = None
    ) -> bool:
        """Extend the lease; False means another holder took the claim over (or it is finished) and we must stop.
        On PostgreSQL the row stays locked until the unit of work ends: whatever it records next is fenced. With
        `header_intent`, the header's intent is written by the same statement (a new plan: one round trip fewer)."""
        if header_intent is not None:
            return (
                await fenced_write(self._session, _RENEW_INTENDING, digest_id, fence, until=until, now=header_intent)
                > 0
            )
        return await fenced_write(self._session, _RENEW, digest_id, fence, until=until) > 0

    async def renewed(self, digest_id: int, fence: int, until: datetime | None) -> bool:
        """`renew` when `until` is given (the lease is due), else True: the write that follows checks the fence."""
        return until is None or await self.renew(digest_id, fence, until=until)

    async def intend_header(self, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        if not await self.renewed(digest_id, fence, until):
            return False
        return await fenced_write(self._session, _INTEND_HEADER, digest_id, fence, now=now) > 0

    async def record_header(self, digest_id: int, fence: int, message_id: str, *, until: datetime | None) -> Recorded:
        message_id = message_id[:64]
        if until is not None:  # renewing: one statement instead of the renewal and the record
            values = {"b_digest": digest_id, "b_fence": fence, "until": until, "b_message": message_id}
            connection = await self._session.connection()
            slot = (await connection.execute(_RECORD_HEADER_RENEWING, values)).first()
            if slot is None:
                return "fence-lost"
            return "recorded" if slot[0] == message_id else "taken"
        if await fenced_write(self._session, _RECORD_HEADER, digest_id, fence, b_message=message_id):
            return "recorded"
        return await why_not(self._session, digest_id, fence)

    async def header_of(self, digest_id: int) -> tuple[str | None, str]:
        """(recorded header message, state) as stored now."""
        row = (
            await self._session.execute(
                select(DigestRow.header_message_id, DigestRow.state).where(DigestRow.id == digest_id)
            )
        ).one()
        return row[0], row[1]

    async def finish(self, digest_id: int, fence: int, *, now: datetime) -> bool:
        return await fenced_write(self._session, _FINISH, digest_id, fence, now=now) > 0

    async def release(self, digest_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        """Give the claim up (shutdown, failure, pause) so another run can resume it at once."""
        await fenced_write(self._session, _RELEASE, digest_id, fence, now=now, error=error)

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
            .where(DigestRow.channel_id.in_(list(channel_ids)), DigestRow.kind == "daily")
            .group_by(DigestRow.channel_id)
            .subquery()
        )
        rows = await self._session.scalars(
            select(DigestRow)
            .join(newest, (DigestRow.channel_id == newest.c.channel_id) & (DigestRow.day == newest.c.day))
            .where(DigestRow.kind == "daily")
        )
        return {
            row.channel_id: DigestStatus(row.day, row.state, row.finished_at, row.attempts, row.last_error)
            for row in rows
        }

    async def _row(self, channel_id: int, day: date, kind: str = "daily") -> DigestRow:
        row = await self._session.scalar(
            select(DigestRow).where(DigestRow.channel_id == channel_id, DigestRow.kind == kind, DigestRow.day == day)
        )
        assert row is not None, "digest row vanished between insert and select"
        return row


async def fenced_write(session: AsyncSession, statement: Any, digest_id: int, fence: int, **values: Any) -> int:
    """Run one fenced write on the session's connection; how many rows it changed (0: the fence is lost)."""
    connection = await session.connection()
    result = await connection.execute(statement, {"b_digest": digest_id, "b_fence": fence, **values})
    return int(result.rowcount or 0)


async def why_not(session: AsyncSession, digest_id: int, fence: int) -> Recorded:
    """Why a fenced record wrote nothing: the fence is lost, or the slot holds another message. (A fence once lost
    stays lost, so a slot taken and then a takeover reads as "fence-lost": the safer of the two.)"""
    connection = await session.connection()
    held = (await connection.execute(_FENCE_CHECK, {"b_digest": digest_id, "b_fence": fence})).first()
    return "taken" if held is not None else "fence-lost"
