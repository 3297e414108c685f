"""Exactly-once digests on SQLite and PostgreSQL: claims, crash and resume, lease takeover, replicas racing."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bot.bootstrap import App
from bot.clock import FrozenClock
from bot.digest import ClaimLost
from bot.model import ChannelRef
from tests.conftest import SAMPLE_DAY, MakeApp
from tests.fakes.recording_publisher import RecordingPublisher, SimulatedCrash

CHANNEL = ChannelRef("discord", "G1", "C1", "#papers")
FAST = {"digest": {"backoff_seconds": 0, "lease_seconds": 60}}


async def test_a_digest_is_a_header_then_one_message_per_paper_in_rank_order(app: App) -> None:
    publisher = RecordingPublisher()
    result = await app.service.post_digest(CHANNEL, None, publisher)
    preview = await app.service.digest(ChannelRef("discord", "G1", "fresh"))
    assert result.state == "posted" and result.posted == 5
    assert publisher.said == [f"🔥 Hot papers for Friday {SAMPLE_DAY} — top 5"]
    assert publisher.published_ids() == [e.card.paper.id for e in preview.entries]
    assert [e.rank for e in publisher.published] == [1, 2, 3, 4, 5]


async def test_posting_twice_posts_once(app: App) -> None:
    publisher = RecordingPublisher()
    await app.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    again = await app.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert again.state == "done-before" and len(publisher.published) == 5 and len(publisher.said) == 1


async def test_a_crash_after_k_of_n_messages_resumes_with_the_remaining_n_minus_k(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config=FAST)
    crashing = RecordingPublisher(fail_after=2)
    with pytest.raises(SimulatedCrash):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, crashing)
    first_two = crashing.published_ids()
    restarted = await make_app(config=FAST)  # a new process on the same database
    publisher = RecordingPublisher()
    result = await restarted.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert result.state == "resumed" and (result.posted, result.skipped_already_posted) == (3, 2)
    assert publisher.said == []  # the header went out before the crash
    assert len(first_two) == 2 and not set(first_two) & set(publisher.published_ids())
    assert [e.rank for e in publisher.published] == [3, 4, 5]


async def test_reactions_map_back_to_messages_posted_before_a_crash(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config=FAST)
    crashing = RecordingPublisher(fail_after=1)
    with pytest.raises(SimulatedCrash):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, crashing)
    from bot.model import VoteEvent

    message = crashing.calls[-1].message.message_id
    tally = await app.service.record_vote(VoteEvent(CHANNEL, "u1", message, 1))
    assert tally is not None and tally.up == 1


async def test_a_live_claim_is_not_taken_but_a_dead_holders_expired_lease_is(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    app = await make_app(sample=True, config=FAST)
    async with app.uow() as uow:  # a replica claimed the digest and died before posting anything
        row = await uow.channels.ensure(CHANNEL, defaults=app.service.default_settings(), now=clock.now())
        await uow.digests.claim(row.id, SAMPLE_DAY, holder="dead-replica", now=clock.now(), lease=timedelta(seconds=60))
        await uow.commit()
    publisher = RecordingPublisher()
    held = await app.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert held.state == "held-elsewhere" and publisher.calls == []
    clock.advance(seconds=61)
    taken = await app.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert taken.state == "resumed" and taken.posted == 5 and len(publisher.said) == 1


async def test_a_stalled_publish_is_abandoned_before_its_lease_so_a_takeover_never_double_posts(
    make_app: MakeApp,
) -> None:
    config = {"digest": {"backoff_seconds": 0, "lease_seconds": 1, "publish_attempts": 1}}
    first = await make_app(sample=True, config=config)
    second = await make_app(config=config)
    stalled = RecordingPublisher(pause_after=1)  # the platform never answers the second message
    running = asyncio.create_task(first.service.post_digest(CHANNEL, SAMPLE_DAY, stalled))
    await asyncio.wait_for(stalled.paused.wait(), 10)
    other = RecordingPublisher()
    assert (await second.service.post_digest(CHANNEL, SAMPLE_DAY, other)).state == "held-elsewhere"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(running, 10)  # abandoned after half the lease, and the claim released
    stalled.resume.set()
    taken = await second.service.post_digest(CHANNEL, SAMPLE_DAY, other)
    assert taken.state == "resumed" and [e.rank for e in other.published] == [2, 3, 4, 5]
    assert [e.rank for e in stalled.published] == [1]


async def test_shutting_down_finishes_the_message_and_releases_the_claim(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config=FAST)
    other = await make_app(config=FAST)
    blocking = RecordingPublisher(pause_after=2)
    running = asyncio.create_task(app.service.post_digest(CHANNEL, SAMPLE_DAY, blocking))
    await asyncio.wait_for(blocking.paused.wait(), 10)
    app.service.stopping = True
    blocking.resume.set()
    with pytest.raises(ClaimLost):
        await asyncio.wait_for(running, 10)
    assert len(blocking.published) == 3  # the message in flight was finished
    publisher = RecordingPublisher()
    result = await other.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)  # no lease wait: it was released
    assert result.state == "resumed" and [e.rank for e in publisher.published] == [4, 5]


async def test_platform_errors_are_retried_then_recorded(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config={"digest": {"backoff_seconds": 0, "publish_attempts": 3}})

    class Flaky(RecordingPublisher):
        failures = 2

        async def publish(self, channel, entry):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                raise ConnectionError("503 from the platform")
            return await super().publish(channel, entry)

    flaky = Flaky()
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, flaky)
    assert result.posted == 5 and len(flaky.published) == 5

    class Down(RecordingPublisher):
        async def publish(self, channel, entry):  # type: ignore[no-untyped-def]
            raise ConnectionError("platform down")

    with pytest.raises(ConnectionError):
        await app.service.post_digest(ChannelRef("discord", "G1", "C2"), SAMPLE_DAY, Down())
    async with app.uow() as uow:
        row = await uow.channels.find(ChannelRef("discord", "G1", "C2"))
        assert row is not None
        last = (await uow.digests.last_for_channels([row.id]))[row.id]
        assert last.state == "claimed" and "platform down" in (last.last_error or "")


async def test_no_post_on_a_day_without_announcements_unless_the_channel_asks(app: App) -> None:
    quiet_day = date(2020, 11, 7)  # a Saturday
    silent = RecordingPublisher()
    result = await app.service.post_digest(CHANNEL, quiet_day, silent)
    assert result.state == "empty" and silent.calls == []
    loud_channel = ChannelRef("discord", "G1", "loud")
    await app.service.subscribe(loud_channel, {"announce_empty": "yes"})
    loud = RecordingPublisher()
    await app.service.post_digest(loud_channel, quiet_day, loud)
    assert loud.said == ["No new arXiv papers were announced for Saturday 2020-11-07."]


async def test_papers_posted_in_a_channel_are_not_posted_there_again(app: App) -> None:
    await app.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher())
    preview = await app.service.digest(CHANNEL, SAMPLE_DAY)
    first = {e.card.paper.id for e in (await app.service.digest(ChannelRef("discord", "G1", "x"))).entries}
    assert first.isdisjoint(e.card.paper.id for e in preview.entries) and len(preview.entries) == 5
    card = await app.service.paper(next(iter(first)), CHANNEL)
    assert [(p.channel.channel, p.day) for p in card.posted] == [("C1", SAMPLE_DAY)]


@pytest.mark.pg
async def test_two_replicas_racing_on_one_database_post_each_paper_once(make_app: MakeApp, database) -> None:  # type: ignore[no-untyped-def]
    if database.kind != "postgresql":
        pytest.skip("replicas share PostgreSQL")
    replicas = [await make_app(sample=(i == 0), config=FAST) for i in range(2)]
    channels = [ChannelRef("slack", "T1", f"C{i}") for i in range(6)]
    publishers = [RecordingPublisher("slack"), RecordingPublisher("slack")]
    jobs = [
        replica.service.post_digest(channel, SAMPLE_DAY, publisher)
        for channel in channels
        for replica, publisher in zip(replicas, publishers, strict=True)
    ]
    results = await asyncio.gather(*jobs)
    for channel in channels:
        posted = [pid for p in publishers for pid in p.published_ids(channel)]
        assert len(posted) == 5 and len(set(posted)) == 5
        headers = [c for p in publishers for c in p.calls if c.kind == "say" and c.channel == channel]
        assert len(headers) == 1
    assert sorted(r.state for r in results).count("posted") == len(channels)
