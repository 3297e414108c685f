"""4. Fan-out: 100 channels × 10 messages through the Discord adapter reach ≥ 90 % of the global rate limit, and
no 429 is left unhandled.

The real discord.py bot of `adapters.discord` runs against the loopback fake Discord (tests/fakes/discord_server.py),
here with 100 text channels and Discord's global limit enforced: at most `LIMIT` REST requests in any second, the
rest answered 429 `global: true` with the time until a slot frees up. `HotPapers.post_digest` posts every channel's
digest at once (a header and 9 papers: 10 messages each) through the adapter's `DiscordPublisher`, as the scheduler
does when many channels share a post time. Measured: accepted requests per second while posting, against the limit;
every digest must end posted, every 429 retried. For comparison: the same with 👍/👎 seeded under every post (three
requests a post), and without the adapter's request budget (`adapters/discord/pacing.py`), which is what it fixes.

The Slack row does the same through `SlackPublisher` against the fake Slack with chat.postMessage limited per channel
(`REALISTIC_POST_RATE`: a burst of 3, then 1 a second); its binding limit is what that allows 100 channels posting at
once. The fake runs in a process of its own (`_FakeSlackProcess`), as Slack does: in the bench's process it had
spent about as much CPU as the adapter on every post (copying each message into its history and events).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import yarl

from adapters.discord import Settings
from adapters.discord.client import build_bot
from adapters.slack.app import http_session, web_client
from adapters.slack.publisher import ChannelPacer, SlackPublisher
from adapters.slack.settings import Settings as SlackSettings
from bench.common import Result, quick, say
from bench.context import BenchContext
from bench.data import drop_schema, recreate_schema
from bot.domain.model import ChannelRef, Paper
from tests.fakes.discord_server import (
    GUILD_ID,
    REALISTIC_MESSAGE_BUCKET,
    REALISTIC_REACTION_BUCKET,
    TOKEN,
    FakeDiscord,
)
from tests.fakes.slack_server import REALISTIC_POST_RATE, FakeSlack

SCHEMA = "bench_fanout"
LIMIT = 50
"""Discord's global limit: 50 requests a second per bot."""
CHANNELS, PAPERS_PER_DIGEST = 100, 9
SLACK_CHANNELS = 100
ROOT = Path(__file__).resolve().parents[1]
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
    bucket_limited: int = 0

    @property
    def rate(self) -> float:
        """Accepted requests over the whole fan-out, from the first digest started to the last one done."""
        return self.accepted / self.wall if self.wall else 0.0


def binding_limit() -> float:
    """Requests a second the platform allows this fan-out: the global limit, or the channels' message buckets
    together if they allow less (100 channels × 5 messages per 5 s = 100/s: the global 50/s binds)."""
    bucket, seconds = REALISTIC_MESSAGE_BUCKET
    return min(LIMIT, CHANNELS * bucket / seconds)


async def run(context: BenchContext) -> list[Result]:
    results = []
    quiet = {name: logging.getLogger(name) for name in ("discord", "bot.app.digest", "slack_sdk")}  # a warning per 429
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.ERROR)
    try:
        variants = VARIANTS[:1] if quick() else VARIANTS  # the comparisons take minutes on a busy machine
        outcomes = [await _fan_out(context, variant) for variant in variants]
        pacing = (True,) if quick() else (True, False)
        slack = [await slack_fan_out(context, paced=paced) for paced in pacing]
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
    limit = binding_limit()
    for variant, outcome in zip(variants, outcomes, strict=True):
        say(
            f"  Discord, {variant.label}: {outcome.accepted} requests accepted in {outcome.wall:.1f} s = "
            f"{outcome.rate:.1f}/s (binding limit {limit:g}/s); {outcome.limited} answered 429 (global), "
            f"{outcome.bucket_limited} 429 (channel bucket); {outcome.messages} messages; {outcome.failed} digests "
            "failed"
        )
        notes = (
            f"{CHANNELS} channels × {PAPERS_PER_DIGEST + 1} messages (header + {PAPERS_PER_DIGEST} papers), all "
            f"digests at once; the fake's global limit {LIMIT} requests in any second (sliding window) and Discord's "
            f"per-channel buckets (messages {REALISTIC_MESSAGE_BUCKET[0]} per {REALISTIC_MESSAGE_BUCKET[1]:g} s, "
            f"reactions {REALISTIC_REACTION_BUCKET[0]} per {REALISTIC_REACTION_BUCKET[1]:g} s); binding: "
            f"{limit:g}/s; seed reactions {'on (2 more requests a post)' if variant.seed_reactions else 'off'}",
            f"{outcome.limited} requests answered 429 global, {outcome.bucket_limited} 429 per-channel bucket (each "
            f"retried by discord.py); {outcome.failed} of {CHANNELS} digests failed; {outcome.messages} messages",
            f"accepted requests per second over the {outcome.wall:.1f} s from the first digest started to the last "
            f"one done (first to last request: {outcome.seconds:.1f} s); counted only when every digest was posted",
        )
        measured = outcome.rate if outcome.complete else 0.0
        name = "Discord fan-out rate" if variant.target else f"Discord fan-out, {variant.label}"
        results.append(
            Result(
                name,
                measured,
                0.95,
                "req/s",
                "higher",
                notes,
                informational=not variant.target,
                baseline=limit,
                baseline_name="binding platform limit",
            )
        )
        if variant.target:
            results.append(Result("Discord fan-out failed digests", outcome.failed, 0, "digests", "lower",
                                  inclusive=True))  # fmt: skip
    for paced, outcome in zip(pacing, slack, strict=True):
        say(
            f"  Slack{'' if paced else ' (without the adapter pacing each channel)'}: {outcome.accepted} "
            f"posts in {outcome.wall:.1f} s = {outcome.rate:.1f}/s (binding limit {outcome.limit:.1f}/s); "
            f"{outcome.limited} answered ratelimited; {outcome.failed} digests failed {outcome.errors}"
        )
        burst, rate = REALISTIC_POST_RATE
        notes = (
            f"{SLACK_CHANNELS} channels (one per workspace: Slack's workspace-wide chat.postMessage limit, which it "
            f"gives no figure for, then never binds) × {PAPERS_PER_DIGEST + 1} messages through `SlackPublisher` on "
            f"the production web client (one aiohttp session; slack_sdk's rate-limit retry handler, 3 retries), "
            f"{'paced per channel as configured by default' if paced else 'without its per-channel pacer'}, "
            f"against the fake Slack in a process of its own with "
            f"chat.postMessage at {rate:g}/s per channel after a burst of {burst} (`REALISTIC_POST_RATE`); beyond "
            "it `ratelimited` with Retry-After",
            f"binding limit: each channel needs ({PAPERS_PER_DIGEST + 1} − {burst}) ÷ {rate:g} = "
            f"{(PAPERS_PER_DIGEST + 1 - burst) / rate:g} s at least, so {outcome.limit:.1f} posts/s for the fan-out; "
            f"{outcome.limited} ratelimited answers, {outcome.failed} digests failed, wall {outcome.wall:.1f} s",
        )
        measured = outcome.rate if outcome.complete else 0.0
        name = "Slack fan-out rate" if paced else "Slack fan-out, without the adapter's per-channel pacing"
        results.append(
            Result(
                name,
                measured,
                0.90,
                "posts/s",
                "higher",
                notes,
                informational=not paced,
                baseline=outcome.limit,
                baseline_name="binding platform limit",
            )
        )
        if paced:
            results.append(Result("Slack fan-out failed digests", outcome.failed, 0, "digests", "lower",
                                  inclusive=True))  # fmt: skip
    return results


@dataclass
class SlackOutcome:
    accepted: int
    limited: int
    failed: int
    complete: bool
    wall: float
    limit: float
    errors: str = ""

    @property
    def rate(self) -> float:
        return self.accepted / self.wall if self.wall else 0.0


async def slack_fan_out(context: BenchContext, *, paced: bool) -> SlackOutcome:
    workspaces = [(f"T{n:07d}", f"xoxb-bench-{n}") for n in range(SLACK_CHANNELS)]  # one channel in each
    channels = [ChannelRef("slack", team, f"C{n:08d}", f"#papers-{n}") for n, (team, _) in enumerate(workspaces)]
    tokens = dict(workspaces)
    burst, rate = REALISTIC_POST_RATE
    limit = SLACK_CHANNELS * (PAPERS_PER_DIGEST + 1) / ((PAPERS_PER_DIGEST + 1 - burst) / rate)
    async with _FakeSlackProcess(workspaces, [c.channel for c in channels]) as fake:
        await recreate_schema(context.url, SCHEMA)
        app = await context.app(schema=SCHEMA, now=NOW)
        settings = SlackSettings(api_url=fake.api_url)
        pacer = ChannelPacer(settings.post_burst, settings.posts_per_second) if paced else None
        session = http_session()  # as the adapter's app has it: one session, its connections kept alive

        async def token_of(team: str) -> str | None:
            return tokens.get(team)

        publisher = SlackPublisher(web_client(settings, session=session), token_of, pacer=pacer)
        try:
            await _prepare(app, channels)
            started = time.monotonic()
            posts = [app.service.post_digest(c, DAY, publisher) for c in channels]
            results = await asyncio.gather(*posts, return_exceptions=True)
            wall = time.monotonic() - started
        finally:
            await session.close()
            await app.aclose()
            await drop_schema(context.url, SCHEMA)
        accepted, limited = await fake.posts()
    done = [r for r in results if not isinstance(r, BaseException) and r.state == "posted"]
    complete = len(done) == SLACK_CHANNELS and all(r.posted == PAPERS_PER_DIGEST for r in done)
    errors = Counter(
        f"{type(r).__name__}: {str(r)[:80]}" if isinstance(r, BaseException) else r.state
        for r in results
        if isinstance(r, BaseException) or r.state != "posted"
    )
    text = "; ".join(f"{n} × {what}" for what, n in errors.most_common())
    return SlackOutcome(accepted, limited, SLACK_CHANNELS - len(done), complete, wall, limit, text)


async def _fan_out(context: BenchContext, variant: Variant) -> Outcome:
    channels = [
        ChannelRef("discord", GUILD_ID, str(3_100_000_000_000_000_100 + n), f"#papers-{n}") for n in range(CHANNELS)
    ]
    fake = FakeDiscord(
        extra_channels=tuple(c.channel for c in channels),
        global_limit=LIMIT,
        message_bucket=REALISTIC_MESSAGE_BUCKET,
        reaction_bucket=REALISTIC_REACTION_BUCKET,
    )
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
        before = len(fake.requests)
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
    all_429 = sum(1 for r in fake.requests[before:] if r.status == 429)
    return Outcome(
        len(accepted),
        seconds,
        fake.globally_limited,
        CHANNELS - len(done),
        messages,
        complete,
        wall,
        all_429 - fake.globally_limited,
    )


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


class _FakeSlackProcess:
    """The fake Slack (`REALISTIC_POST_RATE`) in a process of its own, as Slack's servers are: its request handling
    (parsing, copying each message into the history it keeps, the events it would deliver) then costs the bench
    process and its event loop nothing, and the figure is the adapter's and the engine's alone. Its stdout gives
    the API URL, then (after a line on its stdin) what chat.postMessage answered."""

    def __init__(self, workspaces: list[tuple[str, str]], channels: list[str]) -> None:
        self._spec = json.dumps({"workspaces": workspaces, "channels": channels})
        self._process: asyncio.subprocess.Process | None = None
        self.api_url = ""

    async def __aenter__(self) -> _FakeSlackProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.fanout", "--fake-slack", self._spec, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.api_url = json.loads(await self._line())["api_url"]
        return self

    async def posts(self) -> tuple[int, int]:
        """(accepted, answered `ratelimited`) chat.postMessage calls so far."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(b"report\n")
        await self._process.stdin.drain()
        answer = json.loads(await self._line())
        return int(answer["accepted"]), int(answer["limited"])

    async def _line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"the fake Slack process ended (exit {await self._process.wait()})")
        return line.decode()

    async def __aexit__(self, *exc: object) -> None:
        if self._process is None:
            return
        if self._process.returncode is None:
            self._process.kill()
        await self._process.wait()


async def _serve_fake_slack(spec: dict[str, Any]) -> None:
    """The child's side of `_FakeSlackProcess`."""
    async with FakeSlack(post_rate=REALISTIC_POST_RATE) as fake:
        for team, token in spec["workspaces"]:
            fake.add_workspace(team, token=token, bot_user="U0HOTPAPER")
        for (team, _), channel in zip(spec["workspaces"], spec["channels"], strict=True):
            fake.add_channel(channel, f"papers-{channel}", team=team)
        print(json.dumps({"api_url": fake.api_url}), flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            calls = fake.calls_to("chat.postMessage")
            accepted = sum(1 for call in calls if call.ok)
            limited = sum(1 for call in calls if not call.ok and call.response.get("error") == "ratelimited")
            print(json.dumps({"accepted": accepted, "limited": limited}), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--fake-slack"]:
    asyncio.run(_serve_fake_slack(json.loads(sys.argv[2])))
