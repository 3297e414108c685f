"""The relational schema. Sized for ~1,000,000 papers and ~5,000,000 votes: every hot query has an index.

Rows never leave `bot/storage/`: repositories map them to the frozen dataclasses of `bot.domain.model`.
"""

# No `from __future__ import annotations` here: SQLAlchemy reads each `Mapped[…]` annotation, and evaluating
# them as strings costs every process ≈ 15 M instructions more (a sixth of `python -c pass`) at import.

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.storage.dialect import INCLUDE, BigId, UTCDateTime, covering_on_postgresql

Timestamp = UTCDateTime()

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class PaperRow(Base):
    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]]
    abstract: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]]
    primary_category: Mapped[str] = mapped_column(String(32))
    published: Mapped[datetime] = mapped_column(Timestamp)
    updated: Mapped[datetime] = mapped_column(Timestamp)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    announced: Mapped[date | None] = mapped_column(Date, index=True)
    fetched_at: Mapped[datetime] = mapped_column(Timestamp)


class SignalSnapshotRow(Base):
    __tablename__ = "signal_snapshots"
    __table_args__ = (Index(None, "paper_id", "source", "fetched_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(Timestamp)


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    settings: Mapped[dict[str, Any]]
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    subscribed_by: Mapped[str | None] = mapped_column(String(64))
    """The platform user id of whoever last subscribed the channel (told when it is paused, where possible)."""
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """Set while the platform refuses the channel or its workspace: no digest request goes there but the daily
    retry; `paused_reason`/`paused_fix` say why and what to do, `paused_scope` is "channel" or "workspace"."""
    paused_scope: Mapped[str | None] = mapped_column(String(16))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_fix: Mapped[str | None] = mapped_column(Text)


class DigestRow(Base):
    """The (channel, day) claim that makes posting exactly-once; `lease_until` lets a live replica take over, and
    `fence` (bumped by every claim) is the token without which nothing about this digest is recorded."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("channel_id", "kind", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # claimed | done
    holder: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime] = mapped_column(Timestamp)
    claimed_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    header_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # as migration 0003 added it
    header_intent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When a holder was about to post the header (its idempotency key is `PostKey.header(day)`)."""
    kind: Mapped[str] = mapped_column(String(16), default="daily", server_default="daily")
    """"daily", or "roundup": the weekly roundup, one message keyed by the week's last day (`day`)."""


class PostRow(Base):
    """A planned or posted digest entry; `message_id` maps reactions back to the paper."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id"),
        UniqueConstraint("digest_id", "rank"),
        Index(None, "channel_id", "paper_id", info={INCLUDE: ["version"]}),
        Index(None, "paper_id", "day", "channel_id", info={INCLUDE: ["message_id"]}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    rank: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    updated_version: Mapped[bool] = mapped_column(Boolean, default=False)
    message_id: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    intent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When a holder was about to post this entry: with no `message_id`, the message may or may not exist."""
    skipped: Mapped[str | None] = mapped_column(Text)
    """Why the platform refused this one entry for good (the rest of the digest went on)."""
    score: Mapped[float | None] = mapped_column(Float)
    why: Mapped[list[str] | None] = mapped_column(JSON)
    """The score and why-line the entry was planned with: the posted card shows what the preview showed."""
    day: Mapped[date | None] = mapped_column(Date)
    """Its digest's day, copied when the entry is planned (None only without a digest): a paper's postings are then
    read in (day, channel) order from the (paper, day, channel) index — a `/paper` card's 10 most recent ones by
    reading 10 entries backwards, however many channels posted it (migration 0008)."""


class VoteRow(Base):
    """One user's vote on one paper in one channel. `reactions` names the same-sign reactions behind it (👍 and 🔥),
    so removing one of two keeps the vote, a repeated delivery changes nothing, and the vote still counts once."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("channel_id", "paper_id", "user_id", info={INCLUDE: ["value"]}),
        Index(None, "paper_id", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(SmallInteger)
    reactions: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class ProcessedEventRow(Base):
    """Platform event ids already handled, so a retried delivery is counted once."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class SummaryRow(Base):
    __tablename__ = "summaries"
    __table_args__ = (Index(None, "paper_id", "source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    version: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    score: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)


class SummaryVoteRow(Base):
    __tablename__ = "summary_votes"

    summary_id: Mapped[int] = mapped_column(ForeignKey("summaries.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger)


def table_of(row: type[Base]) -> Table:
    """A mapped class's Core table, typed as one (SQLAlchemy types `__table__` as any FROM clause)."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


for _covered in (PostRow, VoteRow):
    event.listen(table_of(_covered), "before_create", covering_on_postgresql)
