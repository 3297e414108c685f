"""Repositories for channels, their votes, and the platform events already handled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import ChannelRef, ChannelSettings, VoteTally
from bot.storage.dialect import insert_ignore
from bot.storage.tables import ChannelRow, PaperRow, ProcessedEventRow, VoteRow


def settings_to_json(settings: ChannelSettings) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(settings).items()}


def settings_from_json(data: dict[str, Any], *, subscribed: bool) -> ChannelSettings:
    known = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in ChannelSettings.__slots__}
    known["subscribed"] = subscribed
    return ChannelSettings(**known)


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, ref: ChannelRef) -> ChannelRow | None:
        return await self._session.scalar(
            select(ChannelRow).where(
                ChannelRow.platform == ref.platform,
                ChannelRow.workspace == ref.workspace,
                ChannelRow.channel == ref.channel,
            )
        )

    async def ensure(self, ref: ChannelRef, *, defaults: ChannelSettings, now: datetime) -> ChannelRow:
        """The channel's row, created (unsubscribed, with defaults) on first contact; safe under races."""
        row = await self.find(ref)
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
                insert_ignore(self._session, ChannelRow.__table__, values, keys=["platform", "workspace", "channel"])
            )
            row = await self.find(ref)
            assert row is not None
        elif ref.name and row.name != ref.name[:200]:
            row.name = ref.name[:200]
        return row

    async def save(self, row: ChannelRow, settings: ChannelSettings) -> None:
        row.settings = settings_to_json(settings)
        row.subscribed = settings.subscribed
        await self._session.flush()

    async def subscribed(self) -> list[tuple[ChannelRef, ChannelSettings]]:
        rows = await self._session.scalars(select(ChannelRow).where(ChannelRow.subscribed).order_by(ChannelRow.id))
        return [(ref_of(row), settings_from_json(row.settings, subscribed=True)) for row in rows]

    async def by_ids(self, ids: Sequence[int]) -> dict[int, ChannelRef]:
        if not ids:
            return {}
        rows = await self._session.scalars(select(ChannelRow).where(ChannelRow.id.in_(list(ids))))
        return {row.id: ref_of(row) for row in rows}


def ref_of(row: ChannelRow) -> ChannelRef:
    return ChannelRef(row.platform, row.workspace, row.channel, row.name)


_SEPARATOR = "\n"


def _names(joined: str) -> set[str]:
    return {name for name in joined.split(_SEPARATOR) if name}


def _joined(names: set[str]) -> str:
    return _SEPARATOR.join(sorted(names))[:200]


class VoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def apply(
        self, channel_id: int, paper_id: str, user_id: str, value: int, *, reaction: str, removed: bool, now: datetime
    ) -> bool:
        """Add or remove one reaction's vote. A user's vote on a paper counts once, whatever the number of
        same-sign reactions; an opposite reaction replaces it. Returns whether the tally changed."""
        where = and_(VoteRow.channel_id == channel_id, VoteRow.paper_id == paper_id, VoteRow.user_id == user_id)
        row = await self._session.scalar(select(VoteRow).where(where).with_for_update())
        name = reaction[:40].replace(_SEPARATOR, "") or "vote"
        if removed:
            if row is None or row.value != value:
                return False
            remaining = _names(row.reactions) - {name}
            if remaining:
                row.reactions = _joined(remaining)
                return False
            await self._session.delete(row)
            return True
        if row is None:
            values = {"channel_id": channel_id, "paper_id": paper_id, "user_id": user_id, "value": value,
                      "reactions": name, "updated_at": now}  # fmt: skip
            statement = insert_ignore(
                self._session, VoteRow.__table__, values, keys=["channel_id", "paper_id", "user_id"]
            )
            if (await self._session.execute(statement)).rowcount:
                return True
            row = await self._session.scalar(select(VoteRow).where(where))
            assert row is not None
        if row.value == value:
            row.reactions = _joined(_names(row.reactions) | {name})
            return False
        row.value, row.reactions, row.updated_at = value, name, now
        return True

    async def tallies(self, channel_id: int | None, paper_ids: Sequence[str]) -> dict[str, VoteTally]:
        """Up/down counts per paper, in one grouped query; `channel_id=None` sums every channel."""
        if not paper_ids:
            return {}
        up = func.sum(case((VoteRow.value > 0, 1), else_=0))
        down = func.sum(case((VoteRow.value < 0, 1), else_=0))
        query = select(VoteRow.paper_id, up, down).where(VoteRow.paper_id.in_(list(dict.fromkeys(paper_ids))))
        if channel_id is not None:
            query = query.where(VoteRow.channel_id == channel_id)
        result = await self._session.execute(query.group_by(VoteRow.paper_id))
        return {paper_id: VoteTally(int(u or 0), int(d or 0)) for paper_id, u, d in result}

    async def history(self, channel_id: int) -> list[tuple[list[str], int]]:
        """(categories, net vote) per voted paper in the channel: the raw material of the channel's taste."""
        per_paper = (
            select(VoteRow.paper_id, func.sum(VoteRow.value).label("net"))
            .where(VoteRow.channel_id == channel_id)
            .group_by(VoteRow.paper_id)
            .subquery()
        )
        result = await self._session.execute(
            select(PaperRow.categories, per_paper.c.net).join(per_paper, PaperRow.id == per_paper.c.paper_id)
        )
        return [(list(categories), int(total)) for categories, total in result]

    async def most_voted(self, channel_id: int, since: datetime, *, limit: int) -> list[tuple[str, VoteTally]]:
        up = func.sum(case((VoteRow.value > 0, 1), else_=0))
        down = func.sum(case((VoteRow.value < 0, 1), else_=0))
        result = await self._session.execute(
            select(VoteRow.paper_id, up, down)
            .where(VoteRow.channel_id == channel_id, VoteRow.updated_at >= since)
            .group_by(VoteRow.paper_id)
            .having(up > 0)
            .order_by((up - down).desc(), up.desc(), VoteRow.paper_id)
            .limit(limit)
        )
        return [(paper_id, VoteTally(int(u), int(d))) for paper_id, u, d in result]

    async def forget(self, platform: str, user_id: str) -> int:
        channels = select(ChannelRow.id).where(ChannelRow.platform == platform)
        result = await self._session.execute(
            delete(VoteRow).where(VoteRow.user_id == user_id, VoteRow.channel_id.in_(channels))
        )
        return int(result.rowcount or 0)


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_delivery(self, platform: str, event_id: str, *, now: datetime) -> bool:
        """Record the event id; False when it was seen before (a retried delivery)."""
        result = await self._session.execute(
            insert_ignore(
                self._session,
                ProcessedEventRow.__table__,
                {"platform": platform, "event_id": event_id[:128], "seen_at": now},
                keys=["platform", "event_id"],
            )
        )
        return bool(result.rowcount)

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.seen_at < before))
        return int(result.rowcount or 0)


__all__ = ["ChannelRepository", "EventRepository", "VoteRepository", "ref_of"]
