"""Discussion threads on posted papers and who replied in them (issue 18). Never the text of a reply.

A thread hangs on one message the bot posted in a channel (a digest entry), so it belongs to one paper there. A
reply is kept as (channel, thread, reply message id, person, paper, when): the message id is unique per channel,
so a retried event counts once, and a deletion (Discord's carries no author) finds the person it removes. Rows
never leave this module: the reads return plain tuples, dicts and the dataclasses below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, String, UniqueConstraint, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.errors import UpstreamUnavailable
from bot.domain.records import ThreadRecord
from bot.storage.dialect import BigId, affected, id_lists, insert_ignore, one_of, per_dialect, shared_by_processes
from bot.storage.driver import kept_driver, raise_if_unavailable
from bot.storage.rows import counts_of
from bot.storage.tables import Base, ChannelRow, DigestRow, PostRow, Timestamp, table_of


class DiscussionThreadRow(Base):
    __tablename__ = "discussion_threads"
    __table_args__ = (UniqueConstraint("channel_id", "message_id"), UniqueConstraint("channel_id", "thread_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    thread_id: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(Timestamp)


class ThreadReplyRow(Base):
    __tablename__ = "thread_replies"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id"),
        Index(None, "channel_id", "paper_id", "user_id"),
        Index(None, "user_id"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("discussion_threads.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    paper_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(Timestamp)


@per_dialect
def _people(dialect: str) -> Select[Any]:
    replies = table_of(ThreadReplyRow).c
    return (
        select(replies.paper_id, func.count(func.distinct(replies.user_id)))
        .where(replies.channel_id == bindparam("channel_id"), one_of(replies.paper_id, "ids", dialect))
        .group_by(replies.paper_id)
    )


def _record(row: DiscussionThreadRow) -> ThreadRecord:
    return ThreadRecord(row.id, row.channel_id, row.message_id, row.paper_id, row.thread_id)


OPENING_WAIT = 10.0
"""Seconds a replica waits for another opening the same thread before telling the person to try again."""

_WAIT_MS = f"{OPENING_WAIT * 1000:.0f}"
_LOCK_OPENING = "SELECT set_config('lock_timeout', $2, true), pg_advisory_xact_lock(hashtextextended($1, 0))"
"""The transaction's lock on a message's thread (`lock_timeout` for this transaction only)."""


class ThreadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def on_message(self, channel_id: int, message_id: str) -> ThreadRecord | None:
        """The thread opened on a posted message, if any."""
        row = await self._session.scalar(
            select(DiscussionThreadRow).where(
                DiscussionThreadRow.channel_id == channel_id, DiscussionThreadRow.message_id == message_id
            )
        )
        return None if row is None else _record(row)

    async def by_thread(self, channel_id: int, thread_id: str) -> ThreadRecord | None:
        """The thread whose platform id replies carry (a thread channel id, a `thread_ts`)."""
        row = await self._session.scalar(
            select(DiscussionThreadRow).where(
                DiscussionThreadRow.channel_id == channel_id, DiscussionThreadRow.thread_id == thread_id[:64]
            )
        )
        return None if row is None else _record(row)

    @asynccontextmanager
    async def opening(self, channel_id: int, message_id: str) -> AsyncIterator[None]:
        """One replica at a time opens a thread on a message. PostgreSQL: an advisory lock on the message, held in a
        transaction of a connection of its own (PostgreSQL lets it go if this process dies), waiting at most
        `OPENING_WAIT` for another replica (one stopped mid-way holds it until its connection goes). SQLite: one
        process writes the database, and its own opener lock suffices."""
        if not shared_by_processes(self._session):
            yield
            return
        from asyncpg.exceptions import LockNotAvailableError  # type: ignore[import-untyped]  # PostgreSQL only

        engine = self._session.bind
        assert isinstance(engine, AsyncEngine), "sessions are bound to the engine"
        async with kept_driver(engine) as driver, driver.transaction():  # the lock goes with the transaction
            try:
                await driver.execute(_LOCK_OPENING, f"thread {channel_id} {message_id[:64]}", _WAIT_MS)
            except LockNotAvailableError:
                raise UpstreamUnavailable("another replica is opening this thread: try again in a moment") from None
            except Exception as error:
                raise_if_unavailable(error, driver)
                raise
            yield

    async def open(self, channel_id: int, message_id: str, paper_id: str, thread_id: str, *, now: datetime) -> bool:
        """Record a thread opened on a message; False when one was recorded already (another replica, a repeat)."""
        values = {
            "channel_id": channel_id,
            "message_id": message_id[:64],
            "paper_id": paper_id,
            "thread_id": thread_id[:64],
            "opened_at": now,
        }
        table = table_of(DiscussionThreadRow)
        result = await self._session.execute(
            insert_ignore(self._session, table, values, keys=["channel_id", "message_id"])
        )
        return bool(affected(result))

    async def add_reply(self, thread: ThreadRecord, message_id: str, user_id: str, *, now: datetime) -> bool:
        """Count one reply (once per reply message, however often the event is delivered)."""
        values = {
            "channel_id": thread.channel_id,
            "thread_id": thread.id,
            "message_id": message_id[:64],
            "user_id": user_id[:64],
            "paper_id": thread.paper_id,
            "at": now,
        }
        table = table_of(ThreadReplyRow)
        result = await self._session.execute(
            insert_ignore(self._session, table, values, keys=["channel_id", "message_id"])
        )
        return bool(affected(result))

    async def remove_reply(self, channel_id: int, message_id: str) -> str | None:
        """Forget a deleted reply; the paper it counted for, or None when it was not a counted reply."""
        paper_id = await self._session.scalar(
            select(ThreadReplyRow.paper_id).where(
                ThreadReplyRow.channel_id == channel_id, ThreadReplyRow.message_id == message_id[:64]
            )
        )
        if paper_id is not None:
            await self._session.execute(
                delete(ThreadReplyRow).where(
                    ThreadReplyRow.channel_id == channel_id, ThreadReplyRow.message_id == message_id[:64]
                )
            )
        return paper_id

    async def people(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """Distinct people who replied in each paper's threads in the channel (papers without replies absent)."""
        found: dict[str, int] = {}
        for chunk in id_lists(self._session, paper_ids):
            values = {"channel_id": channel_id, "ids": chunk}
            found.update(counts_of(await self._session.execute(_people(self._session), values)))
        return found

    async def posted_message(self, channel_id: int, paper_id: str) -> str | None:
        """The latest message the paper was posted with in the channel's digests (None if never)."""
        return await self._session.scalar(
            select(PostRow.message_id)
            .where(PostRow.channel_id == channel_id, PostRow.paper_id == paper_id, PostRow.message_id.is_not(None))
            .order_by(PostRow.posted_at.desc(), PostRow.id.desc())
            .limit(1)
        )

    async def week_posts(self, channel_id: int, first: date, last: date) -> dict[str, str]:
        """paper id → its latest message among the channel's daily digests of days [first, last]."""
        result = await self._session.execute(
            select(PostRow.paper_id, PostRow.message_id)
            .join(DigestRow, DigestRow.id == PostRow.digest_id)
            .where(
                PostRow.channel_id == channel_id,
                PostRow.message_id.is_not(None),
                DigestRow.kind == "daily",
                DigestRow.day >= first,
                DigestRow.day <= last,
            )
            .order_by(DigestRow.day, PostRow.rank)
        )
        return {paper_id: message_id for paper_id, message_id in result if message_id is not None}

    async def forget(self, platform: str, user_id: str) -> int:
        """Delete one person's reply records (a data-deletion request)."""
        channels = select(ChannelRow.id).where(ChannelRow.platform == platform)
        result = await self._session.execute(
            delete(ThreadReplyRow).where(
                ThreadReplyRow.user_id == user_id[:64], ThreadReplyRow.channel_id.in_(channels)
            )
        )
        return int(affected(result) or 0)

    async def prune(self, before: datetime) -> int:
        """Forget replies older than the retention: they stop counting."""
        result = await self._session.execute(delete(ThreadReplyRow).where(ThreadReplyRow.at < before))
        return int(affected(result) or 0)
