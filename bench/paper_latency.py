"""1. The /paper engine path for a stored paper on the big corpus: p50 < 5 ms, p99 < 20 ms.

`HotPapers.paper(ref, channel)` end to end — parse the reference, look the paper up, read its signals, votes and
summaries, pick the best summary and build the card — called one after another (latency, not throughput). The mix:
a third uniformly random stored papers, a third of the latest day's papers (signals, AI summaries), a third popular
past papers (posted in hundreds of channels, voted on, community summaries); half with a channel (its votes), half
without (every channel's votes); references in every accepted form.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import baselines
from bench.common import Result, StatementCounter, percentile, say
from bench.context import BenchContext
from bench.data import Corpus, popular_ids
from bot.domain.model import ChannelRef

CALLS = 3_000
WARM_UP = 300


def workload(corpus: Corpus, rng: random.Random, count: int) -> list[tuple[str, str, ChannelRef | None]]:
    """(kind, reference, channel) for `count` calls."""
    kinds = ("random", "latest day", "popular")
    picks: list[tuple[str, str, ChannelRef | None]] = []
    popular = popular_ids(corpus, rng, count)
    for n in range(count):
        kind = kinds[n % 3]
        if kind == "random":
            paper_id = rng.choice(corpus.paper_ids)
        elif kind == "latest day":
            paper_id = rng.choice(corpus.candidate_ids)
        else:
            paper_id = popular[n]
        form = n % 4
        ref = (paper_id, f"arXiv:{paper_id}", f"https://arxiv.org/abs/{paper_id}", f"{paper_id}v1")[form]
        channel = rng.choice(corpus.channels) if n % 2 else None
        picks.append((kind, ref, channel))
    return picks


@dataclass
class Measured:
    warm: dict[str, list[float]]
    cold: list[float]
    raw: list[float]
    statements: list[int]
    seen: Counter[str]

    def p(self, values: list[float]) -> tuple[float, float]:
        return percentile(values, 0.5) * 1e3, percentile(values, 0.99) * 1e3


async def measure(context: BenchContext, corpus: Corpus, *, calls: int = CALLS, warm_up: int = WARM_UP) -> Measured:
    """The cold pass (a fresh engine, the workload's papers not read before in this run), then the raw lookups of
    the same papers, then the warm pass: the same calls again after `warm_up` calls."""
    app = await context.app(schema=corpus.schema, now=corpus.now)
    counter = StatementCounter(app.engine)
    driver = DriverStatements(app.engine)
    rng = random.Random(1)
    picks = workload(corpus, rng, calls + warm_up)
    timed = picks[warm_up:]
    try:
        cold = []
        for _, ref, channel in timed:
            started = time.perf_counter()
            await app.service.paper(ref, channel)
            cold.append(time.perf_counter() - started)
        ids = [parse_id(ref) for _, ref, _ in timed]
        await baselines.pk_lookups(context.url, corpus.schema, ids[:warm_up])  # the raw path's own warm-up
        raw = await baselines.pk_lookups(context.url, corpus.schema, ids)
        for _, ref, channel in picks[:warm_up]:
            await app.service.paper(ref, channel)
        latencies: dict[str, list[float]] = {"all": [], "random": [], "latest day": [], "popular": []}
        statements: list[int] = []
        seen: Counter[str] = Counter()
        for kind, ref, channel in timed:
            before = driver.count
            with counter.measure() as sent:
                started = time.perf_counter()
                card = await app.service.paper(ref, channel)
                elapsed = time.perf_counter() - started
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after the statement, not at once
            latencies["all"].append(elapsed)
            latencies[kind].append(elapsed)
            statements.append(sent[0] + driver.count - before)
            seen["votes"] += bool(card.votes.up or card.votes.down)
            seen["signals"] += bool(card.signals)
            seen[f"summary:{card.summary.source}"] += 1
            seen["posted"] += bool(card.posted)
    finally:
        counter.close()
        await app.aclose()
    return Measured(latencies, cold, raw, statements, seen)


class DriverStatements:
    """Counts the statements sent on asyncpg's connections themselves, past SQLAlchemy's execution and so past
    `StatementCounter` (the `/paper` card is read that way: `bot/storage/card_parts.py`), with asyncpg's query
    logger on each pooled connection as it is checked out. SQLAlchemy's own statements go through prepared
    statements, which the logger does not see: the two counts add up."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self._logged: set[int] = set()
        event.listen(engine.sync_engine.pool, "checkout", self._checked_out)

    def _checked_out(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        connection = dbapi_connection.driver_connection
        if id(connection) not in self._logged:
            self._logged.add(id(connection))
            connection.add_query_logger(self._seen)

    def _seen(self, _query: Any) -> None:
        self.count += 1


def parse_id(ref: str) -> str:
    """The bare id of a workload reference (every form the workload makes)."""
    bare = ref.removeprefix("https://arxiv.org/abs/").removeprefix("arXiv:")
    return bare[:-2] if bare.endswith("v1") else bare


async def run(context: BenchContext) -> list[Result]:
    corpus = await context.corpus()
    m = await measure(context, corpus)
    for kind, values in m.warm.items():
        say(
            f"  {kind:>10}: p50 {percentile(values, 0.5) * 1e3:6.2f} ms  p99 {percentile(values, 0.99) * 1e3:6.2f} ms"
            f"  max {max(values) * 1e3:6.2f} ms  ({len(values)} calls)"
        )
    (p50, p99), (c50, c99), (r50, r99) = m.p(m.warm["all"]), m.p(m.cold), m.p(m.raw)
    say(f"  cold pass: p50 {c50:.2f} ms p99 {c99:.2f} ms; raw asyncpg primary-key lookup p50 {r50:.3f} p99 {r99:.3f}")
    notes = (
        f"{len(m.cold)} sequential calls, warm after {WARM_UP} warm-up; {corpus.rows.get('papers', 0):,} papers, "
        f"{corpus.rows.get('votes', 0):,} votes, {corpus.rows.get('posts', 0):,} posts in PostgreSQL",
        f"SQL statements per call: mean {sum(m.statements) / len(m.statements):.1f}, max {max(m.statements)}",
        "cards with " + ", ".join(f"{key} {value}" for key, value in sorted(m.seen.items())),
        "by kind (warm) p50/p99 ms: "
        + ", ".join(f"{k} {m.p(v)[0]:.2f}/{m.p(v)[1]:.2f}" for k, v in m.warm.items() if k != "all"),
    )
    raw = "raw PK lookup"
    return [
        Result("paper p50 (warm)", p50, 4, "ms", "lower", notes, inclusive=True, baseline=r50, baseline_name=raw),
        Result("paper p99 (warm)", p99, 10, "ms", "lower", inclusive=True, baseline=r99, baseline_name=raw),
        Result("paper p50 (cold pass)", c50, 4, "ms", "lower", baseline=r50, baseline_name=raw, informational=True),
        Result("paper p99 (cold pass)", c99, 10, "ms", "lower", baseline=r99, baseline_name=raw, informational=True),
    ]
