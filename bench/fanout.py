"""4. Fan-out: 100 channels × 10 messages through the Discord adapter reach ≥ 90 % of the global rate limit, and
no 429 is left unhandled.

The real discord.py bot of `adapters.discord` runs against the loopback fake Discord (tests/fakes/discord_server.py),
here with 100 text channels and Discord's global limit enforced: at most `LIMIT` REST requests in any second, the
rest answered 429 `global: true` with the time until a slot frees up. `HotPapers.post_digest` posts every channel's
digest at once (a header and 9 papers: 10 messages each) through the adapter's `DiscordPublisher`, as the scheduler
does when many channels share a post time. Measured: accepted requests per second while posting, against the limit;
every digest must end posted, every 429 retried. For comparison: the same with 👍/👎 seeded under every post (three
requests a post), and without the adapter's request budget (`adapters/discord/pacing.py`), which is what it fixes.
"""

from __future__ import annotations

import asyncio
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
from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord

SCHEMA = "bench_fanout"
LIMIT = 50
"""Discord's global limit: 50 requests a second per bot."""
CHANNELS, PAPERS_PER_DIGEST = 100, 9
DAY = date(2024, 3, 14)
NOW = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Variant:
    label: str
    rate_limit: int
    """`[discord] global_rate_limit`: the request budget (10,000 a second never holds a request back here)."""
    seed_reactions: bool
    target: bool
    """The issue's figure (the adapter as configured); the others are shown for comparison."""


VARIANTS = (
    Variant("DiscordPublisher (global_rate_limit = 50)", rate_limit=LIMIT, seed_reactions=False, target=True),
    Variant("same, 👍/👎 seeded under each post", rate_limit=LIMIT, seed_reactions=True, target=False),
    Variant("without the request budget", rate_limit=10_000, seed_reactions=False, target=False),
)


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
        """Accepted requests over the whole fan-out, from the first digest started to the last one done."""
        return self.accepted / self.wall if self.wall else 0.0


async def run(context: BenchContext) -> list[Result]:
    results = []
    quiet = {name: logging.getLogger(name) for name in ("discord", "bot.digest")}  # a warning per 429 otherwise
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.ERROR)
    try:
        outcomes = [await _fan_out(context, variant) for variant in VARIANTS]
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
    for variant, outcome in zip(VARIANTS, outcomes, strict=True):
        say(
            f"  {variant.label}: {outcome.accepted} requests accepted in {outcome.wall:.1f} s = "
            f"{outcome.rate:.1f}/s (limit {LIMIT}/s); {outcome.limited} answered 429; {outcome.messages} messages; "
            f"{outcome.failed} digests failed"
        )
        notes = (
            f"{CHANNELS} channels × {PAPERS_PER_DIGEST + 1} messages (header + {PAPERS_PER_DIGEST} papers), all "
            f"digests at once; the fake's global limit: {LIMIT} requests in any second (sliding window); seed "
            f"reactions {'on (2 more requests a post)' if variant.seed_reactions else 'off'}",
            f"{outcome.limited} requests answered 429 (global), each retried by discord.py; {outcome.failed} of "
            f"{CHANNELS} digests failed; {outcome.messages} messages stored; wall {outcome.wall:.1f} s",
            f"accepted requests per second: {outcome.rate:.1f}/s over the {outcome.wall:.1f} s from the first digest "
            f"started to the last one done (first to last request: {outcome.seconds:.1f} s); counted only when every "
            "digest was posted in full",
        )
        measured = outcome.rate if outcome.complete else 0.0
        name = "fan-out rate" if variant.target else f"fan-out rate, {variant.label}"
        results.append(Result(name, measured, 0.9 * LIMIT, "req/s", "higher", notes, informational=not variant.target))
        if variant.target:
            results.append(Result("fan-out 429s", outcome.limited, 0, "429s", "lower", inclusive=True))
    return results


async def _fan_out(context: BenchContext, variant: Variant) -> Outcome:
    channels = [
        ChannelRef("discord", GUILD_ID, str(3_100_000_000_000_000_100 + n), f"#papers-{n}") for n in range(CHANNELS)
    ]
    fake = FakeDiscord(extra_channels=tuple(c.channel for c in channels), global_limit=LIMIT)
    await fake.start()
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base  # type: ignore[misc]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    await recreate_schema(context.url, SCHEMA)
    app = await context.app(schema=SCHEMA, now=NOW)
    settings = Settings(enabled=True, seed_reactions=variant.seed_reactions, global_rate_limit=variant.rate_limit)
    bot = build_bot(app.service, settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await _prepare(app, channels)
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await asyncio.sleep(1.0)  # the start-up requests leave the fake's one-second window
        fake.accepted.clear()
        fake.globally_limited = 0
        started = time.monotonic()
        posts = [app.service.post_digest(c, DAY, bot.publisher) for c in channels]
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
    accepted = fake.accepted
    done = [r for r in results if not isinstance(r, BaseException)]
    complete = len(done) == CHANNELS and all(r.state == "posted" and r.posted == PAPERS_PER_DIGEST for r in done)
    ours = set(fake.extra_channels)
    messages = sum(1 for m in fake.messages.values() if m["channel_id"] in ours)
    seconds = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    return Outcome(len(accepted), seconds, fake.globally_limited, CHANNELS - len(done), messages, complete, wall)


async def _prepare(app: Any, channels: list[ChannelRef]) -> None:
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
    await app.operations.store_papers(papers)
    for channel in channels:
        await app.service.subscribe(channel, {"top_n": str(PAPERS_PER_DIGEST)})
