"""Journal-club polls (issue 19): the claims that start and close a poll exactly once, the votes the core records
(Slack buttons, the console), and the channel's past winners.

A poll row is its own claim, with a lease and a fence token like a digest's (`bot/storage/digests.py`):

- starting: `open_channel_id` (unique, NULL once closed) lets a channel have one open poll at a time, and
  `scheduled_week` (unique per channel) one scheduled poll a week, so two replicas firing the same weekly job insert
  one row. The holder commits its intent, posts, and records the message with its fence ("starting" → "open").
- closing: whoever finds it due (or an admin) moves "open" → "closing" with a new fence; a holder that died is
  taken over once its lease runs out. The result, the announcement's intent and its message are recorded with
  the fence ("closing" → "closed"), so a replica that stalled records nothing.

Rows never leave this module: the reads return `PollRecord` and plain tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.records import CloseOutcome, PollRecord, Recorded, StartOutcome
from bot.storage.dialect import affected, dialect_of, insert_for, insert_ignore
from bot.storage.tables import Base, ChannelRow, DigestRow, PostRow, Timestamp, table_of


class PollRow(Base):
    """One journal-club poll in one channel, from its claim to its winner."""

    __tablename__ = "polls"
    __table_args__ = (UniqueConstraint("channel_id", "scheduled_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    open_channel_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    """The channel's id while the poll is not closed (one at a time per channel); NULL once closed."""
    scheduled_week: Mapped[str | None] = mapped_column(String(10))
    """`2020-W45` for a poll the weekly schedule started (one a week); NULL for one an admin started."""
    state: Mapped[str] = mapped_column(String(16))  # starting | open | closing | closed
    holder: Mapped[str] = mapped_column(String(64))
    fence: Mapped[int] = mapped_column(Integer, default=1)
    lease_until: Mapped[datetime] = mapped_column(Timestamp)
    started_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    closes_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    hours: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[list[str]]
    """Paper ids in option order (the poll's answers)."""
    start_intent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    message_id: Mapped[str | None] = mapped_column(String(64))
    counts: Mapped[list[int] | None] = mapped_column(JSON)
    """The final votes per option, once counted."""
    winner_paper_id: Mapped[str | None] = mapped_column(String(64))
    tie_note: Mapped[str | None] = mapped_column(Text)
    announce_intent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    announce_message_id: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_error: Mapped[str | None] = mapped_column(Text)


class PollVoteRow(Base):
    """One person's vote in a poll whose votes the core records (Slack, the console): one per person, changeable."""

    __tablename__ = "poll_votes"

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    choice: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


def _record(row: PollRow) -> PollRecord:
    return PollRecord(
        row.id,
        row.channel_id,
        row.state,
        row.holder,
        row.fence,
        row.lease_until,
        row.created_at,
        row.closes_at,
        row.hours,
        tuple(row.candidates),
        row.start_intent_at is not None,
        row.message_id,
        tuple(int(c) for c in row.counts) if row.counts is not None else None,
        row.winner_paper_id,
        row.tie_note or "",
        row.announce_intent_at is not None,
        row.announce_message_id,
        row.closed_at,
        row.thread_id,
    )


def _holds(poll_id: int, fence: int, state: str) -> Any:
    return and_(PollRow.id == poll_id, PollRow.fence == fence, PollRow.state == state)


class PollRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ── starting ────────────────────────────────────────────────────────────────────────────────────────────────

    async def claim_start(
        self,
        channel_id: int,
        *,
        holder: str,
        now: datetime,
        lease: timedelta,
        candidates: Sequence[str],
        closes_at: datetime,
        hours: int,
        week: str | None = None,
        by: str | None = None,
    ) -> tuple[StartOutcome, PollRecord | None]:
        """Claim a new poll in the channel. A channel with a poll not yet closed gets that one back: "open", or
        "starting" under another live holder ("held-elsewhere"), or taken over with a new fence ("resumed") when
        its holder's lease ran out or it is `holder` itself. A scheduled `week` that already had its poll is
        "done-before"."""
        values = {
            "channel_id": channel_id,
            "open_channel_id": channel_id,
            "scheduled_week": week,
            "state": "starting",
            "holder": holder,
            "fence": 1,
            "lease_until": now + lease,
            "started_by": by[:64] if by else None,
            "created_at": now,
            "closes_at": closes_at,
            "hours": hours,
            "candidates": list(candidates),
        }
        # Any conflict (the open slot, the scheduled week) means another poll is there: ON CONFLICT DO NOTHING.
        new = insert_for(dialect_of(self._session), table_of(PollRow)).values(values).on_conflict_do_nothing()
        inserted = await self._session.execute(new)
        if affected(inserted):
            row = await self._session.scalar(select(PollRow).where(PollRow.open_channel_id == channel_id))
            assert row is not None, "the poll row vanished between insert and select"
            return "new", _record(row)
        row = await self._session.scalar(select(PollRow).where(PollRow.open_channel_id == channel_id))
        if row is None:
            return "done-before", None  # the scheduled week's poll exists and is closed
        if row.state != "starting":
            return ("open" if row.state == "open" else "held-elsewhere"), _record(row)
        taken = await self._session.execute(
            update(PollRow)
            .where(
                PollRow.id == row.id,
                PollRow.state == "starting",
                or_(PollRow.lease_until <= now, PollRow.holder == holder),
            )
            .values(holder=holder, lease_until=now + lease, fence=PollRow.fence + 1)
        )
        await self._session.refresh(row)
        return ("resumed" if affected(taken) else "held-elsewhere"), _record(row)

    async def resume_start(self, poll_id: int, *, holder: str, now: datetime, lease: timedelta) -> PollRecord | None:
        """Take over a start whose holder's lease ran out (the due sweep): the poll, or None when it is not one."""
        taken = await self._session.execute(
            update(PollRow)
            .where(
                PollRow.id == poll_id,
                PollRow.state == "starting",
                or_(PollRow.lease_until <= now, PollRow.holder == holder),
            )
            .values(holder=holder, lease_until=now + lease, fence=PollRow.fence + 1)
        )
        return await self.get(poll_id) if affected(taken) else None

    async def intend_start(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        result = await self._session.execute(
            update(PollRow).where(_holds(poll_id, fence, "starting")).values(start_intent_at=now, lease_until=until)
        )
        return bool(affected(result))

    async def record_start(self, poll_id: int, fence: int, message_id: str) -> Recorded:
        """The poll's message exists: record it (current fence, empty slot only) and open the poll."""
        result = await self._session.execute(
            update(PollRow)
            .where(_holds(poll_id, fence, "starting"), PollRow.message_id.is_(None))
            .values(message_id=message_id[:64], state="open")
        )
        if affected(result):
            return "recorded"
        row = await self.get(poll_id)
        return "taken" if row is not None and row.fence == fence else "fence-lost"

    async def abandon(self, poll_id: int, fence: int) -> bool:
        """Remove a start that posted nothing (the platform refused it): the channel may start another."""
        result = await self._session.execute(delete(PollRow).where(_holds(poll_id, fence, "starting")))
        return bool(affected(result))

    async def release(self, poll_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        """Give a start or a close up so another replica (or the next try) resumes it at once."""
        await self._session.execute(
            update(PollRow)
            .where(PollRow.id == poll_id, PollRow.fence == fence, PollRow.state.in_(("starting", "closing")))
            .values(lease_until=now, last_error=error[:500] if error else None)
        )

    # ── closing ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def claim_close(
        self, poll_id: int, *, holder: str, now: datetime, lease: timedelta, force: bool
    ) -> tuple[CloseOutcome, PollRecord | None]:
        """Claim the close of an open poll that is due (or any open one when `force`, an admin's close), or take
        over a close whose holder's lease ran out (or that `holder` holds)."""
        due = PollRow.state == "open" if force else and_(PollRow.state == "open", PollRow.closes_at <= now)
        stalled = and_(PollRow.state == "closing", or_(PollRow.lease_until <= now, PollRow.holder == holder))
        before = await self.get(poll_id)
        if before is None:
            return "closed-before", None
        taken = await self._session.execute(
            update(PollRow)
            .where(PollRow.id == poll_id, or_(due, stalled))
            .values(state="closing", holder=holder, lease_until=now + lease, fence=PollRow.fence + 1)
        )
        row = await self.get(poll_id)
        assert row is not None
        if affected(taken):
            return ("resumed" if before.state == "closing" else "new"), row
        if row.state == "closed":
            return "closed-before", row
        if row.state == "closing":
            return "held-elsewhere", row
        return "not-due", row

    async def store_result(
        self, poll_id: int, fence: int, counts: Sequence[int], winner: str, tie: str, *, until: datetime
    ) -> bool:
        result = await self._session.execute(
            update(PollRow)
            .where(_holds(poll_id, fence, "closing"))
            .values(counts=list(counts), winner_paper_id=winner, tie_note=tie, lease_until=until)
        )
        return bool(affected(result))

    async def intend_announce(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        result = await self._session.execute(
            update(PollRow).where(_holds(poll_id, fence, "closing")).values(announce_intent_at=now, lease_until=until)
        )
        return bool(affected(result))

    async def record_announce(self, poll_id: int, fence: int, message_id: str, *, now: datetime) -> Recorded:
        """The announcement exists: record it and close the poll (the channel may start the next one)."""
        result = await self._session.execute(
            update(PollRow)
            .where(_holds(poll_id, fence, "closing"), PollRow.announce_message_id.is_(None))
            .values(announce_message_id=message_id[:64], state="closed", open_channel_id=None, closed_at=now)
        )
        if affected(result):
            return "recorded"
        row = await self.get(poll_id)
        return "taken" if row is not None and row.fence == fence else "fence-lost"

    async def record_thread(self, poll_id: int, thread_id: str) -> None:
        await self._session.execute(update(PollRow).where(PollRow.id == poll_id).values(thread_id=thread_id[:64]))

    # ── reads ───────────────────────────────────────────────────────────────────────────────────────────────────

    async def get(self, poll_id: int) -> PollRecord | None:
        row = await self._session.get(PollRow, poll_id, populate_existing=True)
        return None if row is None else _record(row)

    async def current(self, channel_id: int) -> PollRecord | None:
        """The channel's poll that is not closed yet, if any."""
        row = await self._session.scalar(select(PollRow).where(PollRow.open_channel_id == channel_id))
        return None if row is None else _record(row)

    async def by_message(self, channel_id: int, message_id: str) -> PollRecord | None:
        row = await self._session.scalar(
            select(PollRow).where(PollRow.channel_id == channel_id, PollRow.message_id == message_id)
        )
        return None if row is None else _record(row)

    async def due(self, now: datetime, *, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        """(poll id, platform, workspace, channel, name) of every poll that needs a replica now: open past its
        close, or starting or closing under a holder whose lease ran out."""
        rows = await self._session.execute(
            select(PollRow.id, ChannelRow.platform, ChannelRow.workspace, ChannelRow.channel, ChannelRow.name)
            .join(ChannelRow, ChannelRow.id == PollRow.channel_id)
            .where(
                or_(
                    and_(PollRow.state == "open", PollRow.closes_at <= now),
                    and_(PollRow.state.in_(("starting", "closing")), PollRow.lease_until <= now),
                )
            )
            .order_by(PollRow.closes_at, PollRow.id)
            .limit(limit)
        )
        return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    async def history(self, channel_id: int, *, limit: int) -> list[PollRecord]:
        """The channel's closed polls, newest first."""
        rows = await self._session.scalars(
            select(PollRow)
            .where(PollRow.channel_id == channel_id, PollRow.state == "closed")
            .order_by(PollRow.closed_at.desc(), PollRow.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in rows]

    async def posted_since(self, channel_id: int, since: date) -> list[str]:
        """Papers the channel's digests posted on `since` or later, newest day first, best rank first."""
        rows = await self._session.execute(
            select(PostRow.paper_id)
            .join(DigestRow, DigestRow.id == PostRow.digest_id)
            .where(PostRow.channel_id == channel_id, DigestRow.day >= since, PostRow.message_id.is_not(None))
            .order_by(DigestRow.day.desc(), PostRow.rank)
        )
        return list(dict.fromkeys(r[0] for r in rows))

    # ── votes the core records ──────────────────────────────────────────────────────────────────────────────────

    async def vote(self, poll_id: int, user_id: str, choice: int, *, now: datetime) -> None:
        """One vote per person: a second one replaces the first."""
        user = user_id[:64]
        changed = await self._session.execute(
            update(PollVoteRow)
            .where(PollVoteRow.poll_id == poll_id, PollVoteRow.user_id == user)
            .values(choice=choice, updated_at=now)
        )
        if not affected(changed):
            values = {"poll_id": poll_id, "user_id": user, "choice": choice, "updated_at": now}
            inserted = await self._session.execute(
                insert_ignore(self._session, table_of(PollVoteRow), values, keys=["poll_id", "user_id"])
            )
            if not affected(inserted):  # a concurrent first vote of the same person won the insert
                await self._session.execute(
                    update(PollVoteRow)
                    .where(PollVoteRow.poll_id == poll_id, PollVoteRow.user_id == user)
                    .values(choice=choice, updated_at=now)
                )

    async def unvote(self, poll_id: int, user_id: str, choice: int) -> bool:
        """Take a person's vote back, if it is for `choice` (a later vote for another answer stays)."""
        result = await self._session.execute(
            delete(PollVoteRow).where(
                PollVoteRow.poll_id == poll_id, PollVoteRow.user_id == user_id[:64], PollVoteRow.choice == choice
            )
        )
        return bool(affected(result))

    async def choice_of(self, poll_id: int, user_id: str) -> int | None:
        """The person's current vote in the poll (an answer's index), if any."""
        return await self._session.scalar(
            select(PollVoteRow.choice).where(PollVoteRow.poll_id == poll_id, PollVoteRow.user_id == user_id[:64])
        )

    async def tally(self, poll_id: int, options: int) -> tuple[int, ...]:
        """Votes per option, in option order."""
        rows = await self._session.execute(
            select(PollVoteRow.choice, func.count()).where(PollVoteRow.poll_id == poll_id).group_by(PollVoteRow.choice)
        )
        counts = [0] * options
        for choice, count in rows:
            if 0 <= choice < options:
                counts[choice] = int(count)
        return tuple(counts)

    async def forget(self, platform: str, user_id: str) -> int:
        """Remove a person's poll votes in every channel of `platform` (a data-deletion request)."""
        polls = (
            select(PollRow.id)
            .join(ChannelRow, ChannelRow.id == PollRow.channel_id)
            .where(ChannelRow.platform == platform)
        )
        result = await self._session.execute(
            delete(PollVoteRow).where(PollVoteRow.user_id == user_id[:64], PollVoteRow.poll_id.in_(polls))
        )
        return int(affected(result) or 0)
