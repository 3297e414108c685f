"""The vote repository: reading and clearing a channel's votes (the grouped writes of reactions are
`bot.storage.vote_batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import VoteTally
from bot.domain.records import ChannelActivity
from bot.domain.vote_rules import BUTTON, joined, names, reaction_name
from bot.storage.dialect import affected, id_lists, one_of, per_dialect, returns_arrays
from bot.storage.rows import tallies_of
from bot.storage.tables import ChannelRow, PaperRow, VoteRow, table_of

_VOTES = table_of(VoteRow)
UP = func.sum(case((_VOTES.c.value > 0, 1), else_=0))
DOWN = func.sum(case((_VOTES.c.value < 0, 1), else_=0))
NET = func.sum(_VOTES.c.value).label("net")


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


def vote_arrays(dialect: str, channel_id: Any) -> Select[Any]:
    """A channel's net vote per paper as one row of arrays (PostgreSQL)."""
    voted = _net_per_paper(dialect, channel_id).correlate(table_of(ChannelRow)).subquery()
    arrays: Select[Any] = select(*(func.array_agg(column) for column in voted.c))  # type: ignore[assignment]
    return arrays


@per_dialect
def _activity(dialect: str) -> Select[Any]:
    return vote_arrays(dialect, bindparam("channel_id"))


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
            found.update(tallies_of(result))
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
