"""`python -m bench.profile paper|digest|votes|post [--calls N] [--reuse]`: where a figure's time goes, with cProfile.

Runs the benchmark's workload once to warm up, then again under cProfile, and prints the functions with the most
cumulative and own time, grouped by where they live (the project, SQLAlchemy, asyncpg, asyncio, other), plus the
share of wall time the event loop spent waiting (mostly PostgreSQL answering). The corpus is the benchmarks'
(`--reuse` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import sys
import time
from collections import defaultdict
from typing import Any

from bench.common import pg_url, say
from bench.context import BenchContext


def _where(filename: str) -> str:
    for marker, name in (
        ("/bot/", "bot (project)"),
        ("/adapters/", "adapters (project)"),
        ("sqlalchemy", "SQLAlchemy"),
        ("asyncpg", "asyncpg"),
        ("asyncio", "asyncio"),
        ("pydantic", "pydantic"),
    ):
        if marker in filename:
            return name
    return "other (stdlib, builtins)"


def summarise(profile: cProfile.Profile, wall: float, calls: int, cpu: float, top: int = 25) -> str:
    """cProfile's times are wall-clock: on a busy machine a function's own time includes the moments the process
    was not running. `cpu` (process time) says how much of the wall the process actually ran."""
    stats = pstats.Stats(profile)
    own: dict[str, float] = defaultdict(float)
    idle = 0.0
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "epoll" in name:
            idle += tottime
            continue
        own[_where(filename)] += tottime
    busy = sum(own.values())
    out = io.StringIO()
    out.write(f"wall {wall:.2f} s for {calls} calls ({wall / calls * 1e3:.2f} ms each); process CPU {cpu:.2f} s "
              f"({cpu / wall:.0%} of wall); event loop idle in epoll (waiting for PostgreSQL) {idle:.2f} s "
              f"({idle / wall:.0%})\n")  # fmt: skip
    out.write("own time by origin: " + ", ".join(f"{k} {v:.2f} s ({v / busy:.0%})" for k, v in
                                                 sorted(own.items(), key=lambda kv: -kv[1])) + "\n")  # fmt: skip
    listing = io.StringIO()
    pstats.Stats(profile, stream=listing).sort_stats("tottime").print_stats(top)
    out.write(listing.getvalue().split("\n", 6)[-1])
    listing = io.StringIO()
    pstats.Stats(profile, stream=listing).sort_stats("cumulative").print_stats(r"/bot/", top)
    out.write(listing.getvalue().split("\n", 6)[-1])
    return out.getvalue()


async def paper(context: BenchContext, calls: int) -> str:
    from bench.paper_latency import workload

    corpus = await context.corpus()
    app = await context.app(schema=corpus.schema, now=corpus.now)
    picks = workload(corpus, random.Random(1), calls)
    try:
        for _, ref, channel in picks:
            await app.service.paper(ref, channel)
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        for _, ref, channel in picks:
            await app.service.paper(ref, channel)
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        layers = await paper_layers(app, context.url, corpus.schema, picks)
    finally:
        await app.aclose()
    return summarise(profile, wall, calls, cpu) + layers


async def paper_layers(app: Any, url: str, schema: str, picks: list[tuple[str, str, Any]]) -> str:
    """The same calls layer by layer, each in its own tight loop as the baseline is (no cProfile): the raw
    primary-key lookup; the card's statement on one asyncpg connection; the same on a connection borrowed from the
    engine's pool; the unit of work's `paper_view` (that, plus the unit of work and the row made a `PaperView`); the
    whole `/paper`. Each step's p50 less the previous one is what that layer costs (the unit of work reads on the
    connection the engine keeps for such reads: compare it with that layer, not the pool's)."""
    import asyncpg
    from sqlalchemy.util import greenlet_spawn

    from bench.common import asyncpg_dsn, percentile
    from bench.paper_latency import parse_id
    from bot.storage import card_parts
    from bot.storage.database import read_on_driver

    calls = [(ref, parse_id(ref), channel) for _, ref, channel in picks]

    def values(paper_id: str, channel: Any) -> list[Any]:
        given: dict[str, Any] = {"paper_id": paper_id, "ids": [paper_id]}
        if channel is not None:
            given |= {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}
        return card_parts._driver_statements[channel is not None].arguments(given)

    def sql(channel: Any) -> str:
        return card_parts._driver_statements[channel is not None].sql

    connection = await asyncpg.connect(asyncpg_dsn(url), server_settings={"search_path": schema})
    lookup = await connection.prepare("SELECT * FROM papers WHERE id = $1")

    async def raw_lookup(_ref: str, paper_id: str, _channel: Any) -> None:
        await lookup.fetchrow(paper_id)

    async def statement(_ref: str, paper_id: str, channel: Any) -> None:
        await connection.fetchrow(sql(channel), *values(paper_id, channel))

    async def pooled(_ref: str, paper_id: str, channel: Any) -> None:
        borrowed = await app.engine.raw_connection()
        await borrowed.driver_connection.fetchrow(sql(channel), *values(paper_id, channel))
        await greenlet_spawn(borrowed.close)

    async def kept(_ref: str, paper_id: str, channel: Any) -> None:
        arguments = values(paper_id, channel)
        await read_on_driver(app.engine, lambda driver: driver.fetchrow(sql(channel), *arguments))

    async def view(_ref: str, paper_id: str, channel: Any) -> None:
        async with app.uow() as uow:
            await uow.card_parts.paper_view(paper_id, channel)

    async def whole(ref: str, _paper_id: str, channel: Any) -> None:
        await app.service.paper(ref, channel)

    steps = {
        "raw primary-key lookup (the baseline)": raw_lookup,
        "the card's statement, asyncpg, one connection": statement,
        "the same, connection borrowed from the pool": pooled,
        "the same, on the connection kept for reads": kept,
        "+ unit of work, row made a PaperView": view,
        "+ the card: /paper end to end": whole,
    }
    timings: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, float] = dict.fromkeys(steps, 0.0)
    try:
        for _ in range(2):  # two rounds, so a burst of load elsewhere does not land on one layer only
            for name, step in steps.items():
                for call in calls[:50]:
                    await step(*call)  # warm: prepared statements, generic plans
                started_cpu = time.process_time()
                for call in calls:
                    started = time.perf_counter()
                    await step(*call)
                    timings[name].append(time.perf_counter() - started)
                cpu[name] += time.process_time() - started_cpu
    finally:
        await connection.close()
    base = percentile(timings[next(iter(steps))], 0.5)
    out = io.StringIO()
    out.write("\nlayer by layer (tight loops, same calls): p50 ms, ratio to the raw lookup's p50, process CPU a call\n")
    for name, values_ in timings.items():
        p50 = percentile(values_, 0.5)
        out.write(f"  {name:48} {p50 * 1e3:6.3f} ms  {p50 / base:5.1f}×  CPU {cpu[name] / len(values_) * 1e3:.3f} ms\n")
    return out.getvalue()


async def digest(context: BenchContext, calls: int) -> str:
    from bench.digest_build import RunningClock

    corpus = await context.corpus()
    channels = corpus.channels[:calls]
    warm = await context.app(schema=corpus.schema, clock=RunningClock(corpus.now))
    try:
        await asyncio.gather(*(warm.service.digest(c, corpus.day) for c in channels))
    finally:
        await warm.aclose()
    app = await context.app(schema=corpus.schema, clock=RunningClock(corpus.now))
    try:
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        await asyncio.gather(*(app.service.digest(c, corpus.day) for c in channels))
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await app.aclose()
    return summarise(profile, wall, len(channels), cpu)


async def votes(context: BenchContext, calls: int) -> str:
    from bench import vote_ingest
    from bench.data import drop_schema, recreate_schema

    schema = "bench_profile_votes"
    await recreate_schema(context.url, schema)
    app, _ = await vote_ingest._prepare(context, context.url, schema)
    work = vote_ingest.workload(random.Random(3), calls, vote_ingest.PER_KEY)  # as the target row: a burst
    try:
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        await vote_ingest._deliver(app, work)
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await app.aclose()  # type: ignore[attr-defined]
        await drop_schema(context.url, schema)
    return summarise(profile, wall, calls, cpu)


async def post(context: BenchContext, calls: int) -> str:
    """`post_digest` for `calls` channels at once (header + 9 papers each) into an in-memory publisher: the
    engine's share of a fan-out, without the platform."""
    from bench import fanout
    from bench.data import drop_schema, recreate_schema
    from bot.domain.model import ChannelRef
    from tests.fakes.recording_publisher import RecordingPublisher

    schema = "bench_profile_post"
    channels = [ChannelRef("discord", "1", str(3_200_000_000_000_000_000 + n), f"#p{n}") for n in range(calls)]
    await recreate_schema(context.url, schema)
    app = await context.app(schema=schema, now=fanout.NOW)
    try:
        await fanout._prepare(app, channels)
        publisher = RecordingPublisher("discord")
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        gate = asyncio.Semaphore(10)  # unbounded, cProfile's overhead runs 100 digests into the 30 s pool timeout

        async def one(channel: ChannelRef) -> None:
            async with gate:
                await app.service.post_digest(channel, fanout.DAY, publisher)

        await asyncio.gather(*(one(c) for c in channels))
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await app.aclose()
        await drop_schema(context.url, schema)
    return summarise(profile, wall, len(publisher.calls), cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("paper", "digest", "votes", "post"))
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args(argv)
    calls = args.calls or {"paper": 1_000, "digest": 1_000, "votes": 20_000, "post": 100}[args.what]

    async def go() -> str:
        context = BenchContext(pg_url(), reuse=args.reuse)
        try:
            return await {"paper": paper, "digest": digest, "votes": votes, "post": post}[args.what](context, calls)
        finally:
            await context.close()

    say(asyncio.run(go()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
