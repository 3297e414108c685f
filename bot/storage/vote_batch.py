"""Reaction votes, many per transaction: the voting rule, the set-wise writes, and the queue that groups them.

At a few thousand reactions a second a transaction per reaction is bound by round trips, not by the database. So
`VoteQueue` hands whatever reactions arrived while the previous group was being written to `record_votes`, which
applies them in arrival order with a constant number of statements per group: remember the event ids, find the
papers, read and lock the votes touched, write what changed, read the tallies back. A lone reaction is a group of
one, written at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, case, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import ChannelRef, VoteEvent, VoteTally
from bot.storage.dialect import insert_for, one_of, per_dialect
from bot.storage.tables import PaperRow, ProcessedEventRow, VoteRow, table_of

if TYPE_CHECKING:
    from bot.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

SEPARATOR = "\n"
BUTTON = "vote"
"""The name of a vote cast with a button (no reaction behind it): clearing a message's reactions keeps it."""
_VOTES = table_of(VoteRow)
_KEY = (_VOTES.c.channel_id, _VOTES.c.paper_id, _VOTES.c.user_id)


def names(joined: str) -> set[str]:
    return {name for name in joined.split(SEPARATOR) if name}


def joined(found: set[str]) -> str:
    return SEPARATOR.join(sorted(found))[:200]


def reaction_name(reaction: str) -> str:
    return reaction[:40].replace(SEPARATOR, "") or BUTTON


@dataclass(frozen=True, slots=True)
class Vote:
    """A stored vote (id None until written)."""

    id: int | None
    value: int
    reactions: str
    updated_at: datetime


def transition(vote: Vote | None, value: int, name: str, *, removed: bool, now: datetime) -> tuple[Vote | None, bool]:
    """The rule: a user's vote on a paper counts once, whatever the number of same-sign reactions; an opposite
    reaction replaces it; removing the last reaction of its sign removes it. Returns the vote after the reaction
    and whether the tally changed."""
    if removed:
        if vote is None or vote.value != value:
            return vote, False
        remaining = names(vote.reactions) - {name}
        if remaining:
            return dataclasses.replace(vote, reactions=joined(remaining)), False
        return None, True
    if vote is None:
        return Vote(None, value, name, now), True
    if vote.value == value:
        return dataclasses.replace(vote, reactions=joined(names(vote.reactions) | {name})), False
    return dataclasses.replace(vote, value=value, reactions=name, updated_at=now), True


VoteKey = tuple[int, str, str]
"""(channel id, paper id, user id): one person's vote on one paper in one channel."""


class Reaction(NamedTuple):
    """One reaction (or its removal) on a paper, ready to apply."""

    channel_id: int
    paper_id: str
    user_id: str
    value: int
    name: str
    removed: bool

    @property
    def key(self) -> VoteKey:
        return (self.channel_id, self.paper_id, self.user_id)

    @property
    def pair(self) -> tuple[int, str]:
        return (self.channel_id, self.paper_id)


def buckets(items: list[Any]) -> list[Any]:
    """Pad a list to a power of two by repeating its last item, so a statement whose text depends on the list's
    length has a handful of forms (prepared once each) instead of one per length."""
    size = 1
    while size < len(items):
        size *= 2
    return items + items[-1:] * (size - len(items))


@per_dialect
def _remember_events(dialect: str) -> Any:
    table = table_of(ProcessedEventRow)
    return (
        insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(table.c.platform, table.c.event_id)
    )


@per_dialect
def _existing_papers(dialect: str) -> Any:
    return select(table_of(PaperRow).c.id).where(one_of(table_of(PaperRow).c.id, "ids", dialect))


@per_dialect
def _locked_votes(dialect: str) -> Any:
    return (
        select(_VOTES.c.id, *_KEY, _VOTES.c.value, _VOTES.c.reactions, _VOTES.c.updated_at)
        .where(tuple_(*_KEY).in_(bindparam("keys", expanding=True)))
        .order_by(_VOTES.c.id)  # rows are locked in this order: two groups cannot deadlock on each other
        .with_for_update()
    )


@per_dialect
def _delete_votes(dialect: str) -> Any:
    return delete(_VOTES).where(one_of(_VOTES.c.id, "ids", dialect))


@per_dialect
def _update_votes(dialect: str) -> Any:
    return (
        update(_VOTES)
        .where(_VOTES.c.id == bindparam("vote_id"))
        .values(value=bindparam("new_value"), reactions=bindparam("new_reactions"), updated_at=bindparam("at"))
    )


@per_dialect
def _insert_votes(dialect: str) -> Any:
    return (
        insert_for(dialect, _VOTES)
        .on_conflict_do_nothing(index_elements=["channel_id", "paper_id", "user_id"])
        .returning(*_KEY)
    )


@per_dialect
def _tallies_of_pairs(dialect: str) -> Any:
    up = func.sum(case((_VOTES.c.value > 0, 1), else_=0))
    down = func.sum(case((_VOTES.c.value < 0, 1), else_=0))
    return (
        select(_VOTES.c.channel_id, _VOTES.c.paper_id, up, down)
        .where(tuple_(_VOTES.c.channel_id, _VOTES.c.paper_id).in_(bindparam("pairs", expanding=True)))
        .group_by(_VOTES.c.channel_id, _VOTES.c.paper_id)
    )


class VoteBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_deliveries(self, keys: Sequence[tuple[str, str]], *, now: datetime) -> set[tuple[str, str]]:
        """Remember (platform, event id) pairs; returns those not seen before."""
        if not keys:
            return set()
        rows = [{"platform": platform, "event_id": event_id, "seen_at": now} for platform, event_id in keys]
        result = await self._session.execute(_remember_events(self._session), rows)
        return {(platform, event_id) for platform, event_id in result}

    async def existing_papers(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set((await self._session.scalars(_existing_papers(self._session), {"ids": list(ids)})).all())

    async def apply_many(self, reactions: Sequence[Reaction], *, now: datetime) -> list[bool]:
        """Apply reactions in order with `transition`, reading (and locking) each vote touched once and writing
        each once. Returns, per reaction, whether it changed a tally."""
        changed = [False] * len(reactions)
        pending = list(range(len(reactions)))
        for _ in range(5):  # another writer can insert a vote between our read and our insert: read it and redo
            keys = list(dict.fromkeys(reactions[i].key for i in pending))
            before = await self._votes(keys)
            after: dict[VoteKey, Vote | None] = dict(before)
            for i in pending:
                reaction = reactions[i]
                after[reaction.key], changed[i] = transition(
                    after.get(reaction.key), reaction.value, reaction.name, removed=reaction.removed, now=now
                )
            lost = await self._write(before, after)
            if not lost:
                return changed
            pending = [i for i in pending if reactions[i].key in lost]
        raise RuntimeError("votes kept changing under a group of reactions")

    async def _votes(self, keys: list[VoteKey]) -> dict[VoteKey, Vote]:
        if not keys:
            return {}
        rows = await self._session.execute(_locked_votes(self._session), {"keys": buckets(keys)})
        return {(cid, pid, uid): Vote(vid, value, reactions, at) for vid, cid, pid, uid, value, reactions, at in rows}

    async def _write(self, before: dict[VoteKey, Vote], after: dict[VoteKey, Vote | None]) -> set[VoteKey]:
        """Write the difference; returns the keys whose insert lost a race (someone inserted that vote first)."""
        gone = [vote.id for key, vote in before.items() if after.get(key) is None]
        moved = [vote for key, vote in after.items() if vote is not None and key in before and vote != before[key]]
        new = {key: vote for key, vote in after.items() if vote is not None and key not in before}
        if gone:
            await self._session.execute(_delete_votes(self._session), {"ids": gone})
        if moved:
            changes = [
                {"vote_id": v.id, "new_value": v.value, "new_reactions": v.reactions, "at": v.updated_at} for v in moved
            ]
            await self._session.execute(_update_votes(self._session), changes)
        if not new:
            return set()
        rows = [
            {
                "channel_id": cid,
                "paper_id": pid,
                "user_id": uid,
                "value": vote.value,
                "reactions": vote.reactions,
                "updated_at": vote.updated_at,
            }
            for (cid, pid, uid), vote in new.items()
        ]
        inserted = {tuple(row) for row in await self._session.execute(_insert_votes(self._session), rows)}
        return set(new) - inserted

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]:
        """Up/down counts per (channel id, paper id), in one grouped query."""
        if not pairs:
            return {}
        rows = await self._session.execute(_tallies_of_pairs(self._session), {"pairs": buckets(list(pairs))})
        return {(cid, pid): VoteTally(int(u or 0), int(d or 0)) for cid, pid, u, d in rows}


EnsureChannel = Callable[["UnitOfWork", ChannelRef], Awaitable[Any]]
"""Returns the channel's row (with `.id`), creating it on first contact (button votes name the paper directly)."""


async def record_votes(
    uow: UnitOfWork, events: Sequence[VoteEvent], *, now: datetime, ensure_channel: EnsureChannel
) -> list[VoteTally | None]:
    """`HotPapers.record_vote` for events in arrival order, in one transaction (the caller commits): each event's
    tally once the group is applied, or None when it is ignored (a retried delivery, a message we did not post,
    a channel or paper we do not know). Bots' reactions are filtered out before."""
    batch = uow.vote_batch
    keys = list(dict.fromkeys((e.channel.platform, e.event_id[:128]) for e in events if e.event_id))
    fresh = await batch.first_deliveries(keys, now=now)
    live: list[int] = []
    for index, event in enumerate(events):
        if event.event_id:
            key = (event.channel.platform, event.event_id[:128])
            if key not in fresh:
                continue
            fresh.discard(key)  # a second copy in the same group is a retried delivery too
        live.append(index)
    channel_of: dict[int, int | None] = {}
    for index in live:
        event = events[index]
        channel_of[index] = (
            (await ensure_channel(uow, event.channel)).id if event.paper_id else await uow.channels.id_of(event.channel)
        )
    named = {events[i].paper_id for i in live if events[i].paper_id and channel_of[i] is not None}
    existing = await batch.existing_papers(sorted(p for p in named if p))
    posted = [(channel_of[i], events[i].message_id) for i in live if not events[i].paper_id and channel_of[i]]
    shown = await uow.posts.papers_of_messages(list(dict.fromkeys(posted)))  # type: ignore[arg-type]
    reactions: list[tuple[int, Reaction]] = []
    for index in live:
        event, channel_id = events[index], channel_of[index]
        if channel_id is None:
            continue
        paper_id = (event.paper_id if event.paper_id in existing else None) if event.paper_id else None
        paper_id = paper_id or (None if event.paper_id else shown.get((channel_id, event.message_id)))
        if paper_id is not None:
            reaction = Reaction(
                channel_id,
                paper_id,
                event.user_id[:64],
                event.value,
                reaction_name(event.reaction),
                event.removed,
            )
            reactions.append((index, reaction))
    await batch.apply_many([reaction for _, reaction in reactions], now=now)
    tallies = await batch.tallies_of(list(dict.fromkeys(reaction.pair for _, reaction in reactions)))
    results: list[VoteTally | None] = [None] * len(events)
    for index, reaction in reactions:
        results[index] = tallies.get(reaction.pair, VoteTally())
    return results


Write = Callable[[list[VoteEvent]], Awaitable[list[VoteTally | None]]]


class VoteQueue:
    """Groups concurrent votes: while one group is being written, the next one gathers (at most `limit`).

    Each caller awaits its own event's result; an error fails the group's events one at a time (each is retried
    alone, so only the event that fails gets the error). Events of one user on one message stay in order as long as
    the caller waits for one before sending the next, as the adapters do.
    """

    def __init__(self, write: Write, *, limit: int = 256) -> None:
        self._write = write
        self._limit = limit
        self._waiting: list[tuple[VoteEvent, asyncio.Future[VoteTally | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, event: VoteEvent) -> VoteTally | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VoteTally | None] = loop.create_future()
        self._waiting.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain(), name="vote writer")
        return await future

    async def _drain(self) -> None:
        group: list[tuple[VoteEvent, asyncio.Future[VoteTally | None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                await self._settle(group)
                group = []
        except BaseException:  # cancelled with the loop: nobody may wait forever
            for _, future in [*group, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise

    async def _settle(self, group: list[tuple[VoteEvent, asyncio.Future[VoteTally | None]]]) -> None:
        try:
            results = await self._write([event for event, _ in group])
        except Exception as error:
            if len(group) > 1:
                log.info("a group of %d votes failed (%s); writing them one by one", len(group), error)
                for item in group:
                    await self._settle([item])
                return
            if not group[0][1].done():
                group[0][1].set_exception(error)
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)
