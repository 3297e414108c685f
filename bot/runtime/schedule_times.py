"""When the scheduler's jobs run: crontab lines as APScheduler triggers, each channel's digest, roundup and
journal-club times in its time zone, and whether a run was missed within the grace window (start-up catch-up).
Pure functions of the settings and the time; `bot.runtime.scheduler` owns the jobs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.domain.model import ChannelSettings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""APScheduler 3 and ChannelSettings both count Monday as 0."""
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Standard crontab counts Sunday as 0 (and 7); APScheduler 3's `from_crontab` does not, so we translate."""


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """A trigger for a standard 5-field crontab line. Day-of-week follows crontab (0 or 7 = Sunday), and wrapping
    ranges such as `sun-thu` work; APScheduler 3 rejects those and counts 0 as Monday."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} must have 5 fields: minute hour day-of-month month day-of-week")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_days(day_of_week), timezone=timezone
    )


def _cron_days(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        body, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"day-of-week step {step_text!r} must be a positive number")
        step = int(step_text) if slash else 1
        if body == "*":
            first, last = 0, 6
        else:
            start, dash, end = body.partition("-")
            first = _cron_day(start)
            last = _cron_day(end) if dash else (6 if slash else first)
        if last < first:
            last += 7
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def _cron_day(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token[:3] in _CRON_DAYS:
        return _CRON_DAYS.index(token[:3])
    raise ValueError(f"{token!r} is not a day of the week (use 0-7 or sun, mon, …)")


def channel_trigger(settings: ChannelSettings) -> CronTrigger:
    hour, minute = (int(part) for part in settings.post_time.split(":"))
    days = ",".join(WEEKDAYS[d] for d in sorted(settings.weekdays))
    return CronTrigger(hour=hour, minute=minute, day_of_week=days, timezone=ZoneInfo(settings.timezone))


def missed_run(settings: ChannelSettings, now: datetime, *, grace: timedelta) -> datetime | None:
    """Today's (channel-local) post time if it has passed no longer than `grace` ago on one of its weekdays."""
    return _passed_within(settings.weekdays, settings.post_time, settings.timezone, now, grace)


def missed_weekly(settings: ChannelSettings, now: datetime, *, grace: timedelta) -> tuple[str, ...]:
    """The channel's weekly jobs — `roundup`, `journal club` — whose time passed today no longer than `grace` ago
    (the roundup goes with the digest: only on a channel with digest weekdays, as it is scheduled)."""
    missed = []
    if (
        settings.roundup
        and settings.weekdays
        and _passed_within((settings.roundup_day,), settings.roundup_time, settings.timezone, now, grace)
    ):
        missed.append("roundup")
    if settings.journal_club:
        day, at = _journal_club_time(settings)
        if _passed_within((day,), at, settings.timezone, now, grace):
            missed.append("journal club")
    return tuple(missed)


def _passed_within(
    weekdays: Collection[int], at: str, timezone: str, now: datetime, grace: timedelta
) -> datetime | None:
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if local.weekday() not in weekdays:
        return None
    hour, minute = (int(part) for part in at.split(":"))
    due = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    return due if timedelta(0) <= now - due <= grace else None


def roundup_trigger(settings: ChannelSettings) -> CronTrigger:
    """The weekly roundup's time: `roundup_day` at `roundup_time` in the channel's time zone."""
    hour, minute = (int(part) for part in settings.roundup_time.split(":"))
    return CronTrigger(
        hour=hour, minute=minute, day_of_week=WEEKDAYS[settings.roundup_day], timezone=ZoneInfo(settings.timezone)
    )


def journal_club_trigger(settings: ChannelSettings) -> CronTrigger:
    """The weekly journal-club poll's time: its `journal_club` setting (`fri 15:00`) in the channel's time zone."""
    day, at = _journal_club_time(settings)
    hour, minute = (int(part) for part in at.split(":"))
    return CronTrigger(day_of_week=WEEKDAYS[day], hour=hour, minute=minute, timezone=ZoneInfo(settings.timezone))


def _journal_club_time(settings: ChannelSettings) -> tuple[int, str]:
    """(weekday, "HH:MM") of the `journal_club` setting, normalised as `fri 15:00` by the channel settings."""
    day, _, at = settings.journal_club.partition(" ")
    return WEEKDAYS.index(day), at
