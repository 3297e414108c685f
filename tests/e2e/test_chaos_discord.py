"""Exactly once on Discord, with real `hotpapers run` replicas killed, stalled and replaced at random.

20 channels of a guild on the loopback fake Discord are subscribed with a post time that has just passed, so every
replica's start-up catch-up goes for their digests at once. Two replicas at a time share PostgreSQL with a 2-second
lease; every digest message takes the fake 0.5 s to answer, so most kills and stalls land between a message being
sent and its record. Whenever a message has reached the fake since its last blow, the driver may kill a replica
(SIGKILL) or stop one (SIGSTOP, resumed seconds later), and it keeps two replicas running, until every channel's
digest is done. Then each planned message must be visible on the fake exactly once, and each message id the database
records must be the visible one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.domain.config import parse_config
from bot.domain.model import ChannelRef, PostKey
from bot.runtime.bootstrap import build
from bot.runtime.sample import load_sample
from tests.conftest import PG_URL, pg_schema
from tests.e2e.chaos import OFFLINE_SOURCES
from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord

pytestmark = [pytest.mark.pg, pytest.mark.slow]

CHANNELS = [str(3_000_000_000_000_000_200 + n) for n in range(20)]
REPLICAS = 2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with pg_schema("chaos_discord") as name:
        yield name


def _noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now: "a post time that just passed" is today's, never tomorrow's."""
    offset = 12 - now.hour
    offset = offset - 24 if offset > 12 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def _config(folder: Path, schema: str) -> Path:
    path = folder / "replica.toml"
    path.write_text(
        f"""
[database]
url = "{PG_URL}"
schema = "{schema}"
[digest]
lease_seconds = 2
backoff_seconds = 0.05
[scheduler]
grace_minutes = 60
ingest_cron = "0 0 1 1 *"
{OFFLINE_SOURCES}[discord]
enabled = true
guilds = [{GUILD_ID}]
seed_reactions = false
[logging]
level = "INFO"
""",
        encoding="utf-8",
    )
    return path


async def test_replicas_killed_and_stalled_post_every_discord_message_exactly_once(tmp_path: Path, schema: str) -> None:
    fake = FakeDiscord(extra_channels=tuple(CHANNELS))
    await fake.start()
    fake.faults.inject(r"POST /channels/\d+/messages", "slow", times=None, delay=0.5)
    config = parse_config({"database": {"url": PG_URL, "schema": schema}})
    now = datetime.now(UTC)
    zone = _noon_zone(now)
    post_time = (now.astimezone(__import__("zoneinfo").ZoneInfo(zone)) - timedelta(minutes=2)).strftime("%H:%M")
    channels = [ChannelRef("discord", GUILD_ID, channel, f"#papers-{n}") for n, channel in enumerate(CHANNELS)]
    async with await build(config, offline=True) as app:
        await load_sample(app.uow, now=now)
        for channel in channels:
            options = {"time": post_time, "tz": zone, "weekdays": "mon,tue,wed,thu,fri,sat,sun"}
            await app.service.subscribe(channel, options)

        async def done() -> int:
            async with app.engine.connect() as connection:
                rows = await connection.execute(text("SELECT count(*) FROM digests WHERE state = 'done'"))
                return int(rows.scalar_one())

        path = _config(tmp_path, schema)
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "HOTPAPERS_BENCH_DISCORD_API": fake.api_base,
            "HOTPAPERS_BENCH_DISCORD_GATEWAY": fake.gateway_url,
            "PYTHONPATH": str(ROOT),
        }
        logs: list[Path] = []

        async def start() -> asyncio.subprocess.Process:
            log = tmp_path / f"replica-{len(logs)}.log"
            logs.append(log)
            with log.open("wb") as stderr:
                return await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench.run_bot",
                    "--config",
                    str(path),
                    "run",
                    cwd=tmp_path,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                    env=env,
                )

        rng = random.Random(20261130)
        replicas = [await start() for _ in range(REPLICAS)]
        stopped: list[tuple[float, asyncio.subprocess.Process]] = []
        kills = stalls = messages_at_last_blow = 0
        loop = asyncio.get_running_loop()
        try:
            while await done() < len(channels):
                assert len(logs) < 200, "no progress after 200 replicas"
                for at, process in [s for s in stopped if s[0] <= loop.time()]:
                    stopped.remove((at, process))
                    process.send_signal(signal.SIGCONT)
                running = [p for p in replicas if p.returncode is None and all(p is not s for _, s in stopped)]
                progressed = len(fake.messages) > messages_at_last_blow  # misbehave only once something moved on
                roll = rng.random() if progressed else 1.0
                if roll < 0.8:
                    messages_at_last_blow = len(fake.messages)
                if running and roll < 0.5:
                    victim = rng.choice(running)
                    victim.send_signal(signal.SIGKILL)
                    await victim.wait()
                    replicas.remove(victim)
                    kills += 1
                elif running and roll < 0.8:
                    victim = rng.choice(running)
                    victim.send_signal(signal.SIGSTOP)
                    stopped.append((loop.time() + rng.uniform(2.5, 6.0), victim))
                    stalls += 1
                live = [p for p in replicas if p.returncode is None and all(p is not s for _, s in stopped)]
                replicas.extend([await start() for _ in range(REPLICAS - len(live))])
                await asyncio.sleep(rng.uniform(0.05, 0.3))
            for _, process in stopped:  # the stalled ones wake up last, after everything was posted without them
                process.send_signal(signal.SIGCONT)
            await asyncio.sleep(3)  # their requests in flight land, their records are refused, extras go
        finally:
            for process in replicas:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGCONT)
                    process.send_signal(signal.SIGTERM)
            for process in replicas:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 20)
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await fake.close()

        journal = "\n".join(log.read_text(errors="replace") for log in logs)
        adopted, deleted = journal.count("adopted message"), journal.count("deleted message")
        duplicates = missing = 0
        for channel in channels:
            shown = fake.channel_messages(channel.channel)
            copies = Counter(_key(message) for message in shown)
            plan = await _plan(app, channel)
            assert len(plan) == 6 and None not in plan.values(), (channel, plan)
            duplicates += sum(copies[key] - 1 for key in plan if copies[key] > 1)
            missing += sum(1 for key in plan if copies[key] == 0)
            assert set(copies) <= set(plan), f"a message no plan has in {channel.channel}: {copies}"
            assert set(plan.values()) == {m["id"] for m in shown}, "a recorded id is not the visible one"
        print(
            f"\nchaos (discord): {len(channels)} channel-days, {len(logs)} replicas started, {kills} kill -9, "
            f"{stalls} SIGSTOP/SIGCONT; between a message and its record: {adopted} adopted after a kill or stall, "
            f"{deleted} late copies deleted; duplicates = {duplicates}, missing = {missing}"
        )
        assert (duplicates, missing) == (0, 0)
        assert kills + stalls >= 3 and adopted + deleted >= 1


def _key(message: dict[str, object]) -> PostKey | None:
    embeds = message.get("embeds") or []
    texts = [str((e.get("footer") or {}).get("text", "")) for e in embeds] + [str(message.get("content") or "")]  # type: ignore[union-attr]
    return next((key for key in map(PostKey.search, texts) if key), None)


async def _plan(app: object, channel: ChannelRef) -> dict[PostKey, str | None]:
    query = text(
        "SELECT 0, '', 0, d.header_message_id, d.day FROM digests d JOIN channels c ON c.id = d.channel_id "
        "WHERE c.channel = :channel UNION ALL "
        "SELECT p.rank, p.paper_id, p.version, p.message_id, d.day FROM posts p JOIN digests d ON d.id = p.digest_id "
        "JOIN channels c ON c.id = d.channel_id WHERE c.channel = :channel"
    )
    async with app.engine.connect() as connection:  # type: ignore[attr-defined]
        rows = await connection.execute(query, {"channel": channel.channel})
        return {
            PostKey(day, rank, f"{paper}v{version}" if rank else ""): message
            for rank, paper, version, message, day in rows
        }
