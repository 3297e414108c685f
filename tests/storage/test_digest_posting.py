"""Exactly-once digests on SQLite and PostgreSQL: claims, crash and resume, lease takeover, replicas racing."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import event

from bot.app.digest import ClaimLost
from bot.domain.clock import FrozenClock
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import ChannelRef, PostedMessage
from bot.domain.records import PlanEntry
from bot.runtime.bootstrap import App
from bot.runtime.runner import print_status
from tests.conftest import SAMPLE_DAY, MakeApp
from tests.fakes.recording_publisher import MemoryPlatform, RecordingPublisher, Shown, SimulatedCrash, refused

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
    from bot.domain.model import VoteEvent

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


async def test_platform_errors_are_retried_then_recorded(make_app: MakeApp, clock: FrozenClock) -> None:
    app = await make_app(sample=True, config={"digest": {"backoff_seconds": 1}})
    flaky = RecordingPublisher(script=[ConnectionError("reset by peer"), UpstreamUnavailable("503"), "ok"])
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, flaky)
    assert result.posted == 5 and len(flaky.published) == 5 and flaky.attempts == 7
    assert clock.slept == [1, 2]  # exponential backoff, on the clock


async def test_an_error_after_the_platform_took_the_message_does_not_post_it_twice(app: App) -> None:
    lossy = RecordingPublisher(script=["ok", "lost", "lost"])  # 503s whose messages exist all the same
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, lossy)
    assert result.posted == 5 and lossy.attempts == 5  # each lost answer was looked up, found, and adopted
    assert set(lossy.world.copies(CHANNEL).values()) == {1} and len(lossy.world.visible(CHANNEL)) == 6
    await _recorded_ids_are_the_visible_ones(app, lossy)


async def test_a_long_429_keeps_the_claim_and_the_digest_completes(make_app: MakeApp, clock: FrozenClock) -> None:
    app = await make_app(sample=True, config={"digest": {"backoff_seconds": 1, "lease_seconds": 60}})
    other = await make_app(config={"digest": {"lease_seconds": 60}})
    limited = RecordingPublisher(script=["ok", UpstreamUnavailable("429", retry_after=600.0)])
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, limited)
    assert result.posted == 5 and sum(clock.slept) == 600 and max(clock.slept) <= 20  # renewed every 20 s
    assert limited.world.finds == 0  # a 429 is a refusal: nothing to look up
    assert (await other.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher())).state == "done-before"


async def test_transient_errors_are_retried_until_the_channels_day_is_over(make_app: MakeApp, clock: FrozenClock):
    clock.set(datetime(2020, 11, 7, 23, 0, tzinfo=UTC))
    app = await make_app(sample=True, config={"digest": {"backoff_seconds": 60, "backoff_max_seconds": 600}})
    down = RecordingPublisher(script=[UpstreamUnavailable("502")] * 1000)
    with pytest.raises(UpstreamUnavailable):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, down)
    assert clock.now() <= datetime(2020, 11, 8, tzinfo=UTC) and sum(clock.slept) >= 45 * 60
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(CHANNEL)
        assert channel_id is not None
        last = (await uow.digests.last_for_channels([channel_id]))[channel_id]
    assert last.state == "claimed" and "502" in (last.last_error or "")
    clock.advance(hours=2)  # the platform is back: the next run (tomorrow's job, or a retry) finishes it
    back = RecordingPublisher(world=down.world)
    assert (await app.service.post_digest(CHANNEL, SAMPLE_DAY, back)).state == "resumed"
    assert len(down.world.copies(CHANNEL)) == 6


async def test_a_crash_between_a_message_and_its_record_resumes_without_a_duplicate(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config=FAST)
    dying = RecordingPublisher(script=["ok", "ok", "killed"])  # the third message exists; its record never does
    with pytest.raises(SimulatedCrash):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, dying)
    restarted = await make_app(config=FAST)
    publisher = RecordingPublisher(world=dying.world)
    result = await restarted.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert result.state == "resumed" and result.posted == 2 and result.skipped_already_posted == 2
    assert [e.rank for e in publisher.published] == [4, 5]  # rank 3 was found on the platform and adopted
    assert set(dying.world.copies(CHANNEL).values()) == {1} and len(dying.world.copies(CHANNEL)) == 6
    await _recorded_ids_are_the_visible_ones(restarted, publisher)


async def test_a_stalled_holder_that_lost_its_claim_records_nothing_and_removes_its_late_copy(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    stalled = RecordingPublisher(pause_after=1)  # like SIGSTOP in the middle of the second message
    running = asyncio.create_task(first.service.post_digest(CHANNEL, SAMPLE_DAY, stalled))
    await asyncio.wait_for(stalled.paused.wait(), 10)
    held = await second.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher(world=stalled.world))
    assert held.state == "held-elsewhere" and (held.skipped_already_posted, held.planned) == (1, 5)
    assert held.held_until is not None and held.held_until > clock.now()
    clock.advance(seconds=61)  # its lease runs out; the other replica takes over and finishes
    taker = RecordingPublisher(world=stalled.world)
    taken = await second.service.post_digest(CHANNEL, SAMPLE_DAY, taker)
    assert taken.state == "resumed" and [e.rank for e in taker.published] == [2, 3, 4, 5]
    stalled.resume.set()  # SIGCONT: its request goes out and the platform takes it…
    with pytest.raises(ClaimLost):
        await asyncio.wait_for(running, 10)
    world = stalled.world  # …but it records nothing, and removes its copy: the new holder recorded another
    assert len(stalled.published) == 2 and world.deletes == 1
    assert set(world.copies(CHANNEL).values()) == {1} and len(world.copies(CHANNEL)) == 6
    await _recorded_ids_are_the_visible_ones(second, taker)


async def test_a_late_copy_left_while_the_new_holder_was_stalled_too_is_removed_when_it_finishes(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    """Two stalls in a row: the old holder's late copy lands while the new holder is itself frozen mid-send, so the
    old one gives up waiting for a record and leaves its copy; the new holder, having taken over, looks its keys
    up again before it finishes and removes the copy nobody recorded."""
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    stalled = RecordingPublisher(pause_after=1)  # frozen in the middle of the second message
    running = asyncio.create_task(first.service.post_digest(CHANNEL, SAMPLE_DAY, stalled))
    await asyncio.wait_for(stalled.paused.wait(), 10)
    clock.advance(seconds=61)
    taker = RecordingPublisher(world=stalled.world, pause_after=0)  # frozen too, in its first message (rank 2)
    taking = asyncio.create_task(second.service.post_digest(CHANNEL, SAMPLE_DAY, taker))
    await asyncio.wait_for(taker.paused.wait(), 10)
    stalled.resume.set()  # the old holder's copy of rank 2 lands; nobody has recorded rank 2 yet
    with pytest.raises(ClaimLost):
        await asyncio.wait_for(running, 10)
    world = stalled.world
    assert world.deletes == 0  # it waited a lease for a record that did not come, and left its copy
    taker.resume.set()
    taken = await asyncio.wait_for(taking, 10)
    assert taken.state == "resumed" and [e.rank for e in taker.published] == [2, 3, 4, 5]
    assert world.deletes == 1  # the finishing holder found the extra copy by its key
    assert set(world.copies(CHANNEL).values()) == {1} and len(world.copies(CHANNEL)) == 6
    await _recorded_ids_are_the_visible_ones(second, taker)


async def test_a_holder_frozen_between_an_intent_and_its_send_sends_nothing_once_taken_over(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    """SIGSTOP after the record of entry 1 (which writes entry 2's intent) and before entry 2 is sent: woken after
    its lease, the old holder renews its lease before sending — fenced, so it learns it was taken over and sends
    nothing, instead of a late copy someone would have to find and delete."""
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    publisher = RecordingPublisher()
    frozen, thaw = asyncio.Event(), asyncio.Event()
    poster = first.service._poster  # freeze where a signal can: after a commit, before the next send
    real = poster._uow

    def freezing() -> Any:
        uow = real()
        commit = uow.commit

        async def commit_then_freeze() -> None:
            await commit()
            if len(publisher.published) == 1 and not frozen.is_set():
                frozen.set()
                await thaw.wait()

        uow.commit = commit_then_freeze  # type: ignore[method-assign]
        return uow

    poster._uow = freezing
    running = asyncio.create_task(first.service.post_digest(CHANNEL, SAMPLE_DAY, publisher))
    await asyncio.wait_for(frozen.wait(), 10)
    clock.advance(seconds=61)
    taker = RecordingPublisher(world=publisher.world)
    taken = await second.service.post_digest(CHANNEL, SAMPLE_DAY, taker)
    assert taken.state == "resumed" and [e.rank for e in taker.published] == [2, 3, 4, 5]
    thaw.set()
    with pytest.raises(ClaimLost):
        await asyncio.wait_for(running, 10)
    assert [e.rank for e in publisher.published] == [1] and publisher.world.deletes == 0
    assert set(publisher.world.copies(CHANNEL).values()) == {1} and len(publisher.world.copies(CHANNEL)) == 6
    await _recorded_ids_are_the_visible_ones(second, taker)


async def test_a_takeover_adopts_the_copy_a_stalled_holder_got_out(make_app: MakeApp, clock: FrozenClock) -> None:
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    lossy = RecordingPublisher(script=["ok", "killed"])  # its 2nd message exists; then it dies
    with pytest.raises(SimulatedCrash):
        await first.service.post_digest(CHANNEL, SAMPLE_DAY, lossy)
    clock.advance(seconds=61)
    taker = RecordingPublisher(world=lossy.world)
    result = await second.service.post_digest(CHANNEL, SAMPLE_DAY, taker)
    assert result.state == "resumed" and [e.rank for e in taker.published] == [3, 4, 5]
    assert set(lossy.world.copies(CHANNEL).values()) == {1}
    await _recorded_ids_are_the_visible_ones(second, taker)


async def test_extra_copies_nobody_recorded_are_deleted_on_resume(make_app: MakeApp, clock: FrozenClock) -> None:
    app = await make_app(sample=True, config=FAST)
    world = MemoryPlatform()
    crashing = RecordingPublisher(world=world, fail_after=3)
    with pytest.raises(SimulatedCrash):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, crashing)
    recorded = crashing.calls[2].message  # a copy of rank 2 that some lost process posted and nobody recorded
    stray = PostedMessage(CHANNEL, "stray-1")
    world.messages[stray.message_id] = Shown(stray.message_id, CHANNEL, crashing.calls[2].key, "copy")
    restarted = await make_app(config=FAST)
    publisher = RecordingPublisher(world=world)
    await restarted.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    assert world.messages["stray-1"].deleted and not world.messages[recorded.message_id].deleted
    assert set(world.copies(CHANNEL).values()) == {1}


async def test_a_message_the_platform_refuses_for_good_is_skipped_and_the_rest_goes_on(app: App) -> None:
    picky = RecordingPublisher(script=["ok", refused("message", "Discord refused one message (50035)")])
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, picky)
    assert result.state == "posted" and result.posted == 4 and [e.rank for e in picky.published] == [1, 3, 4, 5]
    assert (await app.service.settings(CHANNEL)).paused is None
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(CHANNEL)
        assert channel_id is not None
        last = (await uow.digests.last_for_channels([channel_id]))[channel_id]
    assert last.state == "done"


async def test_a_dead_channel_is_paused_told_once_and_not_hammered(app: App, clock: FrozenClock) -> None:
    await app.service.subscribe(CHANNEL, {}, by="U-admin")
    gone = RecordingPublisher(script=[refused("channel", "hotpapers is not a member of #papers")] * 3)
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, gone)
    assert result.state == "paused" and result.pause is not None and result.pause.scope == "channel"
    settings = await app.service.settings(CHANNEL)
    assert settings.paused is not None and "not a member" in settings.paused.reason and settings.subscribed
    notice = gone.said[-1]
    assert "paused the daily digest" in notice and "do something" in notice
    attempts = gone.attempts
    again = await app.service.post_digest(CHANNEL, SAMPLE_DAY, gone)  # a catch-up, a restart, a retry: no request
    assert again.state == "paused" and gone.attempts == attempts and len(gone.calls) == 2
    clock.advance(hours=21)  # the daily retry: one request, still refused, nobody told twice
    assert (await app.service.post_digest(CHANNEL, SAMPLE_DAY, gone)).state == "paused"
    assert gone.attempts == attempts + 1 and len(gone.said) == 2  # the header of today's run, no second notice
    clock.advance(hours=21)  # access is back: the next daily run resumes it by itself
    back = RecordingPublisher(world=gone.world)
    assert (await app.service.post_digest(CHANNEL, SAMPLE_DAY, back)).state == "resumed"
    assert (await app.service.settings(CHANNEL)).paused is None and len(back.published) == 5


async def test_subscribing_again_lifts_a_pause_at_once(app: App) -> None:
    gone = RecordingPublisher(script=[refused("channel")])
    await app.service.post_digest(CHANNEL, SAMPLE_DAY, gone)
    assert (await app.service.settings(CHANNEL)).paused is not None
    await app.service.subscribe(CHANNEL, {})
    assert (await app.service.settings(CHANNEL)).paused is None
    assert (await app.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher())).state == "resumed"


async def test_a_revoked_token_pauses_every_channel_of_that_workspace_only(app: App) -> None:
    here, there, elsewhere = (
        ChannelRef("slack", "T1", "C1"),
        ChannelRef("slack", "T1", "C2"),
        ChannelRef("slack", "T2", "C3"),
    )
    for channel in (here, there, elsewhere):
        await app.service.subscribe(channel, {})
    revoked = RecordingPublisher("slack", script=[refused("workspace", "Slack refuses the app's token")])
    result = await app.service.post_digest(here, SAMPLE_DAY, revoked)
    assert result.state == "paused" and revoked.said == [f"🔥 Hot papers for Friday {SAMPLE_DAY} — top 5"]
    assert [(await app.service.settings(c)).paused is not None for c in (here, there, elsewhere)] == [
        True,
        True,
        False,
    ]
    assert (await app.service.post_digest(there, SAMPLE_DAY, revoked)).state == "paused" and revoked.attempts == 1


async def test_a_posted_card_shows_the_channels_why_line_like_the_preview(make_app: MakeApp) -> None:
    app = await make_app(sample=True, config=FAST)
    preview = await app.service.digest(ChannelRef("discord", "G1", "fresh"))
    author = preview.entries[2].card.paper.authors[0]
    await app.service.subscribe(CHANNEL, {"authors": author})
    preview = await app.service.digest(CHANNEL, SAMPLE_DAY)
    followed = next(e for e in preview.entries if any("follows" in part for part in e.card.why))
    crashing = RecordingPublisher(fail_after=followed.rank - 1)
    with pytest.raises(SimulatedCrash):
        await app.service.post_digest(CHANNEL, SAMPLE_DAY, crashing)
    publisher = RecordingPublisher(world=crashing.world)
    await (await make_app(config=FAST)).service.post_digest(CHANNEL, SAMPLE_DAY, publisher)  # resumed: rebuilt
    posted = [*crashing.published, *publisher.published]
    assert [(e.card.paper.id, e.card.why, e.card.score) for e in posted] == [
        (e.card.paper.id, e.card.why, e.card.score) for e in preview.entries
    ]


async def _recorded_ids_are_the_visible_ones(app: App, publisher: RecordingPublisher) -> None:
    """Every message the database records for CHANNEL is one the platform shows, and vice versa."""
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(CHANNEL)
        assert channel_id is not None
        digest = (await uow.digests.last_for_channels([channel_id]))[channel_id]
        assert digest.state == "done"
        claim = await uow.digests.claim(
            channel_id, digest.day, holder="probe", now=app.clock.now(), lease=timedelta(seconds=1)
        )
        planned = await uow.posts.planned(claim.digest_id)
        header, _ = await uow.digests.header_of(claim.digest_id)
    recorded = {p.message_id for p in planned} | {header}
    assert recorded == {m.message_id for m in publisher.world.visible(CHANNEL)}


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


async def test_digests_starting_together_send_every_channels_first_message_before_any_channels_second(
    make_app: MakeApp,
) -> None:
    """Many channels sharing a post time: the runs already posting let the others start first, so every channel's
    digest has begun (its header is out) before any channel gets its second message. Six channels, two in their
    database phase at once (pool_size 4); each digest complete and exactly once."""
    app = await make_app(sample=True, config={"database": {"pool_size": 4}})
    channels = [ChannelRef("slack", "T1", f"C{n}") for n in range(6)]
    publisher = RecordingPublisher("slack")

    results = await asyncio.gather(*(app.service.post_digest(c, SAMPLE_DAY, publisher) for c in channels))

    kinds = [call.kind for call in publisher.calls]
    assert kinds == ["say"] * 6 + ["publish"] * 30
    assert sorted(call.channel.channel for call in publisher.calls[:6]) == sorted(c.channel for c in channels)
    assert [(r.state, r.posted) for r in results] == [("posted", 5)] * 6
    for channel in channels:
        assert len(set(publisher.published_ids(channel))) == 5


@contextlib.contextmanager
def _connections_held(app: App) -> Iterator[Callable[[], int]]:
    """Inside: the most connections the app's pool has had checked out at once so far (the callable)."""
    pool = app.engine.sync_engine.pool
    held, most = 0, 0

    def checked_out(*_: Any) -> None:
        nonlocal held, most
        held += 1
        most = max(most, held)

    def checked_in(*_: Any) -> None:
        nonlocal held
        held -= 1

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)
    try:
        yield lambda: most
    finally:
        event.remove(pool, "checkout", checked_out)
        event.remove(pool, "checkin", checked_in)


async def test_digests_starting_together_take_at_most_half_the_pool_and_never_its_overflow(make_app: MakeApp) -> None:
    """Twelve channels sharing a post time with a pool of 4: two digests in their database phase at once (the
    channel, the claim, the plan), so the starts never hold more connections than the pool keeps — an overflow
    connection is closed as soon as it is given back, and a fan-out through it opened one per start. Each header
    waits until all twelve are asked for, so the count covers every start and nothing else."""
    app = await make_app(sample=True, config={"database": {"pool_size": 4}})
    channels = [ChannelRef("slack", "T1", f"C{n}") for n in range(12)]

    class HeadersTogether(RecordingPublisher):
        asked = 0
        all_asked = asyncio.Event()

        async def say(self, channel: ChannelRef, text: str, *, key: Any = None) -> PostedMessage:
            self.asked += 1
            if self.asked == len(channels):
                self.all_asked.set()
            await self.all_asked.wait()
            return await super().say(channel, text, key=key)

    publisher = HeadersTogether("slack")
    with _connections_held(app) as most:
        posting = asyncio.gather(*(app.service.post_digest(c, SAMPLE_DAY, publisher) for c in channels))
        await asyncio.wait_for(publisher.all_asked.wait(), 30)
        starts_most = most()
        results = await posting

    assert starts_most <= 2
    assert [(r.state, r.posted) for r in results] == [("posted", 5)] * 12


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


async def test_when_the_channel_cannot_hear_it_the_admin_who_subscribed_is_told_privately(app: App) -> None:
    await app.service.subscribe(CHANNEL, {}, by="U-admin")

    class Gone(RecordingPublisher):
        async def say(self, channel, text, *, key=None):  # type: ignore[no-untyped-def]
            raise refused("channel", "hotpapers cannot see #papers")

    gone = Gone()
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, gone)
    assert result.state == "paused" and len(gone.admin_notes) == 1
    admin, note = gone.admin_notes[0]
    assert admin == "U-admin" and "hotpapers cannot see #papers" in note and "Subscribe the channel again" in note


async def test_status_shows_a_paused_channel_with_its_reason_and_fix(app: App, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await app.service.subscribe(CHANNEL, {})
    await app.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher(script=[refused("channel", "gone away")]))
    output = io.StringIO()
    await print_status(app.config, Console(file=output, width=200))
    shown = output.getvalue()
    assert "PAUSED since 2020-11-07 09:00 UTC: gone away" in shown and "to fix it: do something" in shown


async def test_the_headers_record_renews_the_lease_and_tells_recorded_taken_and_fence_lost_apart(
    app: App, clock: FrozenClock
) -> None:
    """`record_header` with a renewal is one statement: it renews the lease whenever the fence holds, fills the
    header's slot only when empty, and says which of the three it was."""
    await app.service.subscribe(CHANNEL, {})
    until = clock.now() + timedelta(minutes=10)
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(CHANNEL)
        assert channel_id is not None
        claim = await uow.digests.claim(
            channel_id, SAMPLE_DAY, holder="me", now=clock.now(), lease=timedelta(minutes=1)
        )
        await uow.commit()
    digest, fence = claim.digest_id, claim.fence
    async with app.uow() as uow:
        await uow.one_statement()
        assert await uow.digests.record_header(digest, fence + 1, "m-0", until=until) == "fence-lost"
    async with app.uow() as uow:
        await uow.one_statement()
        assert await uow.digests.record_header(digest, fence, "m-1", until=until) == "recorded"
    async with app.uow() as uow:
        await uow.one_statement()
        assert await uow.digests.record_header(digest, fence, "m-2", until=until + timedelta(minutes=1)) == "taken"
    async with app.uow() as uow:
        assert (await uow.digests.header_of(digest))[0] == "m-1"
        taken = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="other", now=until, lease=timedelta(minutes=1))
    assert taken.outcome == "held-elsewhere"  # the last record renewed the lease past `until`


async def test_a_digest_in_a_renamed_channel_stores_the_new_name(app: App) -> None:
    """The digest's start reads a stored channel without a transaction; a channel whose name changed is written."""
    await app.service.subscribe(CHANNEL, {})
    renamed = ChannelRef(CHANNEL.platform, CHANNEL.workspace, CHANNEL.channel, "#papers-renamed")
    assert (await app.service.post_digest(renamed, SAMPLE_DAY, RecordingPublisher())).state == "posted"
    async with app.uow() as uow:
        row = await uow.channels.find(CHANNEL)
    assert row is not None and row.ref.name == "#papers-renamed"


async def test_a_new_digests_claim_is_one_statement_and_a_takeover_reads_its_fence_from_its_own_update(
    app: App, clock: FrozenClock
) -> None:
    """A new digest's claim is one statement (`INSERT … RETURNING`), so the poster runs it without a transaction;
    a takeover's fence, header and lease come back from its own UPDATE, never from a later read that another
    holder's takeover could have overtaken."""
    await app.service.subscribe(CHANNEL, {})
    statements: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(app.engine.sync_engine, "before_cursor_execute", executed)
    try:
        async with app.uow() as uow:
            channel_id = await uow.channels.id_of(CHANNEL)
            assert channel_id is not None
        statements.clear()
        async with app.uow() as uow:
            await uow.one_statement()
            first = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="a", now=clock.now(), lease=timedelta(1))
        assert (first.outcome, first.fence, statements) == ("new", 1, ["INSERT"])
        async with app.uow() as uow:
            await uow.one_statement()
            assert await uow.digests.record_header(first.digest_id, 1, "m-1", until=None) == "recorded"
        later = clock.now() + timedelta(days=2)  # the lease ran out
        statements.clear()
        async with app.uow() as uow:
            await uow.one_statement()
            taken = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="b", now=later, lease=timedelta(hours=1))
        assert statements[-1] == "UPDATE"  # nothing read after it
        assert (taken.outcome, taken.fence, taken.header_message_id) == ("resumed", 2, "m-1")
        assert taken.lease_until == later + timedelta(hours=1)
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", executed)


async def test_a_plan_is_stored_with_the_leases_renewal_and_the_headers_intent_only_while_the_fence_holds(
    app: App, clock: FrozenClock
) -> None:
    """`plan_fenced` (one statement on PostgreSQL): with a lost fence nothing is stored and the lease is left as
    it was; with the fence, the entries (score and why-line included), the renewed lease and the header's intent."""
    await app.service.subscribe(CHANNEL, {})
    papers = [entry.card.paper.id for entry in (await app.service.digest(CHANNEL, SAMPLE_DAY)).entries[:2]]
    entries = [PlanEntry(rank, papers[rank - 1], 1, rank == 2, 3.5 - rank, (f"HF {rank}", "·")) for rank in (1, 2)]
    until = clock.now() + timedelta(minutes=10)
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(CHANNEL)
        assert channel_id is not None
        claim = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="me", now=clock.now(), lease=timedelta(1))
        await uow.commit()
    async with app.uow() as uow:
        lost = await uow.posts.plan_fenced(
            claim.digest_id, claim.fence + 1, channel_id, SAMPLE_DAY, entries, until=until, header_intent=clock.now()
        )
        await uow.commit()
    assert lost is None
    async with app.uow() as uow:
        assert await uow.posts.planned(claim.digest_id) == []
        other = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="other", now=clock.now(), lease=timedelta(1))
        assert (other.outcome, other.lease_until) == ("held-elsewhere", claim.lease_until)  # not renewed
    statements: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", executed)
    try:
        async with app.uow() as uow:
            stored = await uow.posts.plan_fenced(
                claim.digest_id, claim.fence, channel_id, SAMPLE_DAY, entries, until=until, header_intent=clock.now()
            )
            await uow.commit()
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", executed)
    if app.engine.dialect.name == "postgresql":
        assert len(statements) == 1  # SQLite: the renewal, then the entries, in the transaction
    async with app.uow() as uow:
        planned = await uow.posts.planned(claim.digest_id)
        resumed = await uow.digests.claim(channel_id, SAMPLE_DAY, holder="me", now=clock.now(), lease=timedelta(1))
    assert stored == planned
    assert [(p.rank, p.paper_id, p.updated, p.score, p.why, p.open) for p in planned] == [
        (1, papers[0], False, 2.5, ("HF 1", "·"), True),
        (2, papers[1], True, 1.5, ("HF 2", "·"), True),
    ]
    assert resumed.header_intent and resumed.outcome == "resumed"


@pytest.mark.pg
async def test_a_new_digests_start_on_postgresql_runs_no_transaction(  # type: ignore[no-untyped-def]
    app: App, database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The channel's read, the claim and the plan (its reads, then the plan with the lease's renewal and the
    header's intent in one statement) each commit by themselves: no BEGIN and COMMIT round trips before the header
    goes out, and the digest is still posted exactly once."""
    if database.kind != "postgresql":
        pytest.skip("SQLite stores the plan in a transaction: two statements")
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    await app.service.subscribe(CHANNEL, {})
    begun: list[str] = []
    start = AsyncAdapt_asyncpg_connection._start_transaction

    async def counted(self: Any) -> None:
        if self.isolation_level != "autocommit":  # the adapter starts none in autocommit
            begun.append("BEGIN")
        await start(self)

    class Noting(RecordingPublisher):
        before_header: int | None = None

        async def say(self, channel: ChannelRef, text: str, *, key: Any = None) -> PostedMessage:
            self.before_header = len(begun) if self.before_header is None else self.before_header
            return await super().say(channel, text, key=key)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", counted)
    publisher = Noting("slack")
    result = await app.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)

    assert (result.state, result.posted, publisher.before_header) == ("posted", 5, 0)
    assert len(publisher.calls) == 6


async def test_digests_starting_together_read_what_each_channel_was_sent_and_the_cards_parts_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new plan changes only its own channel's posted versions and shows on no card (its rows have no message
    yet): six channels starting together read the versions posted everywhere once, and their cards' summaries and
    postings once per start in the database phase at once, not once per channel planned before them. A channel's
    next preview, after its own plan, reads them again and leaves out what was just posted there."""
    from bot.storage.card_parts import CardPartsRepository
    from bot.storage.posts import PostRepository

    reads = {"posted": 0, "cards": 0}
    everywhere, parts = PostRepository.posted_versions_everywhere, CardPartsRepository.read

    async def posted_versions_everywhere(self: PostRepository, paper_ids: Any) -> dict[int, dict[str, int]]:
        reads["posted"] += 1
        return await everywhere(self, paper_ids)

    async def read(self: CardPartsRepository, papers: Any) -> Any:
        reads["cards"] += 1
        return await parts(self, papers)

    channels = [ChannelRef("slack", "T1", f"C{n}") for n in range(6)]
    for channel in channels:
        await app.service.subscribe(channel, {})
    monkeypatch.setattr(PostRepository, "posted_versions_everywhere", posted_versions_everywhere)
    monkeypatch.setattr(CardPartsRepository, "read", read)
    publisher = RecordingPublisher("slack")

    results = await asyncio.gather(*(app.service.post_digest(c, SAMPLE_DAY, publisher) for c in channels))

    assert [(r.state, r.posted) for r in results] == [("posted", 5)] * 6
    # the two starts in their database phase at once (half the pool of 5) may both miss the cards' parts
    assert reads["posted"] == 1 and reads["cards"] <= 2
    posted = set(publisher.published_ids(channels[0]))
    again = await app.service.digest(channels[0], SAMPLE_DAY)
    assert reads["posted"] == 2 and posted.isdisjoint(e.card.paper.id for e in again.entries)


async def test_a_fan_out_never_holds_more_connections_than_the_pool(make_app: MakeApp) -> None:
    """Twelve channels sharing a post time with a pool of 4: the starts take half the pool and the runs' intents,
    records and renewals the other half, so when all twelve go on together after their first messages they queue
    for it instead of opening overflow connections (closed again as soon as they are given back)."""
    app = await make_app(sample=True, config={"database": {"pool_size": 4}})
    channels = [ChannelRef("slack", "T1", f"C{n}") for n in range(12)]
    with _connections_held(app) as most:
        publisher = RecordingPublisher("slack")
        results = await asyncio.gather(*(app.service.post_digest(c, SAMPLE_DAY, publisher) for c in channels))

    assert [(r.state, r.posted) for r in results] == [("posted", 5)] * 12
    assert most() <= 4
