"""HotPapers: the use-cases adapters call. Every method is one unit of work and returns plain dataclasses."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from bot.app.cards import CardContext, cards_for, paper_card, paper_inputs
from bot.app.digest import DigestPoster, PostingPolicy
from bot.app.digest_plan import DigestPlanner
from bot.app.discussion import Discussions, ThreadingPublisher
from bot.app.ingest import Ingestor
from bot.app.journal_club import JournalClub, PublisherFor
from bot.app.pauses import Pauses, resting
from bot.app.votes import VoteQueue, record_votes
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.channel_settings import SettingsChange, apply_options
from bot.domain.config import Config
from bot.domain.errors import BadInput, NotFound
from bot.domain.journal_rules import week_of
from bot.domain.messages import summary_author
from bot.domain.model import (
    Channel,
    ChannelRef,
    ChannelSettings,
    Digest,
    DigestResult,
    Discussion,
    PaperCard,
    PastWinner,
    PollClose,
    PollDraft,
    PollStart,
    PublishAnswer,
    ReplyEvent,
    Roundup,
    RoundupResult,
    Summary,
    ThreadOpened,
    VoteEvent,
    VoteTally,
)
from bot.domain.ports import Clock, MetricsSink, NullMetrics, Publisher, UnitOfWork
from bot.domain.ranking import Candidate, score_card
from bot.domain.records import ChannelActivity
from bot.domain.text import clean_multiline, clean_text

log = logging.getLogger(__name__)


class HotPapers:
    """The engine's one inbound port. Adapters translate platform events into these calls and render the results."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        config: Config,
        clock: Clock,
        context: CardContext,
        ingestor: Ingestor,
        holder: str,
        policy: PostingPolicy | None = None,
        metrics: MetricsSink | None = None,
        discussions: Discussions | None = None,
        vote_lanes: int = 1,
    ) -> None:
        self._uow = uow
        self.discussions = discussions or Discussions(uow, clock=clock, context=context, holder=holder, policy=policy)
        """Threads, replies and the weekly roundup (bot/app/discussion.py); the methods below are its thin front."""
        self._config = config
        self._clock = clock
        self._context = context
        self._ingestor = ingestor
        self._poster = DigestPoster(
            self._uow,
            clock,
            holder=holder,
            policy=policy or PostingPolicy(),
            stopping=lambda: self._stopped,
        )
        self._stopped = False
        # Concurrent reactions are written together, one transaction per group; a lone one at once.
        self._votes = VoteQueue(self._write_votes, lanes=vote_lanes)
        self._planner = DigestPlanner(
            window_days=config.digest.window_days, context=context, clock=clock, unavailable=ingestor.unavailable
        )
        self._pauses = Pauses(uow, clock)
        self._settings_listeners: list[Callable[[ChannelRef, ChannelSettings], None]] = []
        self._metrics: MetricsSink = metrics or NullMetrics()
        # journal club (issue 19)
        self._journal_club = JournalClub(
            self._uow,
            clock,
            config=config.journal_club,
            context=context,
            holder=holder,
            policy=policy or PostingPolicy(),
            ensure_channel=self._ensure_channel,
            preview=self.digest,
        )

    def on_settings_changed(self, listener: Callable[[ChannelRef, ChannelSettings], None]) -> None:
        """Call `listener` after a channel's settings change (the scheduler moves its job at once)."""
        self._settings_listeners.append(listener)

    def _settings_changed(self, channel: ChannelRef, settings: ChannelSettings) -> None:
        for listener in self._settings_listeners:
            listener(channel, settings)

    # ── papers ──────────────────────────────────────────────────────────────────────────────────────────────────

    async def paper(self, ref: str, channel: ChannelRef | None = None, *, user: str | None = None) -> PaperCard:
        """The card for one paper: abstract, best summary, signals, this channel's votes and why it is hot.

        `user` (the platform's user id) is who asked: a paper we do not store costs a request in arXiv's shared
        budget, and each person may spend only so many an hour (`[arxiv] lookups_per_user_per_hour`)."""
        started = time.perf_counter()
        arxiv_id = parse_arxiv_id(ref)
        async with self._uow() as uow:
            # A stored paper that will do (the rule `Ingestor.lookup` applies) is read with everything on its card in
            # one statement on PostgreSQL. The common case — its signals fresh too — gets its card in this same unit
            # of work, which writes (and commits) only an LLM summary made for the card.
            inputs = await paper_inputs(uow, arxiv_id.id, channel)
            if inputs is not None and arxiv_id.version is not None and arxiv_id.version > inputs.paper.version:
                inputs = None
            if inputs is not None and not self._ingestor.stale([inputs.paper], {inputs.paper.id: inputs.signals}):
                now, unavailable = self._clock.now(), self._ingestor.unavailable()
                card = await paper_card(uow, inputs, self._context, channel=channel, now=now, unavailable=unavailable)
                await uow.commit()
                self._metrics.observe_paper(time.perf_counter() - started)
                return card
        # Not stored (arXiv first), a newer version asked for, or signals to refresh: then read it again.
        who = None if user is None else f"{channel.platform if channel else 'cli'}:{user}"
        paper = inputs.paper if inputs else await self._ingestor.lookup(arxiv_id, user=who)
        await self._ingestor.refresh_stale([paper])
        unavailable = self._ingestor.unavailable()
        async with self._uow() as uow:
            inputs = await paper_inputs(uow, paper.id, channel)
            assert inputs is not None, "the ingestor stored the paper"
            now = self._clock.now()
            card = await paper_card(uow, inputs, self._context, channel=channel, now=now, unavailable=unavailable)
            await uow.commit()  # an LLM summary written for the card is cached
        self._metrics.observe_paper(time.perf_counter() - started)
        return card

    async def top(self, channel: ChannelRef, days: int = 7, *, limit: int = 10) -> list[PaperCard]:
        """The channel's most up-voted papers of the last `days` days."""
        if not 1 <= days <= 365:
            raise BadInput(f"days must be between 1 and 365 (got {days})")
        now = self._clock.now()
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
            if row is None:
                return []
            voted = await uow.votes.most_voted(row.id, now - timedelta(days=days), limit=limit)
            papers = await uow.papers.get_many([paper_id for paper_id, _ in voted])
            signals = await uow.signals.latest(list(papers))
            people = await uow.threads.people(row.id, list(papers)) if papers else {}
            ranked = [
                score_card(
                    Candidate(papers[pid], signals.get(pid, ()), tally, discussion=people.get(pid, 0)),
                    self._context.weights,
                    now,
                )
                for pid, tally in voted
                if pid in papers
            ]
            cards = await cards_for(uow, ranked, self._context, now=now)
            await uow.commit()
        return cards

    async def add_summary(
        self, ref: str, channel: ChannelRef, *, author: str, text: str, author_id: str | None = None
    ) -> Summary:
        """Store a community summary written in chat. Empty or oversized text is refused and nothing is written."""
        limit = self._config.summaries.community_max_chars
        body = clean_multiline(text)
        if not body:
            raise BadInput("the summary is empty; write a few sentences about the paper")
        if len(body) > limit:
            raise BadInput(f"the summary is {len(body)} characters; the limit is {limit}")
        arxiv_id = parse_arxiv_id(ref)
        paper = await self._ingestor.lookup(arxiv_id)
        summary = Summary(text=body, source="community", created=self._clock.now(), author=clean_text(author)[:200])
        async with self._uow() as uow:
            row = await self._ensure_channel(uow, channel)
            saved = await uow.summaries.add(paper.id, summary, author_id=author_id, channel_id=row.id)
            await uow.commit()
        return saved

    async def vote_summary(self, channel: ChannelRef, user_id: str, summary_id: int, value: int) -> Summary:
        """Up- or down-vote a community summary (one vote per person; the most up-voted is shown)."""
        if value not in (1, -1):
            raise BadInput("a summary vote is up or down")
        async with self._uow() as uow:
            found = await uow.summaries.get(summary_id)
            if found is None or found[1].source != "community":
                raise NotFound(f"there is no community summary #{summary_id}")
            await uow.summaries.vote(summary_id, f"{channel.platform}:{user_id}"[:100], value)
            await uow.commit()
            updated = await uow.summaries.get(summary_id)
        assert updated is not None
        return updated[1]

    async def report_summary(self, ref: str, channel: ChannelRef, *, user_id: str) -> PaperCard:
        """Report the summary a paper's card shows. Three reports from different people hide it, and the card
        falls back to the next source. Returns the card as it is now."""
        card = await self.paper(ref, channel)
        if card.summary.id is None:
            raise BadInput("the summary shown is computed from the abstract; there is nothing to report")
        now = self._clock.now()
        async with self._uow() as uow:
            key = f"summary-report:{card.summary.id}:{user_id}"[:128]
            if await uow.events.first_delivery(channel.platform, key, now=now):
                await uow.summaries.report(card.summary.id)
            await uow.commit()
        return await self.paper(ref, channel)

    async def regenerate_summary(self, ref: str, channel: ChannelRef | None = None) -> PaperCard:
        """Ask the LLM again for a paper's summary (after a bad one); the new one is cached like the first."""
        llm = self._context.llm
        if llm is None:
            raise BadInput("no LLM is configured ([llm] enabled = true); there is nothing to regenerate")
        paper = await self._ingestor.lookup(parse_arxiv_id(ref))
        async with self._uow() as uow:
            await uow.summaries.forget_llm(paper.id, model=llm.model)
            await uow.commit()
        return await self.paper(ref, channel)

    # ── votes ───────────────────────────────────────────────────────────────────────────────────────────────────

    async def record_vote(self, event: VoteEvent) -> VoteTally | None:
        """Apply one reaction (or its removal) or button vote. Returns the paper's tally in the channel, or None
        when the event is ignored: a bot's reaction, a retried delivery, or a message the bot did not post."""
        tally = None if _not_a_vote(event) else await self._votes.submit(event)
        self._metrics.vote(event.channel.platform, _vote_result(event, counted=tally is not None))
        return tally

    async def record_reaction(self, event: VoteEvent) -> bool:
        """`record_vote` for a reaction whose caller shows no tally (the platform shows the message's reactions):
        the paper's votes are not counted for it. True when it counted, False when it was ignored. (Written out
        rather than through `record_vote`: a burst of reactions pays for every coroutine frame.)"""
        counted = not _not_a_vote(event) and await self._votes.submit(event, tally=False) is not None
        self._metrics.vote(event.channel.platform, _vote_result(event, counted=counted))
        return counted

    async def _write_votes(self, events: list[VoteEvent], tallied: list[bool]) -> list[VoteTally | None]:
        async with self._uow() as uow:
            now = self._clock.now()
            tallies = await record_votes(
                uow,
                events,
                now=now,
                ensure_channel=self._ensure_channel,
                sync_commit=self._config.database.vote_sync_commit,
                tallied=None if all(tallied) else tallied,
            )
            await uow.commit()  # the event ids are remembered even when every event is ignored
        return tallies

    async def stop(self) -> None:
        """Stop between digest entries: a digest running now releases its claim after the message in flight, and
        resumes on the next run (here or on another replica)."""
        self._stopped = True

    async def clear_reactions(
        self, channel: ChannelRef, message_id: str, reaction: str | None = None
    ) -> VoteTally | None:
        """A moderator removed every reaction from a message the bot posted (`reaction` None), or every reaction of
        one emoji: the votes those reactions made go (a vote another same-sign reaction still holds stays). Returns
        the paper's tally in the channel, or None for a message the bot did not post."""
        async with self._uow() as uow:
            channel_id = await uow.channels.id_of(channel)
            if channel_id is None:
                return None
            key = (channel_id, message_id)
            paper_id = (await uow.posts.papers_of_messages([key])).get(key)
            if paper_id is None:
                return None
            await uow.votes.clear_reactions(channel_id, paper_id, reaction)
            tally = (await uow.votes.tallies(channel_id, [paper_id])).get(paper_id, VoteTally())
            await uow.commit()
        self._metrics.vote(channel.platform, "removed")
        return tally

    async def forget_user(self, platform: str, user_id: str) -> int:
        """Delete a user's votes, summaries, thread replies and journal-club votes (a data-deletion request).
        Returns how many rows went."""
        async with self._uow() as uow:
            removed = await uow.votes.forget(platform, user_id)
            removed += await uow.summaries.delete_by_author(summary_author(platform, user_id))
            removed += await uow.threads.forget(platform, user_id)
            removed += await uow.polls.forget(platform, user_id)  # journal-club votes (issue 19)
            await uow.commit()
        return removed

    # ── digests ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def digest(self, channel: ChannelRef, day: date | None = None) -> Digest:
        """A preview of the channel's digest for `day` (default: the latest announcement). No side effects."""
        async with self._uow() as uow:
            await uow.read_only()
            row, activity = await uow.channels.find_with_activity(channel)  # one round trip on PostgreSQL
            settings = self._settings_of(row)
            target = day or await self._default_day(uow, settings)
            digest = await self._planner.build(uow, row, channel, settings, target, activity=activity)
            if digest.announced:
                return digest
            latest = await uow.papers.latest_announcement(date.max)
            # arXiv announces on weekdays: a weekday after the last one we ingested may have papers we never read.
            ingested = latest is not None and (target <= latest or target.weekday() >= 5)
            return dataclasses.replace(digest, ingested=ingested)

    async def post_digest(self, channel: ChannelRef, day: date | None, publisher: Publisher) -> DigestResult:
        """Post the digest exactly once per (channel, day), resuming an interrupted one where it stopped.

        Transient platform errors are retried until the channel's day is over. A channel (or workspace) the
        platform refuses is paused with the reason and the fix, and its admins are told where the platform
        allows; a paused channel costs one request a day (its scheduled run), and resumes by itself when that
        request succeeds."""
        now = self._clock.now()
        async with self._poster.starting:
            row, activity, target = await self._digest_channel(channel, day)
        settings = row.settings
        pause = settings.paused
        if resting(pause, now):
            return DigestResult(Digest(channel, target, ()), 0, 0, "paused", pause=pause)
        if settings.threads != "button":
            publisher = ThreadingPublisher(publisher, self.discussions, settings.threads)
        result = await self._poster.post(
            channel,
            target,
            publisher,
            plan=self._planner.for_channel(row, channel, target, activity=activity),
            announce_empty=settings.announce_empty,
            deadline=self._give_up_at(settings, now),
        )
        if result.state == "paused" and result.pause is not None:
            await self._pauses.paused(channel, result.pause, publisher, already=pause is not None)
        elif pause is not None and result.state != "held-elsewhere":
            await self._pauses.unpause(channel)
            log.info("%s resumed by itself: the platform takes its digest again", channel.key)
        if result.state in ("posted", "resumed", "empty"):
            self._metrics.digest_posted(channel.platform, result.posted)
        return result

    async def _digest_channel(
        self, channel: ChannelRef, day: date | None
    ) -> tuple[Channel, ChannelActivity | None, date]:
        """The channel a digest is posted in, its vote activity (for a new plan) and the digest's day. Read without a
        transaction — the channel's row and activity in one round trip on PostgreSQL — when the channel is stored
        under this name, as a scheduled channel is: each of a hundred digests starting together costs the start's
        share of the event loop and the pool. A channel seen for the first time, or renamed, is written first."""
        channel.checked()  # adapters build refs from platform ids; none may outgrow its column
        async with self._uow() as uow:
            await uow.read_only()
            row, activity = await uow.channels.find_with_activity(channel)
            if row is not None and not channel.renames(row.ref.name):
                return row, activity, day or await self._default_day(uow, row.settings)
        async with self._uow() as uow:
            row = await self._ensure_channel(uow, channel)
            target = day or await self._default_day(uow, row.settings)
            await uow.commit()
        return row, None, target

    def _give_up_at(self, settings: ChannelSettings, now: datetime) -> datetime:
        """When retrying a digest's transient failures stops: the end of the channel's day, or sooner if set."""
        zone = ZoneInfo(settings.timezone)
        local = now.astimezone(zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), dt_time(0), tzinfo=zone)
        minutes = self._config.digest.retry_for_minutes
        return min(midnight, now + timedelta(minutes=minutes)) if minutes else midnight

    async def pause_workspace(self, platform: str, workspace: str, *, reason: str, fix: str) -> int:
        """Pause every subscribed channel of a workspace (a revoked token, an uninstalled app). Returns how many."""
        return await self._pauses.pause_workspace(platform, workspace, reason=reason, fix=fix)

    async def _default_day(self, uow: UnitOfWork, settings: ChannelSettings) -> date:
        today = self._clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        return await uow.papers.latest_announcement(today) or today

    # ── channel settings ────────────────────────────────────────────────────────────────────────────────────────

    async def subscribe(
        self, channel: ChannelRef, options: Mapping[str, str] | SettingsChange | None = None, *, by: str | None = None
    ) -> ChannelSettings:
        """Subscribe the channel, applying `options`: text typed in chat (`{"time": "09:00"}`) or a typed
        SettingsChange (slash-command options). A bad option raises BadInput; nothing changes.
        Subscribing a paused channel resumes it; `by` (the admin's user id) is who hears about a later pause."""
        async with self._uow() as uow:
            row = await self._ensure_channel(uow, channel)
            settings = apply_options(self._settings_of(row), options or {})
            settings = dataclasses.replace(settings, subscribed=True, paused=None)
            await uow.channels.save(row, settings, by=by)
            await uow.commit()
        self._settings_changed(channel, settings)
        return settings

    async def unsubscribe(self, channel: ChannelRef) -> None:
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
            if row is None or not row.subscribed:
                raise NotFound("this channel is not subscribed")
            settings = dataclasses.replace(self._settings_of(row), subscribed=False)
            await uow.channels.save(row, settings)
            await uow.commit()
        self._settings_changed(channel, settings)

    async def settings(self, channel: ChannelRef) -> ChannelSettings:
        async with self._uow() as uow:
            return self._settings_of(await uow.channels.find(channel))

    def default_settings(self) -> ChannelSettings:
        d = self._config.digest
        return ChannelSettings(
            top_n=d.top_n,
            post_time=d.post_time,
            timezone=d.timezone,
            weekdays=d.weekdays,
            announce_empty=d.announce_empty,
            subscribed=False,
        )

    def _settings_of(self, row: Channel | None) -> ChannelSettings:
        return self.default_settings() if row is None else row.settings

    async def _ensure_channel(self, uow: UnitOfWork, channel: ChannelRef) -> Channel:
        channel.checked()  # adapters build refs from platform ids; none may outgrow its column
        return await uow.channels.ensure(channel, defaults=self.default_settings(), now=self._clock.now())

    # ── discussion threads and the weekly roundup (bot/app/discussion.py) ────────────────────────────────────────────

    async def discuss(self, channel: ChannelRef, target: str, publisher: Publisher) -> ThreadOpened:
        """The Discuss button (`target`: the card's message id) or `/thread REF` (a paper posted here): open the
        card's thread, or find the one already open."""
        return await self.discussions.discuss(channel, target, publisher)

    async def record_reply(self, event: ReplyEvent) -> Discussion | None:
        """A reply in a thread the bot opened (bots never count; a repeat counts once)."""
        return await self.discussions.record_reply(event)

    async def remove_reply(self, channel: ChannelRef, message_id: str) -> Discussion | None:
        """A deleted message: if it was a counted reply, it counts no more."""
        return await self.discussions.remove_reply(channel, message_id)

    async def roundup(self, channel: ChannelRef, day: date | None = None) -> Roundup:
        """A preview of the week's roundup (the week ending on `day`, default today). No side effects."""
        return await self.discussions.roundup(channel, day)

    async def post_roundup(self, channel: ChannelRef, publisher: Publisher, day: date | None = None) -> RoundupResult:
        """Post the week's roundup exactly once per channel and week."""
        return await self.discussions.post_roundup(channel, publisher, day)

    # ── the channel's public page (issue 20; bot/web) ──────────────────────────────────────────────────────────

    async def publish(
        self, channel: ChannelRef, action: str, *, command: str = "/hotpapers subscribe"
    ) -> PublishAnswer:
        """`publish=yes|confirm|no|rotate` for the channel's web page (admins only: the adapter checks). Returns a
        PublishAnswer: the confirmation to show, or the new URL (shown once)."""
        from bot.app.publishing import change_publishing

        return await change_publishing(
            self._uow,
            channel,
            action,
            config=self._config,
            now=self._clock.now(),
            ensure=self._ensure_channel,
            command=command,
        )

    # ── journal club (issue 19; bot/app/journal_club.py) ────────────────────────────────────────────────────────────

    async def journal_club_start(
        self,
        channel: ChannelRef,
        publisher: Publisher,
        *,
        candidates: int | str | None = None,
        closes: str | None = None,
        by: str | None = None,
    ) -> PollStart:
        """`/journalclub start [candidates=5] [closes=48h]` (channel admins: the adapter checks): a poll over the
        week's top papers here, started once however many replicas are asked."""
        settings = await self.settings(channel)
        return await self._journal_club.start(
            channel, publisher, candidates=candidates, closes=closes, by=by, timezone=settings.timezone
        )

    async def journal_club_weekly(self, channel: ChannelRef, publisher: Publisher) -> PollStart | None:
        """The channel's weekly poll (its `journal_club` setting): one per ISO week in the channel's time zone,
        however many replicas run the job. None when the week had too few papers for a poll (nothing is posted)."""
        settings = await self.settings(channel)
        week = week_of(self._clock.now().astimezone(ZoneInfo(settings.timezone)))
        try:
            return await self._journal_club.start(channel, publisher, week=week, timezone=settings.timezone)
        except BadInput as error:
            log.info("no weekly journal-club poll in %s: %s", channel.key, error)
            return None

    async def journal_club_close(self, channel: ChannelRef, publisher: Publisher) -> PollClose:
        """`/journalclub close`: end the channel's open poll now and announce its winner (once)."""
        return await self._journal_club.close(channel, publisher)

    async def journal_club_history(self, channel: ChannelRef, *, limit: int = 10) -> list[PastWinner]:
        return await self._journal_club.history(channel, limit=limit)

    async def journal_club_poll(self, channel: ChannelRef) -> PollDraft | None:
        """The channel's open poll with its live counts, if any."""
        return await self._journal_club.current(channel)

    async def poll_vote(
        self, channel: ChannelRef, message_id: str, user_id: str, choice: int
    ) -> tuple[PollDraft, int | None]:
        """A vote in a poll whose votes the core records (Slack buttons, the console): one per person, changeable.
        Returns the poll with its live counts and the person's previous choice (None: a first vote)."""
        return await self._journal_club.vote(channel, message_id, user_id, choice)

    async def poll_unvote(self, channel: ChannelRef, message_id: str, user_id: str, choice: int) -> PollDraft:
        """A person took back their vote for `choice` (Discord's live vote events). Returns the poll's counts."""
        return await self._journal_club.unvote(channel, message_id, user_id, choice)

    async def close_due_polls(self, publisher_for: PublisherFor) -> list[PollClose]:
        """The scheduler's sweep: close polls past their close, finish starts and closes whose replica died."""
        return await self._journal_club.close_due(publisher_for)


def _not_a_vote(event: VoteEvent) -> bool:
    """A bot's reaction, or a value that is not a vote: ignored before it is queued."""
    return event.by_bot or event.value not in (1, -1)


def _vote_result(event: VoteEvent, *, counted: bool) -> str:
    """The `hotpapers_votes_recorded_total` label of a vote event."""
    return "removed" if counted and event.removed else "recorded" if counted else "ignored"
