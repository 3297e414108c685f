"""Start-up catch-up, overlapping and failed runs, and shutdown, with the real service on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app.digest_plan import DigestPlanner
from bot.domain.clock import FrozenClock
from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from tests.conftest import MakeApp
from tests.fakes.recording_publisher import RecordingPublisher
from tests.storage.test_journal_club import CHANNEL, PollPlatform, Polls
from tests.storage.test_scheduler_jobs import scheduler_for

MONDAY_9_UTC = datetime(2020, 11, 9, 9, 0, tzinfo=UTC)
LATE_30 = ChannelRef("console", "local", "late-30")
LATE_90 = ChannelRef("console", "local", "late-90")
NOT_YET = ChannelRef("console", "local", "not-yet")
NEW_YORK = ChannelRef("console", "local", "new-york")
WAIT = 10.0
"""Upper bound for waiting on an event; the tests finish in milliseconds."""


async def subscribe_four(app: App) -> None:
    await app.service.subscribe(LATE_30, {"post_time": "08:30", "weekdays": "daily"})
    await app.service.subscribe(LATE_90, {"post_time": "07:30", "weekdays": "daily"})
    await app.service.subscribe(NOT_YET, {"post_time": "09:30", "weekdays": "daily"})
    await app.service.subscribe(NEW_YORK, {"post_time": "03:45", "timezone": "America/New_York", "weekdays": "mon"})


async def test_start_up_catch_up_runs_digests_missed_within_the_grace_window_only_and_only_once(
    app: App, clock: FrozenClock
) -> None:
    clock.set(MONDAY_9_UTC)
    await subscribe_four(app)
    console = RecordingPublisher("console")
    scheduler = scheduler_for(app, console)

    ran = await scheduler.catch_up()

    assert set(ran) == {LATE_30, NEW_YORK}  # 30 min and 15 min late (03:45 EST = 08:45 UTC); 90 min is too late
    assert {call.channel for call in console.calls} == {LATE_30, NEW_YORK}
    assert console.published_ids(LATE_30) and console.published_ids(NEW_YORK)

    posted = len(console.calls)
    assert set(await scheduler.catch_up()) == {LATE_30, NEW_YORK}  # a restart within the window runs them again …
    assert len(console.calls) == posted  # … and the database claim posts nothing twice


async def test_a_longer_grace_window_catches_up_older_misses(app: App, clock: FrozenClock) -> None:
    clock.set(MONDAY_9_UTC)
    await subscribe_four(app)
    scheduler = scheduler_for(app, RecordingPublisher("console"), grace_minutes=120)
    assert set(await scheduler.catch_up()) == {LATE_30, LATE_90, NEW_YORK}


async def test_starting_the_scheduler_catches_up_and_lists_every_job(app: App, clock: FrozenClock) -> None:
    clock.set(MONDAY_9_UTC)
    await subscribe_four(app)
    console = RecordingPublisher("console")
    scheduler = scheduler_for(app, console)

    scheduler.start()
    try:
        await asyncio.wait_for(scheduler.ready.wait(), WAIT)
        names = [name for name, _ in scheduler.next_runs()]
    finally:
        await scheduler.shutdown()

    assert {call.channel for call in console.calls} == {LATE_30, NEW_YORK}
    assert {"ingest", "refresh signals", "resync subscriptions"} <= set(names)
    assert {n for n in names if n.startswith("digest ")} == {
        f"digest {c.key}" for c in (LATE_30, LATE_90, NOT_YET, NEW_YORK)
    }


async def test_a_second_run_of_a_digest_still_posting_in_this_process_is_skipped(app: App) -> None:
    await app.service.subscribe(LATE_30, {"weekdays": "daily", "top_n": "3"})
    console = RecordingPublisher("console", pause_after=1)
    scheduler = scheduler_for(app, console)

    first = asyncio.create_task(scheduler.post_digest(LATE_30))
    await asyncio.wait_for(console.paused.wait(), WAIT)
    second = await scheduler.post_digest(LATE_30)
    console.resume.set()
    result = await asyncio.wait_for(first, WAIT)

    # The poster runs one (channel, day) at a time per process (the scheduler has no lock of its own): the second
    # run is answered at once, posting nothing and scheduling no retry.
    assert second is not None and second.state == "held-elsewhere" and second.posted == 0
    assert second.held_until is None
    assert result is not None and result.posted == 3
    ids = console.published_ids(LATE_30)
    assert len(ids) == len(set(ids)) == 3


async def test_a_digest_that_crashed_midway_resumes_with_only_the_rest_on_the_next_run(app: App) -> None:
    await app.service.subscribe(LATE_30, {"weekdays": "daily", "top_n": "4"})
    crashing = RecordingPublisher("console", fail_after=2)

    assert await scheduler_for(app, crashing).post_digest(LATE_30) is None  # logged, not raised

    healthy = RecordingPublisher("console")
    result = await scheduler_for(app, healthy).post_digest(LATE_30)
    assert result is not None and result.state == "resumed"
    assert len(healthy.published_ids()) == 2
    assert set(crashing.published_ids()).isdisjoint(healthy.published_ids())


async def test_shutdown_lets_a_digest_in_progress_finish(app: App) -> None:
    await app.service.subscribe(LATE_30, {"weekdays": "daily", "top_n": "2", "post_time": "23:59"})
    console = RecordingPublisher("console", pause_after=1)
    scheduler = scheduler_for(app, console)
    scheduler.start()
    await asyncio.wait_for(scheduler.ready.wait(), WAIT)
    digest = asyncio.create_task(scheduler.post_digest(LATE_30))
    await asyncio.wait_for(console.paused.wait(), WAIT)

    stopping = asyncio.create_task(scheduler.shutdown(drain_seconds=WAIT))
    for _ in range(5):
        await asyncio.sleep(0)  # let shutdown reach its wait
    assert not stopping.done()
    console.resume.set()
    await asyncio.wait_for(stopping, WAIT)

    assert digest.done() and digest.result() is not None
    assert len(console.published_ids()) == 2
    assert not scheduler._scheduler.running


async def test_a_catch_up_of_many_channels_plans_at_most_twice_the_pool_size_of_digests_at_once(
    make_app: MakeApp, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await make_app(sample=True, config={"database": {"pool_size": 1}})
    clock.set(MONDAY_9_UTC)
    channels = [ChannelRef("console", "local", f"lab-{n}") for n in range(12)]
    for channel in channels:
        await app.service.subscribe(channel, {"post_time": "08:30", "weekdays": "daily"})
    running = most = 0
    three = asyncio.Event()
    build = DigestPlanner.build

    async def lingering_build(self: DigestPlanner, *args: Any, **kwargs: Any) -> Any:
        """Each plan lingers until a third digest is planning at once — which the bound must never let happen —
        or half a second has passed: a missing bound shows as three at once, a machine's speed never as a failure."""
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running >= 3:
            three.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(three.wait(), 0.5)
        running -= 1
        return await build(self, *args, **kwargs)

    monkeypatch.setattr(DigestPlanner, "build", lingering_build)
    console = RecordingPublisher("console")
    ran = await scheduler_for(app, console).catch_up()
    assert set(ran) == set(channels) and len(console.said) == 12
    assert 1 <= most <= 2


async def test_catch_up_starts_the_weekly_poll_and_posts_the_roundup_missed_within_the_grace_window_once(
    app: App, clock: FrozenClock
) -> None:
    """The weekly jobs are caught up as the digests are: a poll or roundup whose time passed today within the grace
    window runs at start-up; the week's claim keeps a restart (or a replica) from running it twice."""
    clock.set(MONDAY_9_UTC)
    weekly = {"post_time": "10:00", "weekdays": "daily", "roundup": "on", "roundup_day": "mon"}
    await app.service.subscribe(CHANNEL, {**weekly, "journal_club": "mon 08:30", "roundup_time": "08:45",
                                          "roundup_empty": "yes"})  # fmt: skip
    await app.service.subscribe(LATE_90, {**weekly, "journal_club": "mon 07:30", "roundup_time": "07:30"})
    await app.service.subscribe(NOT_YET, {**weekly, "journal_club": "mon 09:30", "roundup_time": "09:30"})
    shared = PollPlatform()
    scheduler = scheduler_for(app, Polls(shared))  # type: ignore[arg-type]

    assert await scheduler.catch_up() == []  # no digest was due before 9:00
    assert len(shared.visible("poll")) == 1 and len([m for m in shared.messages if m.key and m.key.prefix == "hr"]) == 1

    again = await scheduler.catch_up_weekly(await app.operations.subscriptions(), clock.now())
    assert sorted(again) == [("journal club", CHANNEL), ("roundup", CHANNEL)]  # run again after a restart …
    assert len(shared.visible("poll")) == 1 and len(shared.messages) == 2  # … posting nothing twice
