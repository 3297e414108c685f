"""4. Fan-out: 100 channels × 10 messages through the Discord adapter reach ≥ 90 % of the global rate limit, and
no 429 is left unhandled.

The real discord.py bot of `adapters.discord` runs against the loopback fake Discord (tests/fakes/discord_server.py),
here with 100 text channels and Discord's global limit enforced: at most `LIMIT` REST requests in any second, the
rest answered 429 `global: true` with the time until a slot frees up. `HotPapers.post_digest` posts every channel's
digest at once (a header and 9 papers: 10 messages each) through the adapter's `DiscordPublisher`, as the scheduler
does when many channels share a post time. Measured: accepted requests per second while posting, against the limit;
every digest must end posted, every 429 retried.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import discord
import yarl

from adapters.discord import Settings
from adapters.discord.client import build_bot
from bench.common import Result, say
from bench.context import BenchContext
from bench.data import drop_schema, recreate_schema
from bot.model import ChannelRef, Paper
from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord, Recorded, payload

SCHEMA = "bench_fanout"
LIMIT = 50
"""Discord's global limit: 50 requests a second per bot."""
CHANNELS, PAPERS_PER_DIGEST = 100, 9
DAY = date(2024, 3, 14)
NOW = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)


class LimitedDiscord(FakeDiscord):
    """The fake with many text channels and a global limit: a sliding one-second window over accepted requests."""

    def __init__(self, channel_ids: list[str], *, limit: int) -> None:
        super().__init__()
        self.channel_ids, self.limit = set(channel_ids), limit
        self.accepted: collections.deque[float] = collections.deque()
        self.log: list[tuple[float, int]] = []  # (time, status) of every REST answer
        self.limited = 0

    async def _answer(self, seen: Recorded, raw: bytes) -> Any:
        now = time.monotonic()
        while self.accepted and now - self.accepted[0] >= 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.limit:
            self.limited += 1
            self.log.append((now, 429))
            return self._too_many(max(0.001, 1.0 - (now - self.accepted[0])), True)
        self.accepted.append(now)
        response = await super()._answer(seen, raw)
        self.log.append((now, response.status))
        return response

    async def _identify(self, sock: Any, data: dict[str, Any]) -> None:
        ready = payload("ready") | {"resume_gateway_url": self.gateway_url}
        self.sockets.append(sock)
        await self._send(sock, "READY", ready)
        guild = payload("guild_create")
        template = guild["channels"][0]
        guild["channels"] += [
            template | {"id": cid, "name": f"papers-{n}", "position": n + 2}
            for n, cid in enumerate(sorted(self.channel_ids))
        ]
        await self._send(sock, "GUILD_CREATE", guild)

    async def _create_message(self, body: Any, channel_id: str, **kwargs: Any) -> Any:
        if channel_id in self.channel_ids:
            message = self._store(body, channel_id=channel_id, flags=0)
            return _ok(message)
        return await super()._create_message(body, channel_id, **kwargs)


def _ok(message: dict[str, Any]) -> Any:
    from tests.fakes.discord_server import _json

    return _json(200, message)


@dataclass
class Outcome:
    accepted: int
    seconds: float
    limited: int
    failed: int
    messages: int
    complete: bool
    wall: float

    @property
    def rate(self) -> float:
        return (self.accepted - 1) / self.seconds if self.seconds else 0.0


async def run(context: BenchContext) -> list[Result]:
    results = []
    quiet = {name: logging.getLogger(name) for name in ("discord", "bot.digest")}  # a warning per 429 otherwise
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.ERROR)
    try:
        outcomes = [await _fan_out(context, paced=paced) for paced in (False, True)]
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
    for paced, outcome in zip((False, True), outcomes, strict=True):
        label = "paced publisher (the proposed fix, not the adapter's code)" if paced else "DiscordPublisher as is"
        say(
            f"  {label}: {outcome.accepted} requests accepted in {outcome.seconds:.1f} s = {outcome.rate:.1f}/s "
            f"(limit {LIMIT}/s); {outcome.limited} answered 429; {outcome.messages} messages; "
            f"{outcome.failed} digests failed"
        )
        notes = (
            f"{CHANNELS} channels × {PAPERS_PER_DIGEST + 1} messages (header + {PAPERS_PER_DIGEST} papers), all "
            f"digests at once; global limit {LIMIT} requests in any second (sliding window); seed reactions off",
            f"{outcome.limited} requests answered 429 (global); {outcome.failed} of {CHANNELS} digests failed "
            "(discord.py gives a request up after 5 tries; DiscordPublisher turns that into UpstreamUnavailable, "
            f"which DigestPoster does not retry); {outcome.messages} messages stored; wall {outcome.wall:.1f} s",
            f"accepted requests per second while posting: {outcome.rate:.1f}/s over {outcome.seconds:.1f} s "
            "(counted only when every digest was posted in full)",
        )
        name = "fan-out rate, paced (proposed)" if paced else "fan-out rate"
        measured = outcome.rate if outcome.complete else 0.0
        results.append(Result(name, measured, 0.9 * LIMIT, "req/s", "higher", notes, informational=paced))
    return results


async def _fan_out(context: BenchContext, *, paced: bool) -> Outcome:
    channels = [
        ChannelRef("discord", GUILD_ID, str(3_100_000_000_000_000_100 + n), f"#papers-{n}") for n in range(CHANNELS)
    ]
    fake = LimitedDiscord([c.channel for c in channels], limit=LIMIT)
    await fake.start()
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base  # type: ignore[misc]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    await recreate_schema(context.url, SCHEMA)
    app = await context.app(schema=SCHEMA, now=NOW)
    bot = build_bot(app.service, Settings(enabled=True, seed_reactions=False), guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await _prepare(app.service, channels)
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        publisher: Any = PacedPublisher(bot.publisher, per_second=LIMIT * 0.98) if paced else bot.publisher
        fake.log.clear()
        fake.limited = 0
        started = time.monotonic()
        posts = [app.service.post_digest(c, DAY, publisher) for c in channels]
        results = await asyncio.gather(*posts, return_exceptions=True)
        wall = time.monotonic() - started
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task
        await app.aclose()
        await drop_schema(context.url, SCHEMA)
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved  # type: ignore[misc]
        await fake.close()
    ok = [t for t, status in fake.log if 200 <= status < 300]
    done = [r for r in results if not isinstance(r, BaseException)]
    complete = len(done) == CHANNELS and all(r.state == "posted" and r.posted == PAPERS_PER_DIGEST for r in done)
    messages = sum(1 for m in fake.messages.values() if m["channel_id"] in fake.channel_ids)
    seconds = ok[-1] - ok[0] if len(ok) > 1 else 0.0
    return Outcome(len(ok), seconds, fake.limited, CHANNELS - len(done), messages, complete, wall)


class PacedPublisher:
    """What the Discord adapter lacks (a proposal, measured here): a client-side global pace, one request every
    1/`per_second` s, so the 429s never come. discord.py only reacts to them, 5 tries per request."""

    platform = "discord"

    def __init__(self, publisher: Any, *, per_second: float) -> None:
        self._publisher, self._gap = publisher, 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def _turn(self) -> None:
        async with self._lock:
            wait = self._next - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = max(time.monotonic(), self._next) + self._gap

    async def say(self, channel: ChannelRef, text: str) -> Any:
        await self._turn()
        return await self._publisher.say(channel, text)

    async def publish(self, channel: ChannelRef, entry: Any) -> Any:
        await self._turn()
        return await self._publisher.publish(channel, entry)


async def _prepare(service: Any, channels: list[ChannelRef]) -> None:
    published = NOW - timedelta(days=1)
    papers = [
        Paper(
            id=f"2403.{n + 1:05d}",
            version=1,
            title=f"A paper about fan-out, part {n}",
            authors=("Ada Lovelace",),
            abstract="We post many digests at once. It works.",
            categories=("cs.LG",),
            primary_category="cs.LG",
            published=published,
            updated=published,
            announced=DAY,
        )
        for n in range(30)
    ]
    await service.store_papers(papers)
    for channel in channels:
        await service.subscribe(channel, {"top_n": str(PAPERS_PER_DIGEST)})
