"""The vote queue's lanes (bot/app/votes.py): groups of different messages are written at the same time, a message's
votes one group after the other and in arrival order; and how many lanes a database takes. No database: the writer
is a stand-in that records what it was given and waits where the test tells it to."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app.votes import GROUP_LIMIT, VoteQueue, lane_of
from bot.domain.model import ChannelRef, VoteEvent, VoteTally
from bot.storage.dialect import writers

HERE = ChannelRef("discord", "G1", "C1")
WAIT = 5.0
"""Seconds before a test gives up on a write that should have started: a guard against hanging, not a timing."""


def _event(message: str, user: str = "u1", value: int = 1, *, removed: bool = False) -> VoteEvent:
    return VoteEvent(HERE, user, message, value, removed=removed, reaction="👍")  # type: ignore[arg-type]


def _messages_in_lanes(lanes: int) -> list[str]:
    """One message id per lane (the first found that lands there)."""
    found: dict[int, str] = {}
    for n in range(1_000):
        found.setdefault(lane_of(_event(f"m{n}"), lanes), f"m{n}")
    return [found[lane] for lane in range(lanes)]


class GatedWriter:
    """Writes nothing: records each group it is given, and holds every write until `release` is set."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.tallied: list[list[bool]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        self.started = asyncio.Condition()

    async def __call__(self, events: list[VoteEvent], tallied: list[bool]) -> list[VoteTally | None]:
        async with self.started:
            self.groups.append([f"{e.message_id}/{e.user_id}/{e.value}/{e.removed}" for e in events])
            self.tallied.append(tallied)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.started.notify_all()
        await self.release.wait()
        self.in_flight -= 1
        return [VoteTally(1, 0) for _ in events]

    async def wait_for_groups(self, count: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: len(self.groups) >= count), WAIT)


def test_a_messages_votes_always_take_the_same_lane_and_messages_spread_over_all_lanes() -> None:
    for lanes in (2, 4):
        lane = lane_of(_event("m1"), lanes)
        assert {lane_of(_event("m1", user, value), lanes) for user in ("a", "b") for value in (1, -1)} == {lane}
        assert len({lane_of(_event(f"m{n}"), lanes) for n in range(200)}) == lanes
    buttons = [VoteEvent(HERE, "u1", f"card{n}", 1, paper_id="2010.00577") for n in range(20)]  # cards of one paper
    assert len({lane_of(button, 4) for button in buttons}) == 1
    assert lane_of(_event("m1"), 1) == 0


async def test_groups_of_different_messages_are_in_flight_at_once() -> None:
    writer = GatedWriter()
    queue = VoteQueue(writer, lanes=2)
    first, second = _messages_in_lanes(2)
    calls = [queue.submit(_event(message)) for message in (first, second)]
    await writer.wait_for_groups(2)  # both started while neither has finished
    assert writer.most_in_flight == 2
    writer.release.set()
    assert await asyncio.gather(*calls) == [VoteTally(1, 0), VoteTally(1, 0)]


async def test_one_lane_writes_one_group_at_a_time() -> None:
    writer = GatedWriter()
    queue = VoteQueue(writer, lanes=1)
    first, second = _messages_in_lanes(2)
    calls = [queue.submit(_event(first))]
    await writer.wait_for_groups(1)
    calls.append(queue.submit(_event(second)))
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(writer.groups) == 1  # the second waits for the first group to be written
    writer.release.set()
    await asyncio.gather(*calls)
    assert writer.most_in_flight == 1 and len(writer.groups) == 2


async def test_a_messages_votes_are_written_one_group_after_the_other_in_arrival_order() -> None:
    writer = GatedWriter()
    queue = VoteQueue(writer, lanes=4)
    calls = [queue.submit(_event("m1", "a"))]
    await writer.wait_for_groups(1)
    # while the first group is written, the same message's next votes gather, in the order they came
    calls += [
        queue.submit(_event("m1", "b")),
        queue.submit(_event("m1", "a", removed=True), tally=False),
        queue.submit(_event("m1", "a", -1)),
    ]
    for _ in range(10):
        await asyncio.sleep(0)
    assert writer.most_in_flight == 1 and len(writer.groups) == 1
    writer.release.set()
    await asyncio.gather(*calls)
    assert writer.groups == [["m1/a/1/False"], ["m1/b/1/False", "m1/a/1/True", "m1/a/-1/False"]]
    assert writer.tallied == [[True], [True, False, True]]  # who asked for the tally, event by event
    assert writer.most_in_flight == 1


async def test_a_failing_group_fails_only_the_event_that_fails_in_its_own_lane() -> None:
    first, second = _messages_in_lanes(2)

    async def write(events: list[VoteEvent], tallied: list[bool]) -> list[VoteTally | None]:
        if any(e.user_id == "bad" for e in events):
            raise RuntimeError("refused")
        return [VoteTally(1, 0) for _ in events]

    queue = VoteQueue(write, lanes=2)
    results = await asyncio.gather(
        queue.submit(_event(first, "bad")),
        queue.submit(_event(first, "good")),
        queue.submit(_event(second, "good")),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [VoteTally(1, 0), VoteTally(1, 0)]


async def test_a_backlog_is_written_in_groups_of_the_group_limit_in_arrival_order() -> None:
    writer = GatedWriter()
    queue = VoteQueue(writer, lanes=1)
    calls = [queue.submit(_event("m0"))]
    await writer.wait_for_groups(1)
    calls += [queue.submit(_event(f"m{n}", f"u{n}")) for n in range(1, GROUP_LIMIT + 101)]  # they wait meanwhile
    writer.release.set()
    await asyncio.gather(*calls)
    assert [len(group) for group in writer.groups] == [1, GROUP_LIMIT, 100]
    assert [entry.split("/")[0] for group in writer.groups for entry in group] == [f"m{n}" for n in range(len(calls))]


async def test_a_round_ends_when_all_its_groups_are_written_so_the_next_is_not_split_by_a_lane_finishing_first() -> (
    None
):
    """Lanes that went on as soon as their own group was written would start on whatever had come by then (a few
    events) while the other lane still writes: with callers waiting for their results, the groups would shrink
    round after round. The next round starts when the whole round is written, with everything that came."""
    slow, quick = _messages_in_lanes(2)
    writer = GatedWriter()

    async def write(events: list[VoteEvent], tallied: list[bool]) -> list[VoteTally | None]:
        if events[0].message_id == slow:
            return await writer(events, tallied)
        writer.groups.append([e.message_id for e in events])
        return [VoteTally(1, 0) for _ in events]

    queue = VoteQueue(write, lanes=2)
    first = [queue.submit(_event(slow)), queue.submit(_event(quick))]
    await writer.wait_for_groups(2)
    assert await first[1] == VoteTally(1, 0)  # the quick lane's group is written; the slow one's is not
    later = [queue.submit(_event(quick, "u2")), queue.submit(_event(quick, "u3"))]
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(writer.groups) == 2  # the quick lane waits for the round
    writer.release.set()
    await asyncio.gather(*first, *later)
    assert writer.groups[2:] == [[quick, quick]]  # one group with both


def test_a_queue_needs_a_lane() -> None:
    with pytest.raises(ValueError, match="at least one lane"):
        VoteQueue(GatedWriter(), lanes=0)


async def test_votes_take_their_lanes_on_postgresql_no_more_than_the_pool_and_one_on_sqlite() -> None:
    postgres = create_async_engine("postgresql+asyncpg://hotpapers@db.invalid/hotpapers")  # never connects
    sqlite = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert writers(postgres, 4, pool_size=5) == 4
        assert writers(postgres, 8, pool_size=3) == 3
        assert writers(sqlite, 4, pool_size=5) == 1  # one writer
    finally:
        await postgres.dispose()
        await sqlite.dispose()
