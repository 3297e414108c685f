"""The channel repository: channels, their settings and pauses (rows mapped to `bot.domain.model.Channel`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import Select, bindparam, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import Channel, ChannelRef, ChannelSettings, Pause
from bot.domain.records import ChannelActivity
from bot.storage.dialect import insert_ignore, per_dialect, returns_arrays
from bot.storage.memo import Memo, memo, remember
from bot.storage.tables import ChannelRow, table_of
from bot.storage.votes import VoteRepository, vote_arrays

_CHANNELS = table_of(ChannelRow)


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
def _channel_and_activity(dialect: str) -> Select[Any]:
    """The channel's row with its votes, in one statement (PostgreSQL: LATERAL)."""
    votes = vote_arrays(dialect, ChannelRow.id).lateral()
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
    def __init__(self, session: AsyncSession, *, votes: VoteRepository) -> None:
        self._session = session
        self._votes = votes
        self._ids: Memo | None = None  # the engine's memo of channel ids, found once per unit of work

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
            return channel, (await self._votes.channel_activity(channel.id) if channel else None)
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
        ids = self._ids
        if ids is None:  # a vote group asks for dozens of channels: the memo is looked up once
            ids = self._ids = memo(self._session, "channel_ids")
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
                "name": ref.stored_name,
                "settings": settings_to_json(defaults),
                "subscribed": False,
                "created_at": now,
            }
            await self._session.execute(
                insert_ignore(self._session, table_of(ChannelRow), values, keys=["platform", "workspace", "channel"])
            )
            row = await self._row(ref)
            assert row is not None
        elif ref.renames(row.name):
            row.name = ref.stored_name
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


__all__ = ["ChannelRepository", "channel_of", "ref_of", "settings_from_json", "settings_to_json"]
