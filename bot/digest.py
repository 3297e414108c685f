"""Posting a digest exactly once: claim (channel, day) → plan → publish entry by entry → record each message.

Each step commits before the next begins. A crash after k of N messages leaves k recorded messages and N−k planned
entries; the next run (this replica after a restart, or another once the lease runs out) posts only those N−k.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bot.errors import HotPapersError
from bot.model import ChannelRef, Digest, DigestEntry, DigestResult, PaperCard, PostedMessage
from bot.ports import Clock, Publisher
from bot.storage.digests import Claim, PlannedPost
from bot.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

PlanDigest = Callable[[UnitOfWork], Awaitable[Digest]]
CardsFor = Callable[[Sequence[str]], Awaitable[dict[str, PaperCard]]]


_NOT_RETRIED = (HotPapersError, ValueError, TypeError)
"""Our own refusals and programming errors; cancellation (a BaseException) is never retried either."""


@dataclass(frozen=True, slots=True)
class PostingPolicy:
    lease: timedelta = timedelta(minutes=5)
    attempts: int = 4
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0


class ClaimLost(HotPapersError):
    """Another replica took the digest over (our lease ran out); stop without posting more."""

    exit_code = 4


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
        self._running: dict[tuple[str, date], asyncio.Lock] = {}

    async def post(
        self,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        *,
        plan: PlanDigest,
        cards: CardsFor,
        announce_empty: bool,
    ) -> DigestResult:
        """One run at a time per (channel, day) in this process: the database claim lets a holder resume its own
        claim, so two concurrent runs here would otherwise both post."""
        lock = self._running.setdefault((channel.key, day), asyncio.Lock())
        if lock.locked():
            return DigestResult(Digest(channel, day, ()), 0, 0, "held-elsewhere")
        async with lock:
            try:
                return await self._post(channel, day, publisher, plan=plan, cards=cards, announce_empty=announce_empty)
            finally:
                self._running.pop((channel.key, day), None)

    async def _post(
        self,
        channel: ChannelRef,
        day: date,
        publisher: Publisher,
        *,
        plan: PlanDigest,
        cards: CardsFor,
        announce_empty: bool,
    ) -> DigestResult:
        claim, digest, planned = await self._claim_and_plan(channel, day, plan)
        if claim.outcome in ("done-before", "held-elsewhere"):
            return DigestResult(digest, 0, 0, claim.outcome)
        if not planned:
            return await self._finish_empty(claim, channel, day, digest, publisher, announce_empty=announce_empty)
        by_id = await cards([p.paper_id for p in planned])
        entries = tuple(DigestEntry(p.rank, by_id[p.paper_id], p.updated) for p in planned if p.paper_id in by_id)
        digest = Digest(channel, day, entries)
        try:
            if claim.header_message_id is None:
                header = await self._send(claim, lambda: publisher.say(channel, digest.header))
                await self._record(lambda uow: uow.digests.set_header(claim.digest_id, header.message_id))
            posted = await self._publish_remaining(claim, channel, planned, entries, publisher)
        except BaseException as error:
            reason = _describe(error)
            await self._record(
                lambda uow: uow.digests.release(
                    claim.digest_id, holder=self._holder, now=self._clock.now(), error=reason
                )
            )
            raise
        await self._record(lambda uow: uow.digests.finish(claim.digest_id, now=self._clock.now()))
        skipped = sum(1 for p in planned if p.message_id)
        return DigestResult(digest, posted, skipped, "posted" if claim.outcome == "new" else "resumed")

    async def _claim_and_plan(
        self, channel: ChannelRef, day: date, plan: PlanDigest
    ) -> tuple[Claim, Digest, list[PlannedPost]]:
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
            assert row is not None, "post_digest ensures the channel row first"
            claim = await uow.digests.claim(
                row.id, day, holder=self._holder, now=self._clock.now(), lease=self._policy.lease
            )
            await uow.commit()
        empty = Digest(channel, day, ())
        if claim.outcome in ("done-before", "held-elsewhere"):
            return claim, empty, []
        async with self._uow() as uow:
            planned = await uow.posts.planned(claim.digest_id)
            if planned:
                return claim, empty, planned
            digest = await plan(uow)
            entries = [(e.rank, e.card.paper.id, e.card.paper.version, e.updated) for e in digest.entries]
            await uow.posts.plan(claim.digest_id, row.id, entries)
            planned = await uow.posts.planned(claim.digest_id)
            await uow.commit()
        return claim, digest, planned

    async def _publish_remaining(
        self,
        claim: Claim,
        channel: ChannelRef,
        planned: Sequence[PlannedPost],
        entries: Sequence[DigestEntry],
        publisher: Publisher,
    ) -> int:
        by_rank = {entry.rank: entry for entry in entries}
        posted = 0
        for post in planned:
            if post.message_id or post.rank not in by_rank:
                continue
            if self._stopping():
                raise ClaimLost("shutting down: the claim is released for the next run")
            await self._renew(claim)
            entry = by_rank[post.rank]
            message = await self._send(claim, lambda entry=entry: publisher.publish(channel, entry))
            await self._record(lambda uow, post=post, message=message: uow.posts.mark_posted(
                post.post_id, message.message_id, now=self._clock.now()))  # fmt: skip
            posted += 1
        return posted

    async def _finish_empty(
        self,
        claim: Claim,
        channel: ChannelRef,
        day: date,
        digest: Digest,
        publisher: Publisher,
        *,
        announce_empty: bool,
    ) -> DigestResult:
        quiet = Digest(channel, day, (), announced=digest.announced)
        if announce_empty and claim.header_message_id is None:
            text = quiet.header if not quiet.announced else f"Nothing new matched this channel's filters for {day}."
            message = await self._send(claim, lambda: publisher.say(channel, text))
            await self._record(lambda uow: uow.digests.set_header(claim.digest_id, message.message_id))
        await self._record(lambda uow: uow.digests.finish(claim.digest_id, now=self._clock.now()))
        return DigestResult(quiet, 0, 0, "empty")

    async def _renew(self, claim: Claim) -> None:
        until = self._clock.now() + self._policy.lease
        async with self._uow() as uow:
            held = await uow.digests.renew(claim.digest_id, holder=self._holder, until=until)
            await uow.commit()
        if not held:
            raise ClaimLost(f"digest {claim.digest_id} was taken over by another replica")

    async def _send(self, claim: Claim, call: Callable[[], Awaitable[PostedMessage]]) -> PostedMessage:
        """Retry a platform call with exponential backoff; our own errors (bad input) are not retried."""
        policy = self._policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential(multiplier=policy.backoff_seconds, max=policy.backoff_max_seconds),
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(_NOT_RETRIED),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.warning("retrying a post (attempt %d)", attempt.retry_state.attempt_number)
                    await self._renew(claim)
                # A call that outlives half the lease is abandoned, so a stalled replica never posts after
                # another one has taken its claim over (the lease is the fence).
                async with asyncio.timeout(policy.lease.total_seconds() / 2):
                    return await call()
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _record(self, write: Callable[[UnitOfWork], Awaitable[object]]) -> None:
        async with self._uow() as uow:
            await write(uow)
            await uow.commit()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:300]}"
