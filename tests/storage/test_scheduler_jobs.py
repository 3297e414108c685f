"""Channel jobs follow the subscriptions in the database, on SQLite and PostgreSQL, with the real service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.model import ChannelRef, ChannelSettings, DigestEntry, PostedMessage, PostKey
from bot.runtime.bootstrap import App
from bot.runtime.scheduler import DigestScheduler
from tests.conftest import MakeApp
from tests.fakes.recording_publisher import RecordingPublisher

BERLIN = ChannelRef("discord", "guild", "berlin", "#papers")
TOKYO = ChannelRef("slack", "T1", "C-tokyo", "#ml")


def scheduler_for(app: App, *publishers: RecordingPublisher, **section: Any) -> DigestScheduler:
    by_platform = {p.platform: p for p in publishers}
    config = app.config.model_copy(update={"scheduler": section})
    return DigestScheduler(app.operations, app.service, config=config, clock=app.clock, publisher_for=by_platform.get)


def channel_jobs(scheduler: DigestScheduler) -> dict[str, tuple[str, dict[str, str]]]:
    """digest job name → (time zone, the cron fields that are not defaults)."""
    jobs = scheduler._scheduler.get_jobs()
    return {
        job.name: (str(job.trigger.timezone), {f.name: str(f) for f in job.trigger.fields if not f.is_default})
        for job in jobs
        if job.id.startswith("digest:")
    }


async def test_each_subscribed_channel_gets_a_job_at_its_time_zone_weekdays_and_time(app: App) -> None:
    await app.service.subscribe(BERLIN, {"post_time": "07:45", "timezone": "Europe/Berlin", "weekdays": "mon,wed"})
    await app.service.subscribe(TOKYO, {"time": "18:00", "tz": "Asia/Tokyo", "days": "sun-thu"})
    await app.service.subscribe(ChannelRef("console", "local", "gone"))
    await app.service.unsubscribe(ChannelRef("console", "local", "gone"))
    scheduler = scheduler_for(app)

    assert await scheduler.resync() == 2

    assert channel_jobs(scheduler) == {
        "digest discord:guild:berlin": ("Europe/Berlin", {"day_of_week": "mon,wed", "hour": "7", "minute": "45"}),
        "digest slack:T1:C-tokyo": ("Asia/Tokyo", {"day_of_week": "mon,tue,wed,thu,sun", "hour": "18", "minute": "0"}),
    }
    runs = dict(scheduler.next_runs())  # the clock is Saturday 2020-11-07 09:00 UTC
    assert runs["digest discord:guild:berlin"].astimezone(UTC) == datetime(2020, 11, 9, 6, 45, tzinfo=UTC)
    assert runs["digest slack:T1:C-tokyo"].astimezone(UTC) == datetime(2020, 11, 8, 9, 0, tzinfo=UTC)


async def test_a_subscription_changed_in_chat_moves_the_job_and_an_unsubscribe_removes_it(app: App) -> None:
    await app.service.subscribe(BERLIN, {"post_time": "07:45", "timezone": "Europe/Berlin"})
    await app.service.subscribe(TOKYO)
    scheduler = scheduler_for(app)
    await scheduler.resync()

    await app.service.subscribe(BERLIN, {"post_time": "12:10", "weekdays": "sat"})
    await app.service.unsubscribe(TOKYO)
    assert await scheduler.resync() == 1

    assert channel_jobs(scheduler) == {
        "digest discord:guild:berlin": ("Europe/Berlin", {"day_of_week": "sat", "hour": "12", "minute": "10"}),
    }


async def test_a_subscription_made_on_another_replica_is_picked_up_by_the_resync(make_app: MakeApp) -> None:
    here = await make_app(sample=True)
    elsewhere = await make_app()
    scheduler = scheduler_for(here)
    assert await scheduler.resync() == 0

    await elsewhere.service.subscribe(BERLIN, {"post_time": "06:00"})
    assert await scheduler.resync() == 1
    assert channel_jobs(scheduler)["digest discord:guild:berlin"][1] == {
        "day_of_week": "mon,tue,wed,thu,fri",
        "hour": "6",
        "minute": "0",
    }


async def test_a_settings_change_in_this_process_takes_effect_before_any_resync(app: App) -> None:
    scheduler = scheduler_for(app)
    scheduler.on_settings_changed(BERLIN, ChannelSettings(post_time="05:05", timezone="Europe/Berlin", weekdays=(4,)))
    assert channel_jobs(scheduler) == {
        "digest discord:guild:berlin": ("Europe/Berlin", {"day_of_week": "fri", "hour": "5", "minute": "5"})
    }
    scheduler.on_settings_changed(BERLIN, ChannelSettings(subscribed=False))
    assert channel_jobs(scheduler) == {}


async def test_a_channel_job_posts_that_channels_digest_once(app: App, sample_day: Any) -> None:
    await app.service.subscribe(BERLIN, {"top_n": "3", "weekdays": "daily"})
    discord = RecordingPublisher("discord")
    scheduler = scheduler_for(app, discord)

    first = await scheduler.post_digest(BERLIN)
    again = await scheduler.post_digest(BERLIN)

    assert first is not None and first.state == "posted" and first.digest.day == sample_day
    assert again is not None and again.state == "done-before"
    assert len(discord.published_ids(BERLIN)) == 3
    assert discord.said == [first.digest.header]


class PacedPublisher(RecordingPublisher):
    """Holds every entry until released, as a platform's pace holds a digest for seconds: notes the channels that
    are sending at once."""

    def __init__(self, channels: int) -> None:
        super().__init__("discord")
        self.release = asyncio.Event()
        self.all_sending = asyncio.Event()
        self.sending: set[str] = set()
        self._channels = channels

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        self.sending.add(channel.key)
        if len(self.sending) == self._channels:
            self.all_sending.set()
        await self.release.wait()
        return await super().publish(channel, entry, key=key)


async def test_digests_waiting_for_the_platforms_pace_do_not_hold_back_other_channels(
    make_app: MakeApp, sample_day: Any
) -> None:
    # pool_size 1: two digests in their database phase at once; five channels share a post time.
    app = await make_app(sample=True, config={"database": {"pool_size": 1}})
    channels = [ChannelRef("discord", "guild", f"paced-{n}") for n in range(5)]
    for channel in channels:
        await app.service.subscribe(channel, {"top_n": "2", "weekdays": "daily"})
    paced = PacedPublisher(len(channels))
    scheduler = scheduler_for(app, paced)

    runs = asyncio.gather(*(scheduler.post_digest(channel) for channel in channels))
    # Every channel reaches its first entry while the first two are still held (a bound on whole digests, as
    # before, left three waiting for a slot that a held digest never gave back; the guard only ends a hang).
    await asyncio.wait_for(paced.all_sending.wait(), timeout=120)
    paced.release.set()
    results = await runs

    assert sorted(paced.sending) == sorted(channel.key for channel in channels)
    assert [r.state if r else None for r in results] == ["posted"] * 5
    assert all(len(paced.published_ids(channel)) == 2 for channel in channels)


async def test_the_refresh_job_calls_the_real_service_without_error(app: App) -> None:
    assert await scheduler_for(app).refresh() == 0  # offline: no signal sources, nothing stored, no failure (None)


async def test_a_channel_whose_platform_is_not_connected_is_skipped_without_claiming_the_day(app: App) -> None:
    await app.service.subscribe(TOKYO, {"weekdays": "daily"})
    discord = RecordingPublisher("discord")

    assert await scheduler_for(app, discord).post_digest(TOKYO) is None
    assert discord.calls == []

    slack = RecordingPublisher("slack")
    later = await scheduler_for(app, slack).post_digest(TOKYO)
    assert later is not None and later.state == "posted" and slack.published_ids(TOKYO)


async def test_a_digest_held_by_another_replica_is_looked_at_again_when_its_lease_ends(
    make_app: MakeApp, clock: Any, sample_day: Any
) -> None:
    app = await make_app(sample=True, config={"digest": {"lease_seconds": 60}})
    await app.service.subscribe(BERLIN)
    async with app.uow() as uow:  # another replica claimed today's digest, then died
        channel_id = await uow.channels.id_of(BERLIN)
        assert channel_id is not None
        await uow.digests.claim(channel_id, sample_day, holder="dead", now=clock.now(), lease=timedelta(seconds=60))
        await uow.commit()
    discord = RecordingPublisher("discord")
    scheduler = scheduler_for(app, discord)
    assert (await scheduler.post_digest(BERLIN)).state == "held-elsewhere"  # type: ignore[union-attr]
    retry = scheduler._scheduler.get_job(f"retry:{BERLIN.key}")
    assert retry is not None and retry.trigger.run_date == clock.now() + timedelta(seconds=61)
    clock.advance(seconds=61)
    assert (await scheduler.post_digest(BERLIN)).state == "resumed"  # type: ignore[union-attr]
    assert len(discord.published) == 5


async def test_a_channel_with_the_roundup_on_gets_a_weekly_job_at_its_day_and_time(app: App) -> None:
    await app.service.subscribe(BERLIN, {"timezone": "Europe/Berlin", "roundup": "on", "roundup_day": "thu"})
    await app.service.subscribe(TOKYO)
    scheduler = scheduler_for(app)
    await scheduler.resync()
    roundups = {job.name: job for job in scheduler._scheduler.get_jobs() if job.id.startswith("roundup:")}
    assert list(roundups) == ["roundup discord:guild:berlin"]
    fields = {f.name: str(f) for f in roundups["roundup discord:guild:berlin"].trigger.fields if not f.is_default}
    assert fields == {"day_of_week": "thu", "hour": "16", "minute": "0"}
    runs = dict(scheduler.next_runs())  # Saturday 2020-11-07 09:00 UTC: the next Thursday, 16:00 in Berlin
    assert runs["roundup discord:guild:berlin"].astimezone(UTC) == datetime(2020, 11, 12, 15, 0, tzinfo=UTC)

    await app.service.subscribe(BERLIN, {"roundup": "off"})
    await scheduler.resync()
    assert not [job for job in scheduler._scheduler.get_jobs() if job.id.startswith("roundup:")]


async def test_the_roundup_job_posts_the_weeks_roundup_once_through_the_channels_platform(app: App) -> None:
    from bot.domain.model import VoteEvent

    discord = RecordingPublisher("discord")
    await app.service.subscribe(BERLIN, {"roundup": "on"})
    await app.service.post_digest(BERLIN, None, discord)
    first = next(call.message.message_id for call in discord.calls if call.entry is not None)
    await app.service.record_vote(VoteEvent(BERLIN, "ada", first, 1))
    scheduler = scheduler_for(app, discord)
    result = await scheduler.post_roundup(BERLIN)
    assert result is not None and result.state == "posted" and discord.said[-1].startswith("📚 The week in #papers")
    again = await scheduler.post_roundup(BERLIN)
    assert again is not None and again.state == "done-before"
    assert await scheduler_for(app).post_roundup(BERLIN) is None  # Discord not connected: skipped
