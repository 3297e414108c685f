"""The scheduler's pure rules (triggers, catch-up window, settings) and its service calls, without a database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.domain.errors import ConfigError
from bot.domain.model import ChannelRef, ChannelSettings
from bot.runtime.metrics import Metrics
from bot.runtime.schedule_times import channel_trigger, cron_trigger, missed_run
from bot.runtime.scheduler import DigestScheduler, SchedulerSettings
from tests.fakes.recording_publisher import RecordingPublisher

NOW = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday
GRACE = timedelta(hours=1)


def fires(trigger: Any, start: datetime, count: int) -> list[datetime]:
    times, current = [], None
    for _ in range(count):
        current = trigger.get_next_fire_time(current, current + timedelta(seconds=1) if current else start)
        times.append(current)
    return times


def test_default_ingest_runs_half_an_hour_after_the_announcement_sunday_to_thursday_in_new_york() -> None:
    settings = SchedulerSettings()
    trigger = cron_trigger(settings.ingest_cron, settings.ingest_timezone)
    week = fires(trigger, datetime(2024, 3, 2, tzinfo=UTC), 5)  # from a Saturday, across the DST switch on Mar 10
    assert [t.strftime("%a %H:%M") for t in week] == ["Sun 20:30", "Mon 20:30", "Tue 20:30", "Wed 20:30", "Thu 20:30"]
    assert {str(t.tzinfo) for t in week} == {"America/New_York"}
    after_dst = fires(trigger, datetime(2024, 3, 10, tzinfo=UTC), 1)[0]
    assert after_dst.astimezone(UTC).hour == 0  # 20:30 EDT is 00:30 UTC; before the switch it was 01:30 UTC


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("fri-mon", {"Fri", "Sat", "Sun", "Mon"}),
        ("*/3", {"Sun", "Wed", "Sat"}),
    ],
)
def test_crontab_day_of_week_counts_sunday_as_zero_and_allows_wrapping_ranges(field: str, days: set[str]) -> None:
    trigger = cron_trigger(f"0 12 * * {field}", "UTC")
    assert {t.strftime("%a") for t in fires(trigger, NOW, 14)} == days


def test_channel_trigger_fires_at_the_post_time_in_the_channel_zone_on_its_weekdays_only() -> None:
    trigger = channel_trigger(ChannelSettings(post_time="07:45", timezone="Asia/Tokyo", weekdays=(1, 3)))
    runs = fires(trigger, NOW, 4)
    assert [r.strftime("%a %H:%M") for r in runs] == ["Tue 07:45", "Thu 07:45", "Tue 07:45", "Thu 07:45"]
    assert runs[0].astimezone(UTC) == datetime(2024, 3, 4, 22, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("post_time", "timezone", "weekdays", "expected"),
    [
        ("08:30", "UTC", (0,), datetime(2024, 3, 4, 8, 30, tzinfo=UTC)),  # 30 min late: run
        ("08:00", "UTC", (0,), datetime(2024, 3, 4, 8, 0, tzinfo=UTC)),  # exactly at the edge of the window
        ("07:59", "UTC", (0,), None),  # 61 min late: outside the window
        ("09:30", "UTC", (0,), None),  # not due yet today
        ("08:30", "UTC", (1, 2, 3), None),  # not one of its days
        ("03:45", "America/New_York", (0,), datetime(2024, 3, 4, 8, 45, tzinfo=UTC)),  # 03:45 EST = 08:45 UTC
        ("18:30", "Asia/Tokyo", (0,), None),  # Tokyo is already at 18:00 on Monday: not due yet
        ("17:30", "Asia/Tokyo", (0,), datetime(2024, 3, 4, 8, 30, tzinfo=UTC)),
    ],
)
def test_missed_run_is_todays_channel_local_post_time_within_the_grace_window(
    post_time: str, timezone: str, weekdays: tuple[int, ...], expected: datetime | None
) -> None:
    settings = ChannelSettings(post_time=post_time, timezone=timezone, weekdays=weekdays)
    assert missed_run(settings, NOW, grace=GRACE) == expected


def test_missed_run_uses_the_channel_local_date_for_the_weekday() -> None:
    # Monday 09:00 UTC is already Monday 18:00 in Tokyo but still Monday 01:00 in Los Angeles; Sunday is not there.
    tokyo = ChannelSettings(post_time="17:30", timezone="Asia/Tokyo", weekdays=(6,))
    la = ChannelSettings(post_time="00:30", timezone="America/Los_Angeles", weekdays=(0,))
    assert missed_run(tokyo, NOW, grace=GRACE) is None
    assert missed_run(la, NOW, grace=GRACE) == datetime(2024, 3, 4, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"ingest_timezone": "Mars/Olympus"}, "scheduler.ingest_timezone"),
        ({"ingest_cron": "30 20 * *"}, "scheduler.ingest_cron"),
        ({"ingest_cron": "30 20 * * funday"}, "scheduler.ingest_cron"),
        ({"ingest_cron": "99 20 * * mon"}, "scheduler.ingest_cron"),
        ({"grace_minutes": 0}, "scheduler.grace_minutes"),
        ({"refresh_minutes": "often"}, "scheduler.refresh_minutes"),
        ({"resync_every": 5}, "scheduler.resync_every"),
    ],
)
def test_bad_scheduler_config_names_the_key(section: dict[str, Any], named: str) -> None:
    config = parse_config({"scheduler": section})
    with pytest.raises(ConfigError) as raised:
        DigestScheduler(
            StubService(), StubService(), config=config, clock=FrozenClock(NOW), publisher_for=lambda _: None
        )
    assert str(raised.value).startswith(named + ":")


class StubService:
    """Records the service calls the fixed jobs make; the database-backed calls are tested under tests/storage."""

    def __init__(self, *, fail: bool = False, subscribed: list[tuple[ChannelRef, ChannelSettings]] = ()) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.subscribed = list(subscribed)

    async def ingest(self) -> str:
        self.calls.append("ingest")
        if self.fail:
            raise RuntimeError("arXiv said no")
        return "report"

    async def refresh_signals(self) -> int:
        self.calls.append("refresh_signals")
        return 7

    async def subscriptions(self) -> list[tuple[ChannelRef, ChannelSettings]]:
        return self.subscribed


def scheduler_for(service: StubService, **kwargs: Any) -> DigestScheduler:
    return DigestScheduler(
        service,
        service,
        config=parse_config({}),
        clock=FrozenClock(NOW),  # type: ignore[arg-type]
        publisher_for=lambda _: RecordingPublisher(),
        **kwargs,
    )


async def test_ingest_and_refresh_jobs_are_one_service_call_each() -> None:
    service = StubService()
    scheduler = scheduler_for(service)
    assert await scheduler.ingest() == "report"
    assert await scheduler.refresh() == 7
    assert service.calls == ["ingest", "refresh_signals"]


async def test_a_failing_job_is_logged_and_counted_instead_of_raised(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    scheduler = scheduler_for(StubService(fail=True), metrics=metrics)
    with caplog.at_level(logging.ERROR, logger="bot.runtime.scheduler"):
        assert await scheduler.ingest() is None
    assert "scheduled job ingest failed" in caplog.text
    assert 'hotpapers_job_errors_total{job="ingest"} 1.0' in metrics.render().decode()


def test_fixed_jobs_are_listed_with_their_next_run_before_start() -> None:
    runs = dict(scheduler_for(StubService()).next_runs())
    assert runs["ingest"] == datetime(2024, 3, 4, 20, 30, tzinfo=runs["ingest"].tzinfo)  # Monday 20:30 New York
    assert runs["ingest"].astimezone(UTC) == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)
    assert set(runs) == {
        "ingest",
        "refresh signals",
        "resync subscriptions",
        "prune processed events",
        "close journal-club polls",
    }
    assert all(when is not None and when > NOW for when in runs.values())


def test_a_disabled_scheduler_has_no_jobs_and_does_not_start() -> None:
    scheduler = DigestScheduler(
        StubService(),
        StubService(),
        config=parse_config({"scheduler": {"enabled": False}}),  # type: ignore[arg-type]
        clock=FrozenClock(NOW),
        publisher_for=lambda _: None,
    )
    scheduler.start()
    assert scheduler.next_runs() == []


async def test_a_channel_with_a_broken_stored_setting_is_skipped_and_the_others_still_scheduled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, broken = ChannelRef("slack", "T", "good"), ChannelRef("slack", "T", "broken")
    service = StubService(
        subscribed=[
            (broken, ChannelSettings(timezone="Gone/Zone", post_time="08:30")),
            (good, ChannelSettings(post_time="08:30")),
        ]
    )
    scheduler = scheduler_for(service)

    assert await scheduler.resync() == 1
    assert await scheduler.catch_up() == [good]  # Monday 09:00 UTC, 30 minutes after 08:30
    assert [name for name, _ in scheduler.next_runs() if name.startswith("digest")] == ["digest slack:T:good"]
    assert "cannot schedule the digest for slack:T:broken" in caplog.text


async def test_the_prune_job_forgets_event_ids_older_than_the_configured_retention() -> None:
    class Pruned(StubService):
        async def prune_events(self, older_than: timedelta) -> int:
            self.calls.append(f"prune {older_than.days}")
            return 3

    service = Pruned()
    scheduler = DigestScheduler(
        service,
        service,
        config=parse_config({"scheduler": {"events_retention_days": 9}}),  # type: ignore[arg-type]
        clock=FrozenClock(NOW),
        publisher_for=lambda _: None,
    )
    assert await scheduler.prune() == 3
    assert service.calls == ["prune 9"]
