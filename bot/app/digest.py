"""Posting a digest exactly once on the platform: claim → plan → for each message: intent, send, fenced record.

- The poster is given the digest's plan (`DigestPlan`, built by `bot.app.digest_plan`): one unit of work claims
  without a transaction (a new digest's claim is one statement, committed at once, so other replicas see it), the
  next stores the new plan with the claim's fence, the lease's renewal and the header's intent (on PostgreSQL one
  statement), or reads the stored plan of a digest it resumes and rebuilds its cards from it. One run per
  (channel, day) at a time in this process; the claim keeps every other process out.
- The claim on (channel, day) carries a fence token that every takeover bumps; nothing about the digest is recorded
  without the current token (it is in the WHERE of every write), and every write renews the lease. No write needs
  a transaction around it; on PostgreSQL an entry's record (with the next entry's intent and the renewal) is one
  statement.
- Before each message its intent is committed — by the previous entry's record, in the same statement, for all
  but the first; the message carries its idempotency key (`PostKey`) inside it.
  A send whose outcome is unknown (a timeout, a 5xx, a reset) is looked up on the platform by that key before it
  is sent again, and so is every intent a resumed or taken-over digest inherits (`_reconcile`): a message that
  exists is adopted, extra copies that nobody recorded are deleted.
- A holder that lost its fence records nothing. It deletes its own copy only once the new holder has recorded
  another message for the same key — the one case where that copy is provably an extra nobody will adopt. If that
  record is late (the new holder stalled too), the new holder's last look-up before it finishes removes the copy.
  A holder frozen between two sends sends nothing after waking: half a lease after its last write it renews the
  lease — fenced — before the next send, and stops there when it was taken over.
- Transient platform errors are retried with backoff, the lease kept renewed, until the channel's day is over.
  Permanent ones end one entry (skipped), or the run with the channel or workspace to pause (the service does).
- First messages first: while other digests of this process are starting (waiting for their database phase, in it,
  or sending their first message), a run holds its next entry back (`bot.app.digest_starts`), for a bounded time.
  Many channels sharing a post time then all get their digest started as early as the machine allows, instead of
  the last ones waiting for the first ones' whole bursts; on a platform that paces each channel (Slack: 3 at once,
  then 1 a second) the entries held back lose nothing, as the channel's pace refills meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal, Protocol, TypeVar

from bot.app.digest_starts import Opening, Starts
from bot.domain.errors import HotPapersError, Undeliverable, UpstreamUnavailable
from bot.domain.model import ChannelRef, Digest, DigestEntry, DigestResult, Pause, PostedMessage, PostKey
from bot.domain.ports import Clock, Publisher, UnitOfWork
from bot.domain.records import Claim, PlanEntry, PlannedPost, Recorded

log = logging.getLogger(__name__)

T = TypeVar("T")

_NOT_RETRIED = (HotPapersError, ValueError, TypeError)
"""Our own refusals and programming errors (UpstreamUnavailable, a HotPapersError, is the exception: it is the
transient kind). Cancellation, a BaseException, is never retried either."""


@dataclass(frozen=True, slots=True)
class PostingPolicy:
    lease: timedelta = timedelta(minutes=5)
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    find_margin: timedelta = timedelta(minutes=10)
    """How long before a digest's first claim the platform is searched for its messages (replicas' clocks)."""
    starts_at_once: int = 10
    """Digests (and roundups) in their database phase at once in this process — the channel's settings, the claim
    and the plan — so hundreds of channels sharing a post time do not wait on the connection pool past its timeout.
    Sending is not bounded: it mostly waits for the platform's pace, holding no connection. The composition root
    gives it half the connection pool (`starts_at_once`)."""
    writes_at_once: int = 10
    """The posting runs' own database work at once in this process — each message's intent and record, lease
    renewals, look-ups of a slot — one short statement each: when a hundred channels go on together, they queue for
    the connections left beside the starts instead of opening the pool's overflow connections, which are closed as
    soon as they are given back (the composition root gives it the other half of the pool: `starts_at_once`)."""
    give_way_seconds: float = 5.0
    """How long, in all, a run holds its entries back for other digests' starts (`Starts`): enough for hundreds
    of channels to start, and a bound should starts keep coming (or one hang) so no run waits on them for long."""


def writes_at_once(pool_size: int) -> int:
    """`PostingPolicy.writes_at_once` for a connection pool of `pool_size`: what `starts_at_once` leaves, at least
    one."""
    return max(1, pool_size - starts_at_once(pool_size))


def starts_at_once(pool_size: int) -> int:
    """`PostingPolicy.starts_at_once` for a connection pool of `pool_size`: half of it, at least one. The other half
    stays for what runs meanwhile — the records of the digests already sending, votes, `/paper` — so a fan-out's
    starts never take the pool's overflow: SQLAlchemy's pool closes an overflow connection as soon as it is given
    back, and a hundred starts through a pool of 5, ten at once, opened about 65 connections (each a PostgreSQL backend
    started, its statements prepared again) before the last channel's first message (`bench/RESULTS.md`, slack2)."""
    return max(1, pool_size // 2)


class DigestPlan(Protocol):
    """What one channel's digest for one day shows, as the poster asks for it (`bot.app.digest_plan.ChannelPlan`):
    a new plan, or the cards of the plan it stored before (a resumed digest), built in the poster's unit of work."""

    @property
    def channel_id(self) -> int: ...

    async def fresh(self, uow: UnitOfWork) -> Digest:
        """The digest ranked now (its entries become the stored plan)."""
        ...

    async def stored(self, uow: UnitOfWork, planned: Sequence[PlannedPost]) -> Digest:
        """The digest of a stored plan: fresh cards with the score and why-line each entry was planned with."""
        ...


@dataclass(frozen=True, slots=True)
class LineResult:
    """What `post_line` did: posted (or found posted after a crash), done before, held elsewhere, or paused."""

    state: Literal["posted", "done-before", "held-elsewhere", "paused"]
    message_id: str | None = None
    held_until: datetime | None = None
    pause: Pause | None = None


class ClaimLost(HotPapersError):
    """Another holder took the digest over (our lease ran out), or we are shutting down: stop posting."""

    exit_code = 4


@dataclass(slots=True)
class _Run:
    claim: Claim
    channel: ChannelRef
    day: date
    publisher: Publisher
    deadline: datetime
    header_message_id: str | None = None
    posted: int = 0
    deleted: list[str] = field(default_factory=list)
    prefix: str = "hp"
    """The keys' prefix: `hp` for the daily digest, `hr` for the weekly roundup (`post_line`)."""
    lease_until: datetime | None = None
    """Until when this run's last successful fenced write renewed its lease (as far as this process knows)."""
    header_intended: bool = False
    """The header's intent was written with the plan (a new digest): the header is sent without another write."""
    opening: Opening | None = None
    """This run's start (`Starts`), over once its first message was attempted."""
    gave_way: float = 0.0
    """Seconds this run's entries waited for other digests' starts (bounded by `give_way_seconds`)."""

    @classmethod
    def of(
        cls,
        claim: Claim,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        deadline: datetime,
        *,
        prefix: str = "hp",
        opening: Opening | None = None,
    ) -> _Run:
        """The run a claim starts: its header and lease as the claim found them."""
        return cls(
            claim,
            channel,
            day,
            publisher,
            deadline,
            claim.header_message_id,
            prefix=prefix,
            lease_until=claim.lease_until,
            opening=opening,
        )

    @property
    def header_key(self) -> PostKey:
        return PostKey(self.day, 0, "", self.prefix)

    @property
    def digest_id(self) -> int:
        return self.claim.digest_id

    @property
    def fence(self) -> int:
        return self.claim.fence


class DigestPoster:
    """Runs one channel's digest for one day through a Publisher."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        holder: str,
        policy: PostingPolicy,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._holder = holder
        self._policy = policy
        self._stopping = stopping
        self._starting = Starts(policy.starts_at_once)
        self._writing = asyncio.Semaphore(policy.writes_at_once)
        self._running: set[tuple[str, date]] = set()
        """The (channel, day) runs of this process: the database claim lets a holder resume its own claim, so two
        concurrent runs here would otherwise both post. The one guard besides the claim."""

    @property
    def starting(self) -> AbstractAsyncContextManager[None]:
        """The bound on digests in their database phase (`PostingPolicy.starts_at_once`): the caller's own reads
        before `post` take it too, and are counted as the digest's start (`Starts`)."""
        return self._starting

    @contextmanager
    def _alone(self, key: tuple[str, date]) -> Iterator[bool]:
        """Whether this is the only run of `key` in this process (then it holds the key until it ends)."""
        if key in self._running:
            yield False
            return
        self._running.add(key)
        try:
            yield True
        finally:
            self._running.discard(key)

    async def post(
        self,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        *,
        plan: DigestPlan,
        announce_empty: bool,
        deadline: datetime,
    ) -> DigestResult:
        """Claim the digest, then post what `plan` gives, resuming a stored plan where an earlier run stopped. One
        run at a time per (channel, day) here: a second one answers "held-elsewhere"."""
        with self._alone((channel.key, day)) as alone:
            if not alone:
                return DigestResult(Digest(channel, day, ()), 0, 0, "held-elsewhere")
            opening = self._starting.opening()
            try:
                return await self._post(channel, day, publisher, opening, plan, announce_empty, deadline)
            finally:
                opening.end()

    async def _post(
        self,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        opening: Opening,
        plan: DigestPlan,
        announce_empty: bool,
        deadline: datetime,
    ) -> DigestResult:
        """`post`'s run, counted as a start (`opening`) until its first message was attempted."""
        run: _Run | None = None
        try:
            async with self._starting:
                async with self._uow() as uow:
                    # Without a transaction: a new digest's claim is one statement, committed by itself — seen by
                    # every other replica from here on — with no BEGIN and COMMIT round trips.
                    await uow.one_statement()
                    now = self._clock.now()
                    claim = await uow.digests.claim(
                        plan.channel_id, day, holder=self._holder, now=now, lease=self._policy.lease
                    )
                    await uow.commit()
                    if claim.outcome == "done-before":
                        return DigestResult(Digest(channel, day, ()), 0, 0, "done-before")
                    if claim.outcome == "held-elsewhere":
                        posted, planned = await uow.digests.progress(claim.digest_id)
                        held = Digest(channel, day, ())
                        return DigestResult(
                            held, 0, posted, "held-elsewhere", planned=planned, held_until=claim.lease_until
                        )
                run = _Run.of(claim, channel, day, publisher, deadline, opening=opening)
                async with self._uow() as uow:
                    await uow.planning()
                    digest, planned_posts = await self._plan(uow, run, plan)
        except BaseException as error:
            if run is not None:  # once the unit of work is over: on PostgreSQL it may hold the digest's row
                await self._release(run, _describe(error))
            raise
        return await self._guarded(run, digest, planned_posts, announce_empty=announce_empty)

    async def post_line(
        self,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        text: str,
        *,
        kind: str,
        prefix: str,
        deadline: datetime,
    ) -> LineResult:
        """Post one keyed message exactly once per (channel, kind, day) — the weekly roundup — with the digest's
        claim, fence, intent, look-up and retries: a digest of kind `kind` with only its "header"."""
        with self._alone((f"{kind}:{channel.key}", day)) as alone:
            if not alone:
                return LineResult("held-elsewhere")
            async with self._starting:
                claim = await self._claim(channel, day, kind)
            if claim.outcome in ("done-before", "held-elsewhere"):
                return LineResult(claim.outcome, held_until=claim.lease_until)
            # its one message is a first one: it never gives way (`_entries`), so it needs no opening
            run = _Run.of(claim, channel, day, publisher, deadline, prefix=prefix)
            try:
                if claim.outcome == "resumed":
                    await self._reconcile(run, [])
                if run.header_message_id is None:
                    await self._header(run, text)
                if claim.outcome == "resumed":
                    await self._sweep(run)
                await self._fenced(
                    run, lambda uow, _: uow.digests.finish(run.digest_id, run.fence, now=self._clock.now())
                )
            except Undeliverable as error:
                await self._release(run, str(error))
                scope: Literal["channel", "workspace"] = "workspace" if error.scope == "workspace" else "channel"
                return LineResult("paused", pause=Pause(error.reason, error.fix, scope, self._clock.now()))
            except BaseException as error:
                await self._release(run, f"{type(error).__name__}: {str(error)[:300]}")
                raise
            return LineResult("posted", run.header_message_id)

    # ── the run ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def _guarded(
        self, run: _Run, digest: Digest, planned: list[PlannedPost], *, announce_empty: bool
    ) -> DigestResult:
        try:
            if not planned:
                return await self._finish_empty(run, digest, announce_empty=announce_empty)
            before = sum(1 for p in planned if p.message_id is not None)
            if run.claim.outcome == "resumed":
                planned = await self._reconcile(run, planned)
            if run.header_message_id is None:
                await self._header(run, digest.header)
            await self._entries(run, planned, digest)
            if run.claim.outcome == "resumed":
                await self._sweep(run)
            await self._fenced(run, lambda uow, _: uow.digests.finish(run.digest_id, run.fence, now=self._clock.now()))
        except Undeliverable as error:
            if error.scope == "message":  # only a header refused for good gets here: nothing sensible remains
                error = Undeliverable(error.reason, scope="channel", fix=error.fix)
            await self._release(run, str(error))
            pause = Pause(error.reason, error.fix, error.scope, self._clock.now())  # type: ignore[arg-type]
            return DigestResult(digest, run.posted, 0, "paused", pause=pause)
        except BaseException as error:
            await self._release(run, f"{type(error).__name__}: {str(error)[:300]}")
            raise
        state: Literal["posted", "resumed"] = "posted" if run.claim.outcome == "new" else "resumed"
        return DigestResult(digest, run.posted, before, state, planned=len(planned))

    async def _claim(self, channel: ChannelRef, day: date, kind: str) -> Claim:
        async with self._uow() as uow:
            channel_id = await uow.channels.id_of(channel)
            assert channel_id is not None, "the caller ensures the channel row first"
            claim = await uow.digests.claim(
                channel_id, day, holder=self._holder, now=self._clock.now(), lease=self._policy.lease, kind=kind
            )
            await uow.commit()
        return claim

    async def _plan(self, uow: UnitOfWork, run: _Run, plan: DigestPlan) -> tuple[Digest, list[PlannedPost]]:
        """The stored plan of a resumed digest with its cards rebuilt, or a new plan stored now — fenced, renewing
        the lease — with the header's intent, in one transaction (on PostgreSQL one statement writes all three)."""
        planned = await uow.posts.planned(run.digest_id) if run.claim.outcome == "resumed" else []
        if planned:
            digest = await plan.stored(uow, planned)
            await uow.commit()  # an LLM summary written for a card is cached
            return digest, planned
        digest = await plan.fresh(uow)
        until = self._until()
        # A new plan's header intent goes with the lease's renewal, committed with the plan.
        intend = bool(digest.entries) and run.header_message_id is None and run.claim.outcome == "new"
        header_intent = self._clock.now() if intend else None
        plan_entries = [
            PlanEntry(e.rank, e.card.paper.id, e.card.paper.version, e.updated, e.card.score, e.card.why)
            for e in digest.entries
        ]
        stored = await uow.posts.plan_fenced(
            run.digest_id, run.fence, plan.channel_id, run.day, plan_entries, until=until, header_intent=header_intent
        )
        if stored is None:
            raise ClaimLost(f"digest {run.digest_id} was taken over while it was being planned")
        run.header_intended = intend
        await uow.commit()
        run.lease_until = until
        return digest, stored

    async def _header(self, run: _Run, text: str) -> None:
        key = run.header_key
        now = self._clock.now()
        if not run.header_intended:
            await self._fenced(
                run, lambda uow, until: uow.digests.intend_header(run.digest_id, run.fence, now=now, until=until)
            )
        message = await self._deliver(run, key, lambda: run.publisher.say(run.channel, text, key=key))
        await self._keep(
            run,
            key,
            message.message_id,
            record=lambda uow, until: uow.digests.record_header(
                run.digest_id, run.fence, message.message_id, until=until
            ),
            slot=lambda uow: _header_slot(uow, run.digest_id),
        )
        run.header_message_id = message.message_id

    async def _entries(self, run: _Run, planned: Sequence[PlannedPost], digest: Digest) -> None:
        by_rank = {entry.rank: entry for entry in digest.entries}
        todo = [post for post in planned if post.open and post.rank in by_rank]
        intended = False
        for index, post in enumerate(todo):
            if run.opening is None or not run.opening.open:
                await self._give_way(run)
            if self._stopping():
                raise ClaimLost("shutting down: the claim is released for the next run")
            following = todo[index + 1] if index + 1 < len(todo) else None
            intended = await self._entry(run, post, by_rank[post.rank], intended=intended, following=following)

    async def _entry(
        self, run: _Run, post: PlannedPost, entry: DigestEntry, *, intended: bool, following: PlannedPost | None
    ) -> bool:
        """One planned entry: its intent (unless the previous entry's record wrote it), the message, its record
        (or its skip, for a message the platform refuses for good). The record writes the intent of `following`
        too, in the same statement; returns whether it did."""
        key = _key(run.day, post)
        now = self._clock.now()

        async def intend(uow: UnitOfWork, until: datetime | None) -> bool:
            return await uow.posts.intend(post.post_id, run.digest_id, run.fence, now=now, until=until)

        if not intended:
            await self._fenced(run, intend)
        try:
            message = await self._deliver(run, key, lambda: run.publisher.publish(run.channel, entry, key=key))
        except Undeliverable as error:
            if error.scope != "message":
                raise
            log.warning("skipping entry %s of the digest in %s: %s", key, run.channel.key, error)
            reason = str(error)

            async def skip(uow: UnitOfWork, until: datetime | None) -> bool:
                return await uow.posts.skip(post.post_id, run.digest_id, run.fence, reason, until=until)

            await self._fenced(run, skip)
            return False
        next_id = following.post_id if following is not None and not self._stopping() else None

        async def record(uow: UnitOfWork, until: datetime | None) -> Recorded:
            return await uow.posts.record(
                post.post_id,
                run.digest_id,
                run.fence,
                message.message_id,
                now=self._clock.now(),
                until=until,
                next_id=next_id,
            )

        await self._keep(run, key, message.message_id, record=record, slot=lambda uow: uow.posts.slot(post.post_id))
        run.posted += 1
        return next_id is not None

    async def _finish_empty(self, run: _Run, digest: Digest, *, announce_empty: bool) -> DigestResult:
        """Nothing to post. Without the empty-day line the claim is given back whole: the day stays open (papers
        ingested later the same day still make a digest), and nothing says it was posted."""
        quiet = replace(digest, entries=())
        if not announce_empty:
            await self._fenced(run, lambda uow, _: uow.digests.abandon(run.digest_id, run.fence))
            return DigestResult(quiet, 0, 0, "empty")
        if run.header_message_id is None:
            text = quiet.header if not quiet.announced else f"Nothing new matched this channel's filters for {run.day}."
            if run.claim.outcome == "resumed":
                await self._reconcile(run, [])
            if run.header_message_id is None:
                await self._header(run, text)
        await self._fenced(run, lambda uow, _: uow.digests.finish(run.digest_id, run.fence, now=self._clock.now()))
        return DigestResult(quiet, 0, 0, "empty")

    # ── exactly once ────────────────────────────────────────────────────────────────────────────────────────────

    async def _reconcile(self, run: _Run, planned: Sequence[PlannedPost]) -> list[PlannedPost]:
        """Look every message an earlier holder may have sent up on the platform by its key: adopt one copy of
        each unrecorded one, delete copies that nobody recorded. Returns the plan as it is now."""
        header = run.header_key
        keys = {_key(run.day, p): p for p in planned if p.intent or p.message_id}
        wanted = [*keys, *([header] if run.claim.header_intent or run.header_message_id else [])]
        if not wanted:
            return list(planned)
        since = (run.claim.claimed_at or self._clock.now()) - self._policy.find_margin
        found = await self._retrying(run, lambda: run.publisher.find(run.channel, wanted, since=since))
        if header in wanted:
            run.header_message_id = await self._settle(
                run,
                header,
                run.header_message_id,
                found.get(header, []),
                record=lambda uow, until, mid: uow.digests.record_header(run.digest_id, run.fence, mid, until=until),
                slot=lambda uow: _header_slot(uow, run.digest_id),
            )
        now_planned = []
        for key, post in keys.items():
            message_id = await self._settle_post(run, key, post, found.get(key, []))
            if message_id != post.message_id:
                log.info("adopted message %s for %s in %s (posted by an earlier run)", message_id, key, run.channel.key)
            now_planned.append(replace(post, message_id=message_id))
        adopted = {p.post_id: p for p in now_planned}
        return [adopted.get(p.post_id, p) for p in planned]

    async def _sweep(self, run: _Run) -> None:
        """Before a taken-over digest is finished, look its keys up once more and delete the copies nobody recorded.
        A holder that lost the claim may still be out there: its copy can land after this run's reconciliation,
        while this run is itself delayed (a second stall, a slow platform), and it stops waiting for the entry's
        record after one lease, leaving the copy. This last look finds it; one `find` per takeover, none otherwise
        (a digest never taken over has no other holder)."""
        await self._reconcile(run, await self._read(lambda uow: uow.posts.planned(run.digest_id)))

    async def _settle_post(self, run: _Run, key: PostKey, post: PlannedPost, copies: list[str]) -> str | None:
        """`_settle` for one planned entry."""

        async def record(uow: UnitOfWork, until: datetime | None, message_id: str) -> Recorded:
            return await uow.posts.record(
                post.post_id, run.digest_id, run.fence, message_id, now=self._clock.now(), until=until
            )

        return await self._settle(
            run, key, post.message_id, copies, record=record, slot=lambda uow: uow.posts.slot(post.post_id)
        )

    async def _settle(
        self,
        run: _Run,
        key: PostKey,
        recorded: str | None,
        copies: Sequence[str],
        *,
        record: Callable[[UnitOfWork, datetime | None, str], Awaitable[Recorded]],
        slot: Callable[[UnitOfWork], Awaitable[str | None]],
    ) -> str | None:
        """One key's copies on the platform against its record: adopt the first copy into an empty slot, delete
        every copy that is not the recorded one. Returns the message recorded for the key now."""
        if recorded is None and copies:
            outcome = await self._in_uow(run, lambda uow, until: record(uow, until, copies[0]))
            if outcome == "fence-lost":
                raise ClaimLost(f"digest {run.digest_id} was taken over while it was being reconciled")
            recorded = copies[0] if outcome == "recorded" else await self._read(slot)
        for extra in copies:
            if extra != recorded:
                await self._delete(run, key, extra)
        return recorded

    async def _keep(
        self,
        run: _Run,
        key: PostKey,
        message_id: str,
        *,
        record: Callable[[UnitOfWork, datetime | None], Awaitable[Recorded]],
        slot: Callable[[UnitOfWork], Awaitable[str | None]],
    ) -> None:
        """Record a message just sent. With the fence lost, record nothing and wait for the new holder to settle
        the key: delete our copy only if it recorded another one."""
        outcome = await self._in_uow(run, record)
        if outcome == "recorded":
            return
        if outcome == "taken":
            current = await self._read(slot)
            if current != message_id:
                await self._delete(run, key, message_id)
            return
        log.warning("lost the claim on the digest in %s while posting %s; recording nothing", run.channel.key, key)
        settle_by = self._clock.now() + self._policy.lease
        step = max(self._policy.lease.total_seconds() / 10, 0.05)
        while True:
            current = await self._read(slot)
            if current == message_id:
                break  # the new holder adopted our copy
            if current is not None:
                await self._delete(run, key, message_id)  # it recorded another copy: ours is an extra
                break
            if self._clock.now() >= settle_by:
                log.warning(
                    "left message %s (%s) in %s: nobody had recorded that entry yet", message_id, key, run.channel.key
                )
                break
            await self._clock.sleep(step)
        raise ClaimLost(f"digest {run.digest_id} was taken over by another holder")

    async def _deliver(self, run: _Run, key: PostKey, call: Callable[[], Awaitable[PostedMessage]]) -> PostedMessage:
        """Send one keyed message, retrying what may pass. A failed attempt whose outcome is unknown (anything but
        a rate limit) may have posted the message: it is looked up by its key before the next attempt."""
        uncertain = False

        async def attempt() -> PostedMessage:
            nonlocal uncertain
            if uncertain:
                copies = (await run.publisher.find(run.channel, [key], since=self._since(run))).get(key, [])
                if copies:
                    for extra in copies[1:]:
                        await self._delete(run, key, extra)
                    log.info("the platform had taken %s after all; not sending it again", key)
                    return PostedMessage(run.channel, copies[0])
            await self._still_holding(run)
            try:
                # A call that outlives half the lease is abandoned (and looked up before it is sent again).
                async with asyncio.timeout(self._policy.lease.total_seconds() / 2):
                    return await call()
            except Exception as error:
                uncertain = not (isinstance(error, UpstreamUnavailable) and error.retry_after is not None)
                raise
            finally:
                if run.opening is not None:
                    run.opening.end()  # the run's first message was attempted: its start is over

        return await self._retrying(run, attempt)

    async def _retrying(self, run: _Run, call: Callable[[], Awaitable[T]]) -> T:
        """`call` until it succeeds, a permanent error, or the channel's day is over; waits renew the lease."""
        policy = self._policy
        backoff, attempt = policy.backoff_seconds, 1
        while True:
            try:
                return await call()
            except Exception as error:
                if isinstance(error, _NOT_RETRIED) and not isinstance(error, UpstreamUnavailable):
                    raise
                hint = error.retry_after if isinstance(error, UpstreamUnavailable) else None
                wait = max(backoff, hint or 0.0)
                if self._clock.now() + timedelta(seconds=wait) > run.deadline:
                    log.error(
                        "giving up on the digest in %s for today after %d attempts: %s", run.channel.key, attempt, error
                    )
                    raise
                log.warning(
                    "posting in %s failed (attempt %d: %s); retrying in %.1fs",
                    run.channel.key,
                    attempt,
                    _describe(error),
                    wait,
                )
                await self._wait(run, wait)
                backoff, attempt = min(backoff * 2 or 0.0, policy.backoff_max_seconds), attempt + 1

    async def _wait(self, run: _Run, seconds: float) -> None:
        """Sleep, renewing the lease at least three times a lease, so a long 429 keeps the claim."""
        step = self._policy.lease.total_seconds() / 3
        remaining = seconds
        while True:
            await self._renew(run)
            if remaining <= 0:
                return
            chunk = min(remaining, step)
            await self._clock.sleep(chunk)
            remaining -= chunk

    async def _delete(self, run: _Run, key: PostKey, message_id: str) -> None:
        try:
            await run.publisher.delete(run.channel, message_id)
        except Exception as error:  # best effort: an extra left behind is logged, never fatal
            log.warning(
                "could not delete the extra copy %s of %s in %s: %s", message_id, key, run.channel.key, _describe(error)
            )
        else:
            run.deleted.append(message_id)
            log.info("deleted message %s, an extra copy of %s in %s", message_id, key, run.channel.key)

    async def _give_way(self, run: _Run) -> None:
        """Before an entry: let other digests' starts go first (`Starts`), within the run's bound."""
        run.gave_way += await self._starting.give_way(self._policy.give_way_seconds - run.gave_way)

    # ── the database side ───────────────────────────────────────────────────────────────────────────────────────

    def _since(self, run: _Run) -> datetime:
        return (run.claim.claimed_at or self._clock.now()) - self._policy.find_margin

    def _until(self) -> datetime:
        return self._clock.now() + self._policy.lease

    async def _still_holding(self, run: _Run) -> None:
        """Right before a send: a process frozen past its lease (SIGSTOP, a suspended VM) must not send a copy the
        new holder will post too. Half a lease after the last renewal the lease is renewed first — fenced, so a
        holder that was taken over stops here (ClaimLost) instead of sending. Costs nothing while records come
        faster than that (each renews the lease)."""
        if run.lease_until is None or self._clock.now() >= run.lease_until - self._policy.lease / 2:
            await self._renew(run)

    async def _renew(self, run: _Run) -> None:
        await self._fenced(run, lambda uow, until: uow.digests.renewed(run.digest_id, run.fence, until))

    async def _fenced(self, run: _Run, write: Callable[[UnitOfWork, datetime | None], Awaitable[bool]]) -> None:
        """A write that needs the fence; ClaimLost when another holder has the digest now."""
        if not await self._in_uow(run, write):
            raise ClaimLost("the digest was taken over by another holder")

    async def _in_uow(self, run: _Run, write: Callable[[UnitOfWork, datetime | None], Awaitable[T]]) -> T:
        """One fenced write, which renews the lease (`until`) as it goes. Each statement carries the fence in its
        own WHERE, so none needs a transaction around it (no BEGIN and COMMIT round trips); on PostgreSQL an
        entry's record renews the lease in the same statement."""
        async with self._writing, self._uow() as uow:
            until = self._until()
            await uow.one_statement()
            result = await write(uow, until)
            await uow.commit()
        if result is True or result == "recorded":
            run.lease_until = until
        return result

    async def _read(self, read: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self._writing, self._uow() as uow:
            return await read(uow)

    async def _release(self, run: _Run, error: str) -> None:
        try:
            await self._in_uow(
                run, lambda uow, _: uow.digests.release(run.digest_id, run.fence, now=self._clock.now(), error=error)
            )
        except Exception as failure:  # the lease runs out by itself; the original error matters more
            log.warning("could not release the claim on digest %s: %s", run.digest_id, _describe(failure))


def _key(day: date, post: PlannedPost) -> PostKey:
    return PostKey(day, post.rank, f"{post.paper_id}v{post.version}")


async def _header_slot(uow: UnitOfWork, digest_id: int) -> str | None:
    return (await uow.digests.header_of(digest_id))[0]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:300]}"
