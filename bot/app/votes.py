"""The vote use case: a reaction (or its removal) becomes at most one vote per person, paper and channel (the
rules: `bot.domain.vote_rules`), and concurrent reactions are written in groups.

At a few thousand reactions a second a transaction per reaction is bound by round trips, not by the database. So
`VoteQueue` hands whatever reactions arrived while the previous group was being written to `record_votes`, which
applies them in arrival order with a constant number of statements per group (storage's `VoteBatchRepository`; on
PostgreSQL two, each on its own, without a transaction around them: read the event ids, the papers and the votes
touched; then remember the event ids, write what changed if nothing read changed meanwhile, and count the tallies).
A lone reaction is a group of one, written at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.model import Channel, ChannelRef, VoteEvent, VoteTally
from bot.domain.vote_rules import Reaction, VotesChanged, reaction_name

if TYPE_CHECKING:
    from bot.domain.ports import UnitOfWork

log = logging.getLogger(__name__)

EnsureChannel = Callable[["UnitOfWork", ChannelRef], Awaitable[Channel]]
"""Returns the channel, creating it on first contact (button votes name the paper directly)."""


ATTEMPTS = 5
"""How many times a group is read and applied while other writers keep changing its votes first (`VotesChanged`);
then its events are written one by one (`VoteQueue`)."""


async def record_votes(
    uow: UnitOfWork,
    events: Sequence[VoteEvent],
    *,
    now: datetime,
    ensure_channel: EnsureChannel,
    sync_commit: bool = True,
    tallied: Sequence[bool] | None = None,
) -> list[VoteTally | None]:
    """`HotPapers.record_vote` for events in arrival order, as one write (the caller commits): each event's tally
    once the group is applied, or None when it is ignored (a retried delivery, a message we did not post, a channel
    or paper we do not know). Bots' reactions are filtered out before. `tallied`: per event, whether its caller
    wants the tally (`HotPapers.record_reaction` does not); a paper's tally is only counted for those that do, the
    others get an empty `VoteTally` once applied (None: every event wants it).

    Two statements a group on PostgreSQL once the channels are known (they are remembered), each on its own: one
    reads which event ids are new, the papers of the messages not remembered yet and the votes touched; one
    remembers the event ids and writes the changes if nothing it read changed meanwhile, and counts the tallies
    (else the group is read and applied again). `sync_commit=False` (`[database] vote_sync_commit`): the write does
    not wait for the disk (PostgreSQL)."""
    batch = uow.vote_batch
    channel_ids = await _channel_ids(uow, events, ensure_channel)
    named = {e.paper_id for e, cid in zip(events, channel_ids, strict=True) if e.paper_id and cid is not None}
    existing = await batch.existing_papers(sorted(p for p in named if p)) if named else set()
    posted = [(cid, e.message_id) for e, cid in zip(events, channel_ids, strict=True) if cid and not e.paper_id]
    shown, missing = uow.posts.remembered_papers(list(dict.fromkeys(posted)))
    unknown_pairs = set(missing)
    candidates: dict[int, Reaction] = {}
    unknown: dict[int, tuple[int, str, str]] = {}  # events on messages whose paper is looked up with the votes
    for index, (event, channel_id) in enumerate(zip(events, channel_ids, strict=True)):
        if channel_id is None:
            continue
        if event.paper_id:
            if event.paper_id in existing:
                candidates[index] = _reaction(event, channel_id, event.paper_id)
        elif (channel_id, event.message_id) in unknown_pairs:
            unknown[index] = (channel_id, event.message_id, event.user_id[:64])
        else:
            candidates[index] = _reaction(event, channel_id, shown[(channel_id, event.message_id)])
    keys = list(dict.fromkeys((e.channel.platform, e.event_id[:128]) for e in events if e.event_id))
    locks = [r.key for r in candidates.values()]
    await uow.commit()  # what the look-ups wrote (a channel met for the first time) is kept whatever comes next
    for attempt in range(1, ATTEMPTS + 1):
        fresh, before, found = await batch.remember_and_lock(
            keys, locks, unknown=list(unknown.values()), now=now, sync_commit=sync_commit
        )
        reactions = _first_deliveries(events, candidates, unknown, found, fresh)
        counted = None if tallied is None else {reaction.pair for index, reaction in reactions if tallied[index]}
        try:
            _, tallies = await batch.apply_many(
                [reaction for _, reaction in reactions], now=now, before=before, counted=counted
            )
        except VotesChanged:
            if attempt == ATTEMPTS:
                raise
            log.info("the votes of a group of %d changed before its write; reading them again", len(events))
            continue
        results: list[VoteTally | None] = [None] * len(events)
        for index, reaction in reactions:
            results[index] = tallies.get(reaction.pair, VoteTally())
        return results
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _channel_ids(uow: UnitOfWork, events: Sequence[VoteEvent], ensure_channel: EnsureChannel) -> list[int | None]:
    """Each event's channel row id (None: a channel we have never seen, for a reaction), each channel looked up once
    a group (by its key, not the `ChannelRef`: hashing the dataclass per event costs more than the look-up)."""
    known: dict[tuple[str, str, str, bool], int | None] = {}
    ids: list[int | None] = []
    for event in events:
        channel = event.channel
        key = (channel.platform, channel.workspace, channel.channel, bool(event.paper_id))
        if key not in known:
            known[key] = (
                (await ensure_channel(uow, channel)).id if event.paper_id else await uow.channels.id_of(channel)
            )
        ids.append(known[key])
    return ids


def _first_deliveries(
    events: Sequence[VoteEvent],
    candidates: dict[int, Reaction],
    unknown: dict[int, tuple[int, str, str]],
    found: dict[tuple[int, str], str],
    fresh: set[tuple[str, str]],
) -> list[tuple[int, Reaction]]:
    """The group's reactions to apply, in arrival order, with their events' indexes: those on our posts (`found`:
    the papers of the messages looked up with the votes), less retried deliveries (an event id not `fresh`, or
    seen earlier in the group)."""
    fresh = set(fresh)
    reactions: list[tuple[int, Reaction]] = []
    for index, event in enumerate(events):
        if event.event_id:
            key = (event.channel.platform, event.event_id[:128])
            if key not in fresh:
                continue
            fresh.discard(key)  # a second copy in the same group is a retried delivery too
        reaction = candidates.get(index)
        if reaction is None and index in unknown:
            channel_id, message_id, _ = unknown[index]
            paper_id = found.get((channel_id, message_id))
            reaction = None if paper_id is None else _reaction(event, channel_id, paper_id)
        if reaction is not None:
            reactions.append((index, reaction))
    return reactions


def _reaction(event: VoteEvent, channel_id: int, paper_id: str) -> Reaction:
    return Reaction(channel_id, paper_id, event.user_id[:64], event.value, reaction_name(event.reaction), event.removed)


GROUP_LIMIT = 1024
"""Most events in one group. A burst of reactions (a task per event, as the gateway and Slack's requests hand them
over) is written in groups this large: each group costs two round trips and a commit whatever its size, and at 256
those were a fifth of the time per event more (bench/RESULTS.md, "votes2"); beyond 1,024 nothing more was gained."""


Write = Callable[[list[VoteEvent], list[bool]], Awaitable[list[VoteTally | None]]]
"""Writes a group: its events in arrival order and, per event, whether its caller wants the tally."""


def lane_of(event: VoteEvent, lanes: int) -> int:
    """The lane of an event: every event on one message (a button vote: on one paper) of one channel takes the same
    lane, so they are written in arrival order, one group after the other; other messages spread over the lanes."""
    if lanes == 1:
        return 0
    channel = event.channel
    target = ("paper", event.paper_id) if event.paper_id else ("message", event.message_id)  # a button: its paper
    return hash((channel.platform, channel.workspace, channel.channel, target)) % lanes  # this process's hash


class VoteQueue:
    """Groups concurrent votes and writes them in rounds: a round takes what is waiting (at most `limit` events a
    lane) and splits it into up to `lanes` groups by message (`lane_of`), written at the same time, each on its own
    connection (on PostgreSQL their commits then share WAL flushes, and one group's statements run while the
    process prepares the next); the next round gathers meanwhile and starts when the whole round is written. So two
    groups in flight never hold votes of the same message, and a message's events are written in the order they
    were submitted even when their callers do not wait for each other (Slack's events arrive as concurrent
    requests); and a round is as large as what came while the previous one was written, never split further by
    lanes finishing at different times. Votes of one paper reached through two messages, or another replica, are
    kept exact by the writes themselves (row locks on SQLite; on PostgreSQL a group is written only if what it read
    is unchanged, else read again: `record_votes`).

    Each caller awaits its own event's result; an error fails the group's events one at a time (each is retried
    alone, so only the event that fails gets the error). Events of one user on one message stay in order as long as
    the caller waits for one before sending the next, as the adapters do.
    """

    def __init__(self, write: Write, *, limit: int = GROUP_LIMIT, lanes: int = 1) -> None:
        if lanes < 1:
            raise ValueError("a vote queue needs at least one lane")
        self._write = write
        self._limit = limit
        self._lanes = lanes
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    @property
    def lanes(self) -> int:
        return self._lanes

    def submit(self, event: VoteEvent, *, tally: bool = True) -> asyncio.Future[VoteTally | None]:
        """Queue an event; the future is its result (`record_votes`) once its group is written. `tally=False`: the
        caller does not want the paper's tally, which is then not counted for it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VoteTally | None] = loop.create_future()
        self._waiting.append((event, tally, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain(), name="vote writer")
        return future

    async def _drain(self) -> None:
        taken: list[_Waiting] = []
        most = self._limit * self._lanes
        try:
            while self._waiting:
                taken, self._waiting = self._waiting[:most], self._waiting[most:]
                groups: list[list[_Waiting]] = [[] for _ in range(self._lanes)]
                for item in taken:
                    groups[lane_of(item[0], self._lanes)].append(item)
                await asyncio.gather(*(self._settle(group) for group in groups if group))
                taken = []
        except BaseException:  # cancelled with the loop: nobody may wait forever
            for _, _, future in [*taken, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise

    async def _settle(self, group: list[_Waiting]) -> None:
        try:
            results = await self._write([event for event, _, _ in group], [tally for _, tally, _ in group])
        except Exception as error:
            if len(group) > 1:
                log.info("a group of %d votes failed (%s); writing them one by one", len(group), error)
                for item in group:
                    await self._settle([item])
                return
            if not group[0][2].done():
                group[0][2].set_exception(error)
            return
        for (_, _, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)


_Waiting = tuple[VoteEvent, bool, "asyncio.Future[VoteTally | None]"]
"""A queued event, whether its caller wants the tally, and the future its caller awaits."""
