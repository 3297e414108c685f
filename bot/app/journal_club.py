"""The journal club (issue 19): a poll over the week's top papers in a channel, closed exactly once, its winner
announced with its card, and the channel's past winners.

- Candidates: the papers the channel's digests posted, or its people voted on, in the last `[journal_club]
  week_days` days (a channel that has neither gets its current digest's papers), best first by the channel's net
  votes, then its discussion (how many people replied in the paper's thread, issue 18), then hotness.
- Exactly once, like a digest (`bot/app/digest.py`): the start and the close are each claimed in the database with a
  lease and a fence token (`bot/storage/polls.py`); before the poll or the announcement is posted its intent is
  committed, and the message carries its key (`bot.domain.model.poll_key`), so a start or close whose answer was lost,
  or
  that a replica took over, adopts the message `find` shows instead of posting another. A holder that lost its
  fence records nothing and deletes its copy only once the new holder has recorded another.
- A poll is closed when due by whichever replica's sweep finds it first (`close_due`), so a poll whose replica was
  down at its close is closed by another one, or by the same one when it is back.
- The winner's announcement gets a discussion thread (`Publisher.open_thread`, issue 18), opened before the close
  is recorded so a takeover opens the same one.
- The winner has the most votes; a tie is broken by the channel's net votes, then hotness, then the poll's order,
  and the announcement says which decided.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.app.cards import CardContext, cards_of_chosen
from bot.app.digest import ClaimLost, PostingPolicy
from bot.domain.config import JournalClubConfig
from bot.domain.errors import BadInput, HotPapersError, NotFound, Undeliverable, UpstreamUnavailable
from bot.domain.journal_rules import parse_closes, pick_winner
from bot.domain.messages import NO_POLL, POLL_NOT_OPEN, poll_label, poll_thread_name, poll_thread_opener
from bot.domain.model import (
    POLL_MAX_OPTIONS,
    Channel,
    ChannelRef,
    Digest,
    PaperCard,
    PastWinner,
    PollClose,
    PollDraft,
    PollOption,
    PollOutcome,
    PollStart,
    PostedMessage,
    PostKey,
    poll_key,
)
from bot.domain.ports import Clock, PollPublisher, Publisher, UnitOfWork
from bot.domain.records import PollRecord
from bot.domain.text import whole_number

log = logging.getLogger(__name__)

EnsureChannel = Callable[[UnitOfWork, ChannelRef], Awaitable[Channel]]
Preview = Callable[[ChannelRef], Awaitable[Digest]]
PublisherFor = Callable[[str], Publisher | None]


class JournalClub:
    """The journal-club use cases; `HotPapers` exposes them as thin methods."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        config: JournalClubConfig,
        context: CardContext,
        holder: str,
        policy: PostingPolicy,
        ensure_channel: EnsureChannel,
        preview: Preview,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._config = config
        self._context = context
        self._holder = holder
        self._policy = policy
        self._ensure_channel = ensure_channel
        self._preview = preview

    # ── starting ────────────────────────────────────────────────────────────────────────────────────────────────

    async def start(
        self,
        channel: ChannelRef,
        publisher: Publisher,
        *,
        candidates: int | str | None = None,
        closes: str | None = None,
        by: str | None = None,
        week: str | None = None,
        timezone: str = "UTC",
    ) -> PollStart:
        """Start a poll in the channel (an admin's command, or the weekly schedule with its `week`)."""
        polls = _poll_publisher(publisher)
        count = self._config.candidates if candidates is None else candidates
        wanted = whole_number(str(count), what="candidates", low=2, high=POLL_MAX_OPTIONS)
        now = self._clock.now()
        hours = parse_closes(closes, now=now, timezone=timezone, default_hours=self._config.hours)
        async with self._uow() as uow:
            row = await self._ensure_channel(uow, channel)
            current = await uow.polls.current(row.id)
            await uow.commit()
        if current is not None and current.state == "open":
            return PollStart("open", await self._draft(channel, current))
        picked = await self.candidates(channel, wanted) if current is None else []
        if current is None and len(picked) < 2:
            raise BadInput("a journal-club poll needs at least two papers: post a digest here or vote on papers first")
        async with self._uow() as uow:
            outcome, record = await uow.polls.claim_start(
                row.id,
                holder=self._holder,
                now=now,
                lease=self._policy.lease,
                candidates=[card.paper.id for card in picked],
                closes_at=now + timedelta(hours=hours),
                hours=hours,
                week=week,
                by=by,
            )
            await uow.commit()
        if record is None:
            return PollStart("done-before")
        draft = await self._draft(channel, record)
        if outcome in ("open", "held-elsewhere", "done-before"):
            return PollStart(outcome, draft)
        message = await self._post_poll(channel, polls, record, draft)
        return PollStart("started" if outcome == "new" else "resumed", draft, message)

    async def candidates(self, channel: ChannelRef, limit: int) -> list[PaperCard]:
        """The week's top papers in the channel, best first (see the module's docstring)."""
        now = self._clock.now()
        since = now - timedelta(days=self._config.week_days)
        async with self._uow() as uow:
            await uow.read_only()
            row = await uow.channels.find(channel)
            ids: list[str] = []
            if row is not None:
                voted = await uow.votes.most_voted(row.id, since, limit=50)
                ids = list(
                    dict.fromkeys([paper for paper, _ in voted] + await uow.polls.posted_since(row.id, since.date()))
                )
        if not ids:
            ids = [entry.card.paper.id for entry in (await self._preview(channel)).entries]
        cards = await self._cards(channel, ids)
        async with self._uow() as uow:
            await uow.read_only()
            people = await uow.threads.people(row.id, list(cards)) if row is not None else {}
        ranked = sorted(
            cards.values(),
            key=lambda card: (-card.votes.net, -people.get(card.paper.id, 0), -card.score, card.paper.id),
        )
        return ranked[:limit]

    async def _post_poll(
        self, channel: ChannelRef, publisher: PollPublisher, record: PollRecord, draft: PollDraft
    ) -> PostedMessage:
        key = poll_key(record.created_at.date(), record.id, "poll")

        async def intend(uow: UnitOfWork, until: datetime) -> bool:
            return await uow.polls.intend_start(record.id, record.fence, now=self._clock.now(), until=until)

        async def post() -> PostedMessage:
            return await publisher.start_poll(channel, draft, key=key)

        try:
            message_id = await self._deliver(
                channel, publisher, key, since=record.created_at, adopt=record.start_intent, intend=intend, post=post
            )
        except Undeliverable:
            async with self._uow() as uow:
                await uow.polls.abandon(record.id, record.fence)
                await uow.commit()
            raise
        except BaseException as error:
            await self._release(record, error)
            raise
        async with self._uow() as uow:
            recorded = await uow.polls.record_start(record.id, record.fence, message_id)
            now = await uow.polls.get(record.id)
            await uow.commit()
        if recorded != "recorded":
            await self._extra_copy(channel, publisher, message_id, now.message_id if now else None)
            raise ClaimLost(f"poll {record.id} was taken over while it was being posted")
        return PostedMessage(channel, message_id)

    # ── closing ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def close(self, channel: ChannelRef, publisher: Publisher) -> PollClose:
        """An admin closes the channel's open poll now."""
        async with self._uow() as uow:
            await uow.read_only()
            channel_id = await uow.channels.id_of(channel)
            record = await uow.polls.current(channel_id) if channel_id is not None else None
        if record is None:
            raise NotFound(NO_POLL)
        if record.state == "starting":
            return PollClose("held-elsewhere")
        return await self._close(channel, _poll_publisher(publisher), record.id, force=True)

    async def close_due(self, publisher_for: PublisherFor) -> list[PollClose]:
        """Close every poll past its close, and finish every start or close whose holder's lease ran out (it
        died or stalled): the scheduler's sweep, on every replica. One failure does not stop the others."""
        async with self._uow() as uow:
            await uow.read_only()
            due = await uow.polls.due(self._clock.now())
        results = []
        for poll_id, platform, workspace, channel_id, name in due:
            publisher = publisher_for(platform)
            if not isinstance(publisher, PollPublisher):
                continue
            channel = ChannelRef(platform, workspace, channel_id, name)
            try:
                results.append(await self._sweep(channel, publisher, poll_id))
            except (HotPapersError, ClaimLost) as error:
                log.warning("journal-club poll %d in %s: %s", poll_id, channel.key, error)
        return results

    async def _sweep(self, channel: ChannelRef, publisher: PollPublisher, poll_id: int) -> PollClose:
        now = self._clock.now()
        async with self._uow() as uow:
            record = await uow.polls.resume_start(poll_id, holder=self._holder, now=now, lease=self._policy.lease)
            await uow.commit()
        if record is not None:  # a start whose holder died: finish it; the poll closes at its time
            log.info("resuming the start of journal-club poll %d in %s", poll_id, channel.key)
            await self._post_poll(channel, publisher, record, await self._draft(channel, record))
            return PollClose("not-due")
        return await self._close(channel, publisher, poll_id, force=False)

    async def _close(self, channel: ChannelRef, publisher: PollPublisher, poll_id: int, *, force: bool) -> PollClose:
        now = self._clock.now()
        async with self._uow() as uow:
            outcome, record = await uow.polls.claim_close(
                poll_id, holder=self._holder, now=now, lease=self._policy.lease, force=force
            )
            await uow.commit()
        if record is None or outcome not in ("new", "resumed"):
            done = await self._outcome(channel, record) if record is not None and outcome == "closed-before" else None
            return PollClose("closed-before" if record is None else outcome, done)  # type: ignore[arg-type]
        try:
            result = await self._count(channel, publisher, record)
            message_id = await self._announce(channel, publisher, record, result)
            thread_id = await self._thread(channel, publisher, record, message_id, result)
        except BaseException as error:
            await self._release(record, error)
            raise
        async with self._uow() as uow:
            recorded = await uow.polls.record_announce(record.id, record.fence, message_id, now=self._clock.now())
            if recorded == "recorded" and thread_id is not None:
                await uow.polls.record_thread(record.id, thread_id)
            current = await uow.polls.get(record.id)
            await uow.commit()
        if recorded != "recorded":
            await self._extra_copy(channel, publisher, message_id, current.announce_message_id if current else None)
            return PollClose("held-elsewhere")
        return PollClose("closed", replace(result, thread_id=thread_id))

    async def _thread(
        self, channel: ChannelRef, publisher: PollPublisher, record: PollRecord, message_id: str, outcome: PollOutcome
    ) -> str | None:
        """The winner's discussion thread on the announcement, opened while the close is still held (checked with
        the fence just before): `open_thread` is idempotent, so a close taken over opens it once, and a holder that
        lost its fence opens none on its late copy. A platform that refuses threads for good (a missing permission)
        gets no thread and the poll still closes; one that is down fails the close, retried by the next sweep."""
        async with self._uow() as uow:
            until = self._clock.now() + self._policy.lease
            held = await uow.polls.intend_announce(record.id, record.fence, now=self._clock.now(), until=until)
            await uow.commit()
        if not held:
            return None
        try:
            return await publisher.open_thread(
                channel, message_id, name=poll_thread_name(outcome), opener=poll_thread_opener(outcome)
            )
        except Undeliverable as error:
            log.warning("no discussion thread for journal-club poll %d in %s: %s", outcome.poll_id, channel.key, error)
            return None

    async def _count(self, channel: ChannelRef, publisher: PollPublisher, record: PollRecord) -> PollOutcome:
        """The poll's result: stored by an earlier holder of the close, or counted now and stored (fenced)."""
        options = await self._options(record.candidates)
        if record.counts is not None and record.winner is not None:
            cards = await self._cards(channel, [record.winner])
            closed = record.closed_at or self._clock.now()
            return PollOutcome(record.id, channel, cards[record.winner], options, record.counts, record.tie, closed)
        async with self._uow() as uow:
            await uow.read_only()
            recorded = await uow.polls.tally(record.id, len(options))
        ended = PollDraft(record.id, channel, options, record.closes_at, record.hours, recorded, closed=True)
        final = None
        if record.message_id:
            try:
                final = await publisher.end_poll(channel, record.message_id, final=ended)
            except Undeliverable as error:  # the poll is gone (deleted by a moderator): the recorded votes decide
                log.warning("ending journal-club poll %d in %s: %s", record.id, channel.key, error)
        counts = final.counts if final is not None and len(final.counts) == len(options) else recorded
        winner, tie = await self._winner(channel, options, counts)
        async with self._uow() as uow:
            until = self._clock.now() + self._policy.lease
            stored = await uow.polls.store_result(record.id, record.fence, counts, winner.paper.id, tie, until=until)
            await uow.commit()
        if not stored:
            raise ClaimLost(f"the close of poll {record.id} was taken over")
        return PollOutcome(record.id, channel, winner, options, tuple(counts), tie, self._clock.now())

    async def _winner(
        self, channel: ChannelRef, options: Sequence[PollOption], counts: Sequence[int]
    ) -> tuple[PaperCard, str]:
        """The most votes; a tie broken by the channel's net votes, then hotness, then the poll's order."""
        most = max(counts, default=0)
        tied = [option.paper_id for option, count in zip(options, counts, strict=False) if count == most]
        cards = await self._cards(channel, tied or [options[0].paper_id])
        return pick_winner([paper for paper in tied if paper in cards] or list(cards), cards, most)

    async def _announce(
        self, channel: ChannelRef, publisher: PollPublisher, record: PollRecord, outcome: PollOutcome
    ) -> str:
        key = poll_key(record.created_at.date(), record.id, "win")

        async def intend(uow: UnitOfWork, until: datetime) -> bool:
            return await uow.polls.intend_announce(record.id, record.fence, now=self._clock.now(), until=until)

        async def post() -> PostedMessage:
            return await publisher.announce_winner(channel, outcome, key=key)

        return await self._deliver(
            channel, publisher, key, since=record.created_at, adopt=record.announce_intent, intend=intend, post=post
        )

    # ── votes the core records, history ─────────────────────────────────────────────────────────────────────────

    async def vote(
        self, channel: ChannelRef, message_id: str, user_id: str, choice: int
    ) -> tuple[PollDraft, int | None]:
        """One person's vote as the core records it (Slack's buttons, the console; Discord's live vote events, where
        the poll's own counts still decide): one per person, changeable until the poll closes. Returns the poll
        with its live counts (the adapter updates its message) and the person's previous choice."""
        now = self._clock.now()
        async with self._uow() as uow:
            record = await self._open_poll(uow, channel, message_id)
            if not 0 <= choice < len(record.candidates):
                raise BadInput(f"this poll has answers 1 to {len(record.candidates)}")
            previous = await uow.polls.choice_of(record.id, user_id)
            await uow.polls.vote(record.id, user_id, choice, now=now)
            await uow.commit()
        return await self._draft(channel, record), previous

    async def unvote(self, channel: ChannelRef, message_id: str, user_id: str, choice: int) -> PollDraft:
        """A person takes their vote for `choice` back (Discord's MESSAGE_POLL_VOTE_REMOVE): a vote since cast for
        another answer stays. Returns the poll with its counts."""
        async with self._uow() as uow:
            record = await self._open_poll(uow, channel, message_id)
            await uow.polls.unvote(record.id, user_id, choice)
            await uow.commit()
        return await self._draft(channel, record)

    async def _open_poll(self, uow: UnitOfWork, channel: ChannelRef, message_id: str) -> PollRecord:
        channel_id = await uow.channels.id_of(channel)
        record = await uow.polls.by_message(channel_id, message_id) if channel_id is not None else None
        if record is None:
            raise NotFound("that is not a journal-club poll of this bot here")
        if record.state != "open" or record.closes_at <= self._clock.now():
            raise BadInput(POLL_NOT_OPEN)
        return record

    async def current(self, channel: ChannelRef) -> PollDraft | None:
        """The channel's open poll with its live counts, if any."""
        async with self._uow() as uow:
            await uow.read_only()
            channel_id = await uow.channels.id_of(channel)
            record = await uow.polls.current(channel_id) if channel_id is not None else None
        return None if record is None else await self._draft(channel, record)

    async def history(self, channel: ChannelRef, *, limit: int = 10) -> list[PastWinner]:
        """The channel's past winners, newest first, with the day each poll closed."""
        async with self._uow() as uow:
            await uow.read_only()
            channel_id = await uow.channels.id_of(channel)
            if channel_id is None:
                return []
            records = await uow.polls.history(channel_id, limit=limit)
            papers = await uow.papers.get_many([r.winner for r in records if r.winner])
        winners = []
        for r in records:
            if r.winner is None or r.closed_at is None:
                continue
            counts = r.counts or ()
            index = r.candidates.index(r.winner) if r.winner in r.candidates else -1
            title = papers[r.winner].title if r.winner in papers else r.winner
            votes = counts[index] if 0 <= index < len(counts) else 0
            winners.append(PastWinner(r.id, r.closed_at.date(), r.winner, title, votes, sum(counts), r.tie))
        return winners

    # ── the parts ───────────────────────────────────────────────────────────────────────────────────────────────

    async def _deliver(
        self,
        channel: ChannelRef,
        publisher: PollPublisher,
        key: PostKey,
        *,
        since: datetime,
        adopt: bool,
        intend: Callable[[UnitOfWork, datetime], Awaitable[bool]],
        post: Callable[[], Awaitable[PostedMessage]],
    ) -> str:
        """The message for `key`: adopted when an earlier holder may have sent it (its intent is stored), else
        sent after its intent is committed. A send whose answer was lost is looked up before anything else."""
        if adopt:
            found = await self._adopt(channel, publisher, key, since)
            if found is not None:
                return found
        async with self._uow() as uow:
            if not await intend(uow, self._clock.now() + self._policy.lease):
                raise ClaimLost(f"lost the claim before posting {key}")
            await uow.commit()
        try:
            return (await post()).message_id
        except UpstreamUnavailable:
            found = await self._adopt(channel, publisher, key, since)
            if found is None:
                raise
            return found

    async def _adopt(self, channel: ChannelRef, publisher: PollPublisher, key: PostKey, since: datetime) -> str | None:
        """The message carrying `key` if one exists (extra copies, which nobody recorded, are deleted)."""
        found = (await publisher.find(channel, [key], since=since - self._policy.find_margin)).get(key, [])
        for extra in found[1:]:
            await publisher.delete(channel, extra)
        return found[0] if found else None

    async def _extra_copy(self, channel: ChannelRef, publisher: Publisher, ours: str, recorded: str | None) -> None:
        """We lost the claim after posting: our message is provably extra only once another one is recorded."""
        if recorded is not None and recorded != ours:
            await publisher.delete(channel, ours)

    async def _release(self, record: PollRecord, error: BaseException) -> None:
        try:
            async with self._uow() as uow:
                await uow.polls.release(
                    record.id, record.fence, now=self._clock.now(), error=f"{type(error).__name__}: {error}"[:300]
                )
                await uow.commit()
        except Exception:  # the lease runs out by itself; the original error matters more
            log.warning("could not release journal-club poll %d", record.id, exc_info=True)

    async def _draft(self, channel: ChannelRef, record: PollRecord) -> PollDraft:
        options = await self._options(record.candidates)
        async with self._uow() as uow:
            await uow.read_only()
            counts = record.counts or await uow.polls.tally(record.id, len(options))
        return PollDraft(
            record.id, channel, options, record.closes_at, record.hours, tuple(counts), closed=record.state == "closed"
        )

    async def _outcome(self, channel: ChannelRef, record: PollRecord) -> PollOutcome | None:
        if record.winner is None or record.counts is None:
            return None
        cards = await self._cards(channel, [record.winner])
        options = await self._options(record.candidates)
        closed = record.closed_at or self._clock.now()
        return PollOutcome(record.id, channel, cards[record.winner], options, record.counts, record.tie, closed)

    async def _options(self, paper_ids: Sequence[str]) -> tuple[PollOption, ...]:
        async with self._uow() as uow:
            await uow.read_only()
            papers = await uow.papers.get_many(list(paper_ids))
        return tuple(
            PollOption(pid, papers[pid].title, poll_label(papers[pid].title), papers[pid].abs_url)
            for pid in paper_ids
            if pid in papers
        )

    async def _cards(self, channel: ChannelRef, paper_ids: Sequence[str]) -> dict[str, PaperCard]:
        """Cards scored as the channel's digest would score them, not filtered (the papers are chosen already)."""
        now = self._clock.now()
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
            cards = await cards_of_chosen(uow, row, paper_ids, self._context, now=now)
            await uow.commit()  # an LLM summary written for a card is cached
        return cards


def _poll_publisher(publisher: Publisher) -> PollPublisher:
    if not isinstance(publisher, PollPublisher):
        raise BadInput(f"journal-club polls are not available on {publisher.platform} yet")
    return publisher
