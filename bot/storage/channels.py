"""Repositories for channels, their votes, and the platform events already handled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import Select, bindparam, case, delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import Channel, ChannelRef, ChannelSettings, Pause, VoteTally
from bot.records import ChannelActivity
from bot.storage.dialect import affected, id_lists, insert_ignore, one_of, per_dialect, returns_arrays
from bot.storage.memo import memo, remember
from bot.storage.tables import ChannelRow, PaperRow, ProcessedEventRow, VoteRow, table_of
from bot.votes import BUTTON, joined, names, reaction_name

_CHANNELS = table_of(ChannelRow)
_VOTES = table_of(VoteRow)
UP = func.sum(case((_VOTES.c.value > 0, 1), else_=0))
DOWN = func.sum(case((_VOTES.c.value < 0, 1), else_=0))
NET = func.sum(_VOTES.c.value).label("net")


@per_dialect
def _channel_by_ref(dialect: str) -> Select[ChannelRow]:
    return select(ChannelRow).where(
        ChannelRow.platform == bindparam("platform"),
        ChannelRow.workspace == bindparam("workspace"),
        ChannelRow.channel == bindparam("channel"),
    )


@per_dialect
def _channel_id_by_ref(dialect: str) -> Select[int]:
    columns = _CHANNELS.c
    return select(columns.id).where(
        columns.platform == bindparam("platform"),
        columns.workspace == bindparam("workspace"),
        columns.channel == bindparam("channel"),
    )


@per_dialect
def _tallies_in_channel(dialect: str) -> Select[Any]:
    return (
        select(_VOTES.c.paper_id, UP, DOWN)
        .where(_VOTES.c.channel_id == bindparam("channel_id"), one_of(_VOTES.c.paper_id, "ids", dialect))
        .group_by(_VOTES.c.paper_id)
    )


@per_dialect
def _tallies_everywhere(dialect: str) -> Select[Any]:
    return (
        select(_VOTES.c.paper_id, UP, DOWN).where(one_of(_VOTES.c.paper_id, "ids", dialect)).group_by(_VOTES.c.paper_id)
    )


def _per_paper(channel_id: Any, *columns: Any) -> Select[Any]:
    """`columns` per paper over one channel's votes; `channel_id` is a value, a correlated column, or None for a
    `:channel_id` parameter."""
    channel = bindparam("channel_id") if channel_id is None else channel_id
    return select(_VOTES.c.paper_id, *columns).where(_VOTES.c.channel_id == channel).group_by(_VOTES.c.paper_id)


def _votes_per_paper(dialect: str, channel_id: Any = None) -> Select[Any]:
    return _per_paper(channel_id, UP.label("up"), DOWN.label("down"), NET)


_channel_votes = per_dialect(_votes_per_paper)


def _net_per_paper(dialect: str, channel_id: Any = None) -> Select[Any]:
    return _per_paper(channel_id, NET)


_channel_nets = per_dialect(_net_per_paper)


def _vote_arrays(dialect: str, channel_id: Any) -> Select[Any]:
    """A channel's net vote per paper as one row of arrays (PostgreSQL)."""
    voted = _net_per_paper(dialect, channel_id).correlate(_CHANNELS).subquery()
    arrays: Select[Any] = select(*(func.array_agg(column) for column in voted.c))  # type: ignore[assignment]
    return arrays


@per_dialect
def _activity(dialect: str) -> Select[Any]:
    return _vote_arrays(dialect, bindparam("channel_id"))


@per_dialect
def _channel_and_activity(dialect: str) -> Select[Any]:
    """The channel's row with its votes, in one statement (PostgreSQL: LATERAL)."""
    votes = _vote_arrays(dialect, ChannelRow.id).lateral()
    return (
        select(_CHANNELS, votes)
        .select_from(_CHANNELS.join(votes, true()))
        .where(
            _CHANNELS.c.platform == bindparam("platform"),
            _CHANNELS.c.workspace == bindparam("workspace"),
            _CHANNELS.c.channel == bindparam("channel"),
        )
    )


def settings_to_json(settings: ChannelSettings) -> dict[str, Any]:
    """What a channel chose; the pause is the platform's doing and lives in columns of its own."""
    chosen = asdict(settings)
    chosen.pop("paused", None)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in chosen.items()}


def _stored(value: Any, default: Any) -> Any:
    """A stored setting of the default's type (lists back to tuples of the default's item type), or the default:
    a value an older version wrote in another shape is not trusted."""
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            return default
        kinds = {type(item) for item in default} or {str}
        return tuple(item for item in value if type(item) in kinds) if default or value else ()
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else default
    return value if isinstance(value, type(default)) else default


def settings_from_json(data: dict[str, Any], *, subscribed: bool, paused: Pause | None = None) -> ChannelSettings:
    """A channel's stored settings, each checked against its field's type (a malformed value falls back to the
    default instead of reaching the ranking or the scheduler as the wrong type)."""
    defaults = ChannelSettings()
    chosen = {f.name for f in fields(ChannelSettings)} - {"subscribed", "paused"}
    known = {k: _stored(v, getattr(defaults, k)) for k, v in data.items() if k in chosen}
    if known.get("threads") not in (None, "button", "always", "off"):
        known.pop("threads")
    if not 0 <= known.get("roundup_day", 0) <= 6:
        known.pop("roundup_day")
    return replace(defaults, **known, subscribed=subscribed, paused=paused)


def pause_of(row: Any) -> Pause | None:
    if row.paused_at is None:
        return None
    scope: Literal["channel", "workspace"] = "workspace" if row.paused_scope == "workspace" else "channel"
    return Pause(row.paused_reason or "", row.paused_fix or "", scope, row.paused_at)


def settings_of_row(row: Any) -> ChannelSettings:
    """A channel's settings as its row stores them, with its pause (if any)."""
    return settings_from_json(row.settings, subscribed=row.subscribed, paused=pause_of(row))


def channel_of(row: Any) -> Channel:
    """The domain's `Channel` from a channels row (an ORM row or a row of its columns)."""
    return Channel(row.id, ref_of(row), settings_of_row(row), row.subscribed_by)


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, ref: ChannelRef) -> Channel | None:
        row = await self._row(ref)
        return None if row is None else channel_of(row)

    async def _row(self, ref: ChannelRef) -> ChannelRow | None:
        values = {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel}
        return await self._session.scalar(_channel_by_ref(self._session), values)

    async def find_with_activity(self, ref: ChannelRef) -> tuple[Channel | None, ChannelActivity | None]:
        """`find` and `VoteRepository.channel_activity` in one round trip where the database can (PostgreSQL):
        a digest needs both."""
        values = {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel}
        if not returns_arrays(self._session):
            channel = await self.find(ref)
            return channel, (await VoteRepository(self._session).channel_activity(channel.id) if channel else None)
        found = (await self._session.execute(_channel_and_activity(self._session), values)).first()
        if found is None:
            return None, None
        width = len(_CHANNELS.c)
        # Mapped from the columns, not loaded as an ORM entity: that costs a digest more than the arrays of
        # thousands of votes do.
        columns = SimpleNamespace(**dict(zip(_CHANNELS.c.keys(), found[:width], strict=True)))
        return channel_of(columns), ChannelActivity(*(list(column or ()) for column in found[width:]))

    async def id_of(self, ref: ChannelRef) -> int | None:
        """The channel's row id (None if we have never seen it), remembered: a channel row is never deleted."""
        ids = memo(self._session, "channel_ids")
        key = (ref.platform, ref.workspace, ref.channel)
        found = ids.get(key)
        if found is None:
            values = {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel}
            found = await self._session.scalar(_channel_id_by_ref(self._session), values)
            if found is not None:
                remember(ids, key, found)
        return found

    async def ensure(self, ref: ChannelRef, *, defaults: ChannelSettings, now: datetime) -> Channel:
        """The channel, created (unsubscribed, with defaults) on first contact; safe under races."""
        row = await self._row(ref)
        if row is None:
            values = {
                "platform": ref.platform,
                "workspace": ref.workspace,
                "channel": ref.channel,
                "name": ref.name[:200],
                "settings": settings_to_json(defaults),
                "subscribed": False,
                "created_at": now,
            }
            await self._session.execute(
                insert_ignore(self._session, table_of(ChannelRow), values, keys=["platform", "workspace", "channel"])
            )
            row = await self._row(ref)
            assert row is not None
        elif ref.name and row.name != ref.name[:200]:
            row.name = ref.name[:200]
        return channel_of(row)

    async def save(self, channel: Channel, settings: ChannelSettings, *, by: str | None = None) -> None:
        """Store the settings a channel chose; `settings.paused` None lifts a pause, and `by` is who subscribed."""
        row = await self._session.get(ChannelRow, channel.id)
        assert row is not None, "a channel row is never deleted"
        row.settings = settings_to_json(settings)
        row.subscribed = settings.subscribed
        if settings.paused is None:
            row.paused_at = row.paused_scope = row.paused_reason = row.paused_fix = None
        if by:
            row.subscribed_by = by[:64]
        await self._session.flush()

    async def subscribed(self) -> list[tuple[ChannelRef, ChannelSettings]]:
        rows = await self._session.scalars(select(ChannelRow).where(ChannelRow.subscribed).order_by(ChannelRow.id))
        return [(ref_of(row), settings_of_row(row)) for row in rows]

    async def pause(self, refs: Sequence[ChannelRef], pause: Pause) -> None:
        """Pause these channels (kept subscribed: the pause is lifted by subscribing or by a daily retry)."""
        for ref in refs:
            await self._session.execute(
                update(ChannelRow)
                .where(_is(ref))
                .values(
                    paused_at=pause.since,
                    paused_scope=pause.scope,
                    paused_reason=pause.reason[:500],
                    paused_fix=pause.fix[:500],
                )
            )

    async def unpause(self, ref: ChannelRef) -> None:
        await self._session.execute(
            update(ChannelRow)
            .where(_is(ref))
            .values(paused_at=None, paused_scope=None, paused_reason=None, paused_fix=None)
        )

    async def subscriber(self, ref: ChannelRef) -> str | None:
        """The user id of whoever subscribed the channel last, if known."""
        return await self._session.scalar(select(ChannelRow.subscribed_by).where(_is(ref)))


def _is(ref: ChannelRef) -> Any:
    return (
        (ChannelRow.platform == ref.platform)
        & (ChannelRow.workspace == ref.workspace)
        & (ChannelRow.channel == ref.channel)
    )


def ref_of(row: Any) -> ChannelRef:
    return ChannelRef(row.platform, row.workspace, row.channel, row.name)


class VoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def clear_reactions(self, channel_id: int, paper_id: str, reaction: str | None) -> int:
        """A moderator cleared one reaction (`reaction`) or all of them (None) from a post of `paper_id`: each vote
        loses those reactions, and a vote left with none is deleted. Button votes are not reactions and stay.
        Returns how many votes were deleted."""
        rows = (
            await self._session.execute(
                select(VoteRow.id, VoteRow.reactions)
                .where(VoteRow.channel_id == channel_id, VoteRow.paper_id == paper_id)
                .with_for_update()
            )
        ).all()
        gone: list[int] = []
        for vote_id, reactions in rows:
            before = names(reactions)
            after = before - {reaction_name(reaction)} if reaction is not None else before & {BUTTON}
            if not after:
                gone.append(vote_id)
            elif after != before:
                kept = update(VoteRow).where(VoteRow.id == vote_id).values(reactions=joined(after))
                await self._session.execute(kept)
        if gone:
            await self._session.execute(delete(VoteRow).where(VoteRow.id.in_(gone)))
        return len(gone)

    async def tallies(self, channel_id: int | None, paper_ids: Sequence[str]) -> dict[str, VoteTally]:
        """Up/down counts per paper, in one grouped query; `channel_id=None` sums every channel."""
        found: dict[str, VoteTally] = {}
        for chunk in id_lists(self._session, paper_ids):
            values: dict[str, Any] = {"ids": chunk}
            if channel_id is None:
                query = _tallies_everywhere(self._session)
            else:
                query, values["channel_id"] = _tallies_in_channel(self._session), channel_id
            result = await self._session.execute(query, values)
            found.update((paper_id, VoteTally(int(u or 0), int(d or 0))) for paper_id, u, d in result)
        return found

    async def channel_votes(self, channel_id: int) -> dict[str, tuple[int, int, int]]:
        """(up, down, net) votes on every paper voted on in the channel, from one index range: its votes on
        today's papers and, with the papers' categories, the raw material of its taste (`history` without the
        join)."""
        result = await self._session.execute(_channel_votes(self._session), {"channel_id": channel_id})
        return {paper_id: (up, down, net) for paper_id, up, down, net in result}

    async def channel_activity(self, channel_id: int) -> ChannelActivity:
        """The channel's net vote per paper: a long-lived channel has voted on thousands of papers, so on
        PostgreSQL they come as one row of arrays, decoded by the driver in C."""
        if returns_arrays(self._session):
            row = (await self._session.execute(_activity(self._session), {"channel_id": channel_id})).one()
            return ChannelActivity(*(list(column or ()) for column in row))
        nets = await self._session.execute(_channel_nets(self._session), {"channel_id": channel_id})
        columns = list(zip(*nets, strict=True)) or [(), ()]
        return ChannelActivity(*(list(column) for column in columns))

    async def history(self, channel_id: int) -> list[tuple[list[str], int]]:
        """(categories, net vote) per voted paper in the channel: the raw material of the channel's taste."""
        per_paper = _per_paper(channel_id, NET).subquery()
        result = await self._session.execute(
            select(PaperRow.categories, per_paper.c.net).join(per_paper, PaperRow.id == per_paper.c.paper_id)
        )
        return [(list(categories), int(total)) for categories, total in result]

    async def most_voted(self, channel_id: int, since: datetime, *, limit: int) -> list[tuple[str, VoteTally]]:
        result = await self._session.execute(
            select(VoteRow.paper_id, UP, DOWN)
            .where(VoteRow.channel_id == channel_id, VoteRow.updated_at >= since)
            .group_by(VoteRow.paper_id)
            .having(UP > 0)
            .order_by((UP - DOWN).desc(), UP.desc(), VoteRow.paper_id)
            .limit(limit)
        )
        return [(paper_id, VoteTally(int(u), int(d))) for paper_id, u, d in result]

    async def forget(self, platform: str, user_id: str) -> int:
        channels = select(ChannelRow.id).where(ChannelRow.platform == platform)
        result = await self._session.execute(
            delete(VoteRow).where(VoteRow.user_id == user_id, VoteRow.channel_id.in_(channels))
        )
        return int(affected(result) or 0)


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_delivery(self, platform: str, event_id: str, *, now: datetime) -> bool:
        """Record the event id; False when it was seen before (a retried delivery)."""
        result = await self._session.execute(
            insert_ignore(
                self._session,
                table_of(ProcessedEventRow),
                {"platform": platform, "event_id": event_id[:128], "seen_at": now},
                keys=["platform", "event_id"],
            )
        )
        return bool(affected(result))

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.seen_at < before))
        return int(affected(result) or 0)


__all__ = ["ChannelRepository", "EventRepository", "VoteRepository", "ref_of"]
