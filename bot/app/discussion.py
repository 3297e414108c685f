"""Discussion threads that feed ranking, and the weekly roundup (issue 18): the core's use cases.

- A thread hangs on a message the bot posted (a digest card), so it belongs to one paper in one channel. It is
  opened by the Discuss button, by `/thread` in the console, or for every entry as it is posted (`threads=always`,
  best effort: the digest never fails over a thread).
- A reply counts its person once per paper and channel; bots and the bot itself never count; the text is never
  seen here. The number of distinct people is a bounded ranking term next to the votes (`bot.domain.ranking`).
- The weekly roundup is one message per channel and week, posted with the digest's claim, fence and intent
  (`DigestPoster.post_line`, a digest of kind "roundup" keyed by the week's last day).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import weakref
from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.app.cards import CardContext, cards_of_chosen
from bot.app.digest import DigestPoster, PostingPolicy
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.errors import BadInput, NotFound
from bot.domain.messages import roundup_text, thread_name, thread_opener
from bot.domain.model import (
    ChannelRef,
    ChannelSettings,
    DigestEntry,
    Discussion,
    PostedMessage,
    PostKey,
    ReplyEvent,
    Roundup,
    RoundupEntry,
    RoundupResult,
    ThreadOpened,
)
from bot.domain.ports import Clock, Publisher, UnitOfWork
from bot.domain.ranking import RankingWeights, discussion_term

log = logging.getLogger(__name__)

ROUNDUP_KIND = "roundup"
ROUNDUP_PREFIX = "hr"
THREAD_TIMEOUT = 30.0
"""Seconds `threads=always` waits for one thread to open before it lets the digest go on without it."""
ROUNDUP_MAX = 10
"""At most this many papers in a roundup (the channel's top N, capped: one message holds them)."""


def roundup_key(last_day: date) -> PostKey:
    """The roundup's idempotency key, apart from the digest's: `hr-20201106-0`."""
    return PostKey(last_day, 0, "", ROUNDUP_PREFIX)


def week_score(net: int, people: int, weights: RankingWeights) -> float:
    """How a paper ranks in the roundup: the channel's net votes and its discussion, on the ranking's scale."""
    votes = weights.vote_weight * math.copysign(math.log1p(abs(net)), net) if net else 0.0
    return votes + discussion_term(people, weights)


class Discussions:
    """Threads, replies and the roundup. One instance per process, made by the composition root."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        clock: Clock,
        context: CardContext,
        holder: str,
        policy: PostingPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._context = context
        self._poster = DigestPoster(uow, clock, holder=holder, policy=policy or PostingPolicy())
        self._openers: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # ── threads ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def discuss(self, channel: ChannelRef, target: str, publisher: Publisher) -> ThreadOpened:
        """Open (or find) the thread on a posted card: `target` is the card's message id (the Discuss button) or a
        paper reference (the console's `/thread`), which means the card the paper was last posted with here."""
        async with self._opener(channel):
            async with self._uow() as uow:
                row = await uow.channels.find(channel)
                if row is None:
                    raise NotFound("nothing was posted in this channel yet")
                if row.settings.threads == "off":
                    raise BadInput("discussion threads are off in this channel (an admin can set threads=button)")
                message_id, paper_id = await self._card(uow, row.id, target.strip())
                thread = await uow.threads.on_message(row.id, message_id)
                papers = await uow.papers.get_many([paper_id])
                title = papers[paper_id].title if paper_id in papers else paper_id
                if thread is not None:
                    people = (await uow.threads.people(row.id, [paper_id])).get(paper_id, 0)
                    return ThreadOpened(channel, message_id, thread.thread_id, paper_id, title, False, people)
            return await self._open(channel, message_id, paper_id, title, publisher)

    async def opened_with(
        self, channel: ChannelRef, message: PostedMessage, entry: DigestEntry, publisher: Publisher
    ) -> None:
        """`threads=always`: open the thread on an entry just posted. Best effort: a failure is logged, and the
        digest goes on (the Discuss path can open it later)."""
        paper = entry.card.paper
        try:
            async with asyncio.timeout(THREAD_TIMEOUT), self._opener(channel):
                await self._open(channel, message.message_id, paper.id, paper.title, publisher)
        except Exception as error:
            log.warning(
                "could not open the thread on %s in %s: %s", entry.card.paper.id, channel.key, type(error).__name__
            )

    def _opener(self, channel: ChannelRef) -> asyncio.Lock:
        """One thread opening at a time per channel in this process. A platform that does not refuse a second
        thread on a message (Slack: the opener is a reply, found again by its metadata) would otherwise get two
        openers from two Discuss presses at once: both look, find none, and both post. Presses in one channel are
        rare, so waiting for each other costs nothing; the lock goes when nobody holds it. Across replicas,
        `Threads.opening` does the same per message (`_open`)."""
        lock = self._openers.get(channel.key)
        if lock is None:
            lock = self._openers[channel.key] = asyncio.Lock()
        return lock

    async def _open(
        self, channel: ChannelRef, message_id: str, paper_id: str, title: str, publisher: Publisher
    ) -> ThreadOpened:
        """Open the thread on the platform and record it, while no other replica does the same on this message (one
        that did first has recorded its thread, which is then the answer)."""
        async with self._uow() as uow:
            channel_id = await uow.channels.id_of(channel)
        if channel_id is None:
            raise NotFound("nothing was posted in this channel yet")
        held = self._uow()  # its session never begins: the lock has a connection of its own
        async with held, held.threads.opening(channel_id, message_id):
            async with self._uow() as uow:
                thread = await uow.threads.on_message(channel_id, message_id)
            if thread is not None:
                return ThreadOpened(channel, message_id, thread.thread_id, paper_id, title, False)
            thread_id = await publisher.open_thread(
                channel, message_id, name=thread_name(title), opener=thread_opener(title)
            )
            async with self._uow() as uow:
                created = await uow.threads.open(channel_id, message_id, paper_id, thread_id, now=self._clock.now())
                await uow.commit()
        return ThreadOpened(channel, message_id, thread_id, paper_id, title, created)

    async def _card(self, uow: UnitOfWork, channel_id: int, target: str) -> tuple[str, str]:
        """(message id, paper id) of the card `target` names: a message of ours here, or a paper posted here."""
        if not target:
            raise BadInput("name a paper (an arXiv id or link) or a card")
        key = (channel_id, target[:64])
        paper_id = (await uow.posts.papers_of_messages([key])).get(key)
        if paper_id is not None:
            return target, paper_id
        paper_id = parse_arxiv_id(target).id
        message_id = await uow.threads.posted_message(channel_id, paper_id)
        if message_id is None:
            raise NotFound(f"arXiv:{paper_id} was not posted in this channel; threads open on its digest card")
        return message_id, paper_id

    # ── replies ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def record_reply(self, event: ReplyEvent) -> Discussion | None:
        """Count a reply in a thread the bot opened. None when it does not count: a bot, a thread that is not
        ours. A repeated delivery changes nothing. Returns the paper's discussion in the channel now."""
        if event.by_bot or not event.user_id:
            return None
        async with self._uow() as uow:
            channel_id = await uow.channels.id_of(event.channel)
            if channel_id is None:
                return None
            thread = await uow.threads.by_thread(channel_id, event.thread_id)
            if thread is None or event.message_id == thread.message_id:
                return None
            await uow.threads.add_reply(thread, event.message_id, event.user_id, now=self._clock.now())
            people = (await uow.threads.people(channel_id, [thread.paper_id])).get(thread.paper_id, 0)
            await uow.commit()
        return Discussion(event.channel, people)

    async def remove_reply(self, channel: ChannelRef, message_id: str) -> Discussion | None:
        """A message was deleted: if it was a counted reply, it counts no more (its person may still count
        through another reply). None for any other message."""
        async with self._uow() as uow:
            channel_id = await uow.channels.id_of(channel)
            if channel_id is None:
                return None
            paper_id = await uow.threads.remove_reply(channel_id, message_id)
            if paper_id is None:
                return None
            people = (await uow.threads.people(channel_id, [paper_id])).get(paper_id, 0)
            await uow.commit()
        return Discussion(channel, people)

    async def discussed(self, uow: UnitOfWork, channel: ChannelRef | None, paper_id: str) -> tuple[Discussion, ...]:
        """The paper's discussion in `channel` (for `/paper` there), if anyone replied."""
        if channel is None:
            return ()
        channel_id = await uow.channels.id_of(channel)
        if channel_id is None:
            return ()
        people = (await uow.threads.people(channel_id, [paper_id])).get(paper_id, 0)
        return (Discussion(channel, people),) if people else ()

    # ── the weekly roundup ──────────────────────────────────────────────────────────────────────────────────────

    def week_of(self, settings: ChannelSettings, day: date | None = None) -> tuple[date, date]:
        """The seven days ending on `day` (default: today in the channel's time zone)."""
        last = day or self._clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        return last - timedelta(days=6), last

    async def roundup(self, channel: ChannelRef, day: date | None = None) -> Roundup:
        """The week's top papers by this channel's net votes and discussion, with their why-lines. No side
        effects. Only papers the channel's digests posted that week, and only those people liked or discussed."""
        now = self._clock.now()
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
            settings = row.settings if row is not None else ChannelSettings()
            first, last = self.week_of(settings, day)
            if row is None:
                return Roundup(channel, first, last, ())
            posts = await uow.threads.week_posts(row.id, first, last)
            ids = sorted(posts)
            tallies = await uow.votes.tallies(row.id, ids) if ids else {}
            people = await uow.threads.people(row.id, ids) if ids else {}
            weights = self._context.weights
            scored = [
                (week_score(tallies[p].net if p in tallies else 0, people.get(p, 0), weights), p)
                for p in ids
                if (p in tallies and tallies[p].net) or people.get(p, 0)
            ]
            best = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
            chosen = [paper_id for _, paper_id in best[: min(settings.top_n, ROUNDUP_MAX)]]
            cards = await cards_of_chosen(uow, row, chosen, self._context, now=now)
            await uow.commit()
        entries = tuple(
            RoundupEntry(
                rank,
                cards[paper_id],
                tallies[paper_id].net if paper_id in tallies else 0,
                people.get(paper_id, 0),
                posts[paper_id],
            )
            for rank, paper_id in enumerate((p for p in chosen if p in cards), 1)
        )
        return Roundup(channel, first, last, entries)

    async def post_roundup(self, channel: ChannelRef, publisher: Publisher, day: date | None = None) -> RoundupResult:
        """Post the week's roundup exactly once per channel and week (a quiet week: nothing, unless the channel
        asked for one line with `roundup_empty=yes`)."""
        roundup = await self.roundup(channel, day)
        async with self._uow() as uow:
            row = await uow.channels.find(channel)
        settings = row.settings if row is not None else ChannelSettings()
        if row is None or (not roundup.entries and not settings.roundup_empty):
            return RoundupResult(roundup, "quiet")
        links = await asyncio.gather(*(publisher.permalink(channel, entry.message_id) for entry in roundup.entries))
        result = await self._poster.post_line(
            channel,
            roundup.last_day,
            publisher,
            roundup_text(roundup, links),
            kind=ROUNDUP_KIND,
            prefix=ROUNDUP_PREFIX,
            deadline=self._end_of_day(settings),
        )
        state = result.state
        if state == "posted" and not roundup.entries:
            return RoundupResult(roundup, "empty", result.message_id)
        return RoundupResult(roundup, state, result.message_id)

    def _end_of_day(self, settings: ChannelSettings) -> datetime:
        zone = ZoneInfo(settings.timezone)
        local = self._clock.now().astimezone(zone)
        return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)

    # ── retention ───────────────────────────────────────────────────────────────────────────────────────────────

    async def prune(self, older_than: timedelta) -> int:
        """Forget replies older than the retention (they stop counting)."""
        async with self._uow() as uow:
            removed = await uow.threads.prune(self._clock.now() - older_than)
            await uow.commit()
        return removed


class ThreadingPublisher:
    """The channel's publisher as its `threads` setting wants it: `off` posts cards without the Discuss button;
    `always` opens each entry's thread right after its message exists (nothing about the thread can make `publish`
    fail). Everything else passes through."""

    def __init__(self, inner: Publisher, discussions: Discussions, mode: str) -> None:
        self._inner = inner
        self._discussions = discussions
        self._mode = mode
        self.platform = inner.platform

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        if self._mode == "off":
            return await self._inner.publish(channel, dataclasses.replace(entry, discuss=False), key=key)
        message = await self._inner.publish(channel, entry, key=key)
        if self._mode == "always":
            await self._discussions.opened_with(channel, message, entry, self._inner)
        return message

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        return await self._inner.say(channel, text, key=key)

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        return await self._inner.find(channel, keys, since=since)

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        await self._inner.delete(channel, message_id)

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        return await self._inner.tell_admin(channel, user_id, text)

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        return await self._inner.open_thread(channel, message_id, name=name, opener=opener)

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        return await self._inner.permalink(channel, message_id)


__all__ = ["Discussions", "ThreadingPublisher", "roundup_key", "week_score"]
