"""APScheduler wiring for `hotpapers run`: every job is one service call.

Jobs: ingest after each arXiv announcement, a periodic signal refresh, one cron job per subscribed channel at its
post time in its time zone, and a resync that reloads subscriptions so changes made in chat (here or on another
replica) take effect without a restart. The scheduler only decides *when*; exactly-once posting comes from the
database claim inside `post_digest`, so running a job twice (catch-up, two replicas) is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.config import Config, check_timezone, parse_section
from bot.domain.model import (
    ChannelRef,
    ChannelSettings,
    DigestResult,
    IngestReport,
    PollClose,
    PollStart,
    RoundupResult,
)
from bot.domain.ports import ChatService, Clock, Publisher
from bot.domain.settings import ConfigDict, Field, SettingsModel, field_validator
from bot.runtime.schedule_times import (
    WEEKDAYS,
    channel_trigger,
    cron_trigger,
    journal_club_trigger,
    missed_run,
    missed_weekly,
    roundup_trigger,
)

if TYPE_CHECKING:
    from bot.app.operations import Operations
    from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
PublisherFor = Callable[[str], Publisher | None]


class SchedulerSettings(SettingsModel):
    """The `[scheduler]` table. Defaults: ingest at 20:30 New York time after arXiv's 20:00 announcement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    ingest_cron: str = "30 20 * * sun-thu"
    ingest_timezone: str = "America/New_York"
    refresh_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    resync_minutes: int = Field(default=5, ge=1, le=24 * 60)
    grace_minutes: int = Field(default=60, ge=1, le=24 * 60)
    prune_hours: int = Field(default=24, ge=1, le=24 * 30)
    """How often remembered event ids (retried Slack deliveries, summary reports) older than the retention go."""
    events_retention_days: float = Field(default=30.0, ge=1, le=3650)
    replies_retention_days: float = Field(default=90.0, ge=1, le=3650)
    """How long who replied in a discussion thread is kept (and counts); pruned with the processed events."""
    # journal club
    polls_minutes: int = Field(default=1, ge=1, le=60)
    """How often each replica looks for journal-club polls to close (past their close, or whose replica died)."""

    @field_validator("ingest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("ingest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        cron_trigger(value, "UTC")
        return value

    @classmethod
    def from_config(cls, config: Config) -> SchedulerSettings:
        return parse_section(cls, config.scheduler, section="scheduler")


def _schedule_of(settings: ChannelSettings) -> tuple[object, ...]:
    return (
        settings.post_time,
        settings.timezone,
        tuple(sorted(settings.weekdays)),
        settings.roundup,
        settings.roundup_day,
        settings.roundup_time,
    )


class DigestScheduler:
    """Owns one AsyncIOScheduler. Job methods (`ingest`, `refresh`, `post_digest`, `resync`, `catch_up`) are public
    so tests and the CLI can run them directly; each logs its own failure instead of raising."""

    def __init__(
        self,
        operations: Operations,
        service: ChatService,
        *,
        config: Config,
        clock: Clock,
        publisher_for: PublisherFor,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = SchedulerSettings.from_config(config)
        self._operations = operations
        self._service = service
        self._clock = clock
        self._publisher_for = publisher_for
        self._metrics = metrics
        self._grace = timedelta(minutes=self.settings.grace_minutes)
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": self.settings.grace_minutes * 60, "max_instances": 1},
        )
        self._channels: dict[str, tuple[ChannelRef, ChannelSettings]] = {}
        self._polls: dict[str, tuple[str, str]] = {}
        """Channels with a weekly journal-club job: key → (`fri 15:00`, time zone)."""
        self._running: set[asyncio.Task[Any]] = set()
        self._caught_up = False
        self.ready = asyncio.Event()
        """Set once the first resync (and the start-up catch-up) has run."""
        if self.settings.enabled:
            self._add_fixed_jobs()

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────────────────────────

    def start(self) -> None:
        """Start on the running event loop. Channel jobs and the catch-up follow from an immediate resync."""
        if not self.settings.enabled:
            log.info("scheduler disabled by configuration (scheduler.enabled = false)")
            return
        self._scheduler.add_job(
            self._resync_job,
            DateTrigger(datetime.now(UTC)),
            id="startup",
            name="start-up resync and catch-up",
            misfire_grace_time=None,
        )
        self._scheduler.start()

    async def shutdown(self, *, drain_seconds: float = 10.0) -> None:
        """Stop firing jobs, give running ones `drain_seconds` to finish, then cancel the rest. A digest cut off
        here releases its claim and resumes on the next run; call `service.stop()` first to stop it between
        entries."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        running = {task for task in self._running if not task.done()}
        if running:
            await asyncio.wait(running, timeout=drain_seconds)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down (and cancels leftovers) on the loop's next turn

    def next_runs(self) -> list[tuple[str, datetime | None]]:
        """(job name, next fire time) for `hotpapers status`; None when paused. Works before `start()` too."""
        now = self._clock.now()
        runs = []
        for job in self._scheduler.get_jobs():
            when = job.next_run_time if not job.pending else job.trigger.get_next_fire_time(None, now)
            runs.append((job.name, when))
        return runs

    # ── jobs ────────────────────────────────────────────────────────────────────────────────────────────────────

    async def ingest(self) -> IngestReport | None:
        return await self._guarded("ingest", self._operations.ingest)

    async def refresh(self) -> int | None:
        return await self._guarded("refresh", self._operations.refresh_signals)

    async def prune(self) -> int | None:
        """Forget processed event ids older than the retention (the table would otherwise grow forever)."""
        retention = timedelta(days=self.settings.events_retention_days)
        removed = await self._guarded("prune", lambda: self._operations.prune_events(retention))
        if removed:
            log.info("pruned %d processed event ids older than %g days", removed, self.settings.events_retention_days)
        replies = timedelta(days=self.settings.replies_retention_days)
        gone = await self._guarded("prune", lambda: self._operations.prune_replies(replies))
        if gone:
            log.info("pruned %d thread replies older than %g days", gone, self.settings.replies_retention_days)
        return removed

    async def post_digest(self, channel: ChannelRef) -> DigestResult | None:
        """The channel's job. Skips when its platform is not connected. A digest already running here answers
        "held-elsewhere" (the poster runs one (channel, day) at a time per process; the database claim keeps
        other processes out), so this needs no lock of its own."""
        publisher = self._publisher_for(channel.platform)
        if publisher is None:
            log.info("skipping the digest for %s: %s is not connected", channel.key, channel.platform)
            return None
        # No bound here: the poster bounds the digests in their database phase (PostingPolicy.starts_at_once); one
        # waiting for the platform's pace must not hold back another channel's digest.
        result = await self._guarded("digest", lambda: self._service.post_digest(channel, None, publisher))
        if result is not None:
            log.info(
                "digest for %s on %s: %s (%d posted, %d already there)",
                channel.key,
                result.digest.day,
                result.state,
                result.posted,
                result.skipped_already_posted,
            )
        if result is not None and result.state == "held-elsewhere" and result.held_until is not None:
            self._retry_at(channel, result.held_until)
        return result

    async def post_roundup(self, channel: ChannelRef) -> RoundupResult | None:
        """The channel's weekly roundup job (posted once per week across replicas: the database claim)."""
        publisher = self._publisher_for(channel.platform)
        if publisher is None:
            log.info("skipping the roundup for %s: %s is not connected", channel.key, channel.platform)
            return None
        result = await self._guarded("roundup", lambda: self._service.post_roundup(channel, publisher))
        if result is not None:
            log.info("roundup for %s, week ending %s: %s", channel.key, result.roundup.last_day, result.state)
        return result

    async def close_polls(self) -> list[PollClose] | None:
        """Close the journal-club polls that are due, on every replica: the database claim closes each once, and a
        poll whose replica was down at its close is closed by whichever replica looks next (issue 19)."""
        closed = await self._guarded("polls", lambda: self._service.close_due_polls(self._publisher_for))
        for result in closed or []:
            if result.outcome is not None:
                log.info("journal-club poll %d in %s closed", result.outcome.poll_id, result.outcome.channel.key)
        return closed

    def _retry_at(self, channel: ChannelRef, when: datetime) -> None:
        """Another holder has the digest: look again when its lease ends, so the digest is finished today even
        if that holder died (its lease then runs out and this replica takes over)."""
        at = max(when, self._clock.now()) + timedelta(seconds=1)
        self._scheduler.add_job(
            self.post_digest,
            DateTrigger(at),
            args=[channel],
            id=f"retry:{channel.key}",
            name=f"digest {channel.key} (retry)",
            replace_existing=True,
            misfire_grace_time=None,
        )
        log.info("the digest for %s is held by another replica; looking again at %s", channel.key, at)

    async def resync(self) -> int:
        """Make the channel jobs match the subscriptions in the database. Returns how many channels are scheduled."""
        subscriptions = await self._operations.subscriptions()
        wanted = {channel.key: (channel, settings) for channel, settings in subscriptions}
        for key in [key for key in self._channels if key not in wanted]:
            self._remove(key)
        for key in [key for key in self._polls if key not in wanted]:  # journal club
            self._remove_journal_club(key)
        for channel, settings in wanted.values():
            try:
                self._apply(channel, settings)
            except (ValueError, KeyError) as error:  # a stored zone this system no longer knows: skip one channel
                self._remove(channel.key)
                log.error("cannot schedule the digest for %s: %s", channel.key, error)
        return len(self._channels)

    async def catch_up(self) -> list[ChannelRef]:
        """Run now every digest whose post time passed today within the grace window (APScheduler cannot know
        about runs missed while the process was down), then the weekly roundups and journal-club polls missed the
        same way (`catch_up_weekly`). Returns the channels whose digest it ran."""
        now = self._clock.now()
        subscriptions = await self._operations.subscriptions()
        due = [c for c, s in subscriptions if self._missed(c, s, now)]
        if due:
            log.info("catching up %d missed digest(s): %s", len(due), ", ".join(c.key for c in due))
            await asyncio.gather(*(self.post_digest(channel) for channel in due))
        await self.catch_up_weekly(subscriptions, now)
        return due

    async def catch_up_weekly(
        self, subscriptions: list[tuple[ChannelRef, ChannelSettings]], now: datetime
    ) -> list[tuple[str, ChannelRef]]:
        """Post the roundups and start the journal-club polls whose weekly time passed today within the grace
        window: the week is part of each one's database claim, so one that ran before the restart (or on another
        replica) posts nothing again. Returns (job, channel) for each it ran."""
        jobs = {"roundup": self.post_roundup, "journal club": self.start_poll}
        missed = [
            (job, channel) for channel, settings in subscriptions for job in self._missed_weekly(channel, settings, now)
        ]
        if missed:
            log.info(
                "catching up %d missed weekly job(s): %s", len(missed), ", ".join(f"{j} {c.key}" for j, c in missed)
            )
            await asyncio.gather(*(jobs[job](channel) for job, channel in missed))
        return missed

    def on_settings_changed(self, channel: ChannelRef, settings: ChannelSettings) -> None:
        """Apply a subscription change made in this process at once (the resync covers other replicas)."""
        self._apply(channel, settings)

    # ── internals ───────────────────────────────────────────────────────────────────────────────────────────────

    def _add_fixed_jobs(self) -> None:
        s = self.settings
        add = self._scheduler.add_job
        add(self.ingest, cron_trigger(s.ingest_cron, s.ingest_timezone), id="ingest", name="ingest")
        add(self.refresh, IntervalTrigger(minutes=s.refresh_minutes), id="refresh", name="refresh signals")
        add(self._resync_job, IntervalTrigger(minutes=s.resync_minutes), id="resync", name="resync subscriptions")
        add(self.prune, IntervalTrigger(hours=s.prune_hours), id="prune", name="prune processed events")
        add(self.close_polls, IntervalTrigger(minutes=s.polls_minutes), id="polls", name="close journal-club polls")

    async def _resync_job(self) -> None:
        if await self._guarded("resync", self.resync) is None:
            return
        if not self._caught_up:
            self._caught_up = True
            await self._guarded("catch-up", self.catch_up)
        self.ready.set()

    def _apply(self, channel: ChannelRef, settings: ChannelSettings) -> None:
        self._apply_journal_club(channel, settings)
        if not settings.subscribed or not settings.weekdays:
            self._remove(channel.key)
            return
        job_id = f"digest:{channel.key}"
        known = self._channels.get(channel.key)
        if known is not None and _schedule_of(known[1]) == _schedule_of(settings):
            self._channels[channel.key] = (channel, settings)
            if known[0].name != channel.name:
                self._scheduler.modify_job(job_id, args=[channel])
                if self._scheduler.get_job(f"roundup:{channel.key}") is not None:
                    self._scheduler.modify_job(f"roundup:{channel.key}", args=[channel])
            return
        trigger = channel_trigger(settings)  # raises on a bad stored value before anything changes
        weekly = roundup_trigger(settings) if settings.roundup else None
        self._scheduler.add_job(
            self.post_digest, trigger, args=[channel], id=job_id, name=f"digest {channel.key}", replace_existing=True
        )
        if weekly is not None:
            self._scheduler.add_job(
                self.post_roundup,
                weekly,
                args=[channel],
                id=f"roundup:{channel.key}",
                name=f"roundup {channel.key}",
                replace_existing=True,
            )
        elif self._scheduler.get_job(f"roundup:{channel.key}") is not None:
            self._scheduler.remove_job(f"roundup:{channel.key}")
        self._channels[channel.key] = (channel, settings)
        log.info(
            "digest for %s scheduled at %s %s on %s",
            channel.key,
            settings.post_time,
            settings.timezone,
            ",".join(WEEKDAYS[d] for d in sorted(settings.weekdays)),
        )

    def _missed(self, channel: ChannelRef, settings: ChannelSettings, now: datetime) -> bool:
        try:
            return missed_run(settings, now, grace=self._grace) is not None
        except (ValueError, KeyError) as error:
            log.error("cannot tell whether %s missed its digest: %s", channel.key, error)
            return False

    def _missed_weekly(self, channel: ChannelRef, settings: ChannelSettings, now: datetime) -> tuple[str, ...]:
        try:
            return missed_weekly(settings, now, grace=self._grace)
        except (ValueError, KeyError) as error:
            log.error("cannot tell whether %s missed its weekly jobs: %s", channel.key, error)
            return ()

    # ── journal club (issue 19) ────────────────────────────────────────────────────────────────────────────────

    async def start_poll(self, channel: ChannelRef) -> PollStart | None:
        """The channel's weekly journal-club job: one poll a week however many replicas run it (the week is part of
        the database claim)."""
        publisher = self._publisher_for(channel.platform)
        if publisher is None:
            log.info("skipping the journal-club poll for %s: %s is not connected", channel.key, channel.platform)
            return None
        start = await self._guarded("journal club", lambda: self._service.journal_club_weekly(channel, publisher))
        if start is not None:
            log.info("weekly journal-club poll for %s: %s", channel.key, start.state)
        return start

    def _apply_journal_club(self, channel: ChannelRef, settings: ChannelSettings) -> None:
        job_id = f"journalclub:{channel.key}"
        wanted = settings.journal_club if settings.subscribed else ""
        known = self._polls.get(channel.key)
        if known == (wanted, settings.timezone):
            return
        if not wanted:
            self._remove_journal_club(channel.key)
            return
        trigger = journal_club_trigger(settings)
        self._scheduler.add_job(
            self.start_poll, trigger, args=[channel], id=job_id, name=f"journal club {channel.key}",
            replace_existing=True,
        )  # fmt: skip
        self._polls[channel.key] = (wanted, settings.timezone)
        log.info("weekly journal-club poll for %s scheduled on %s %s", channel.key, wanted, settings.timezone)

    def _remove_journal_club(self, key: str) -> None:
        if self._polls.pop(key, None) is not None:
            self._scheduler.remove_job(f"journalclub:{key}")

    def _remove(self, key: str) -> None:
        if self._channels.pop(key, None) is not None:
            self._scheduler.remove_job(f"digest:{key}")
            if self._scheduler.get_job(f"roundup:{key}") is not None:
                self._scheduler.remove_job(f"roundup:{key}")
            log.info("digest for %s unscheduled", key)

    async def _guarded(self, job: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run one job body, tracked for shutdown; a failure is logged and counted (None), never raised into
        APScheduler, which would only log it without the job's context."""
        task = asyncio.current_task()
        tracked = task is not None and task not in self._running
        if tracked:
            self._running.add(task)  # type: ignore[arg-type]
        try:
            return await call()
        except Exception:
            log.exception("scheduled job %s failed", job)
            if self._metrics is not None:
                self._metrics.job_error(job)
            return None
        finally:
            if tracked:
                self._running.discard(task)
