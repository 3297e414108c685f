"""1. The /paper engine path for a stored paper on the big corpus: p50 < 5 ms, p99 < 20 ms.

`HotPapers.paper(ref, channel)` end to end — parse the reference, look the paper up, read its signals, votes and
summaries, pick the best summary and build the card — called one after another (latency, not throughput). The mix:
a third uniformly random stored papers, a third of the latest day's papers (signals, AI summaries), a third popular
past papers (posted in hundreds of channels, voted on, community summaries); half with a channel (its votes), half
without (every channel's votes); references in every accepted form.
"""

from __future__ import annotations

import random
import time
from collections import Counter

from bench.common import Result, StatementCounter, percentile, say
from bench.context import BenchContext
from bench.data import Corpus, popular_ids
from bot.model import ChannelRef

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


async def run(context: BenchContext) -> list[Result]:
    corpus = await context.corpus()
    app = await context.app(schema=corpus.schema, now=corpus.now)
    counter = StatementCounter(app.engine)
    rng = random.Random(1)
    picks = workload(corpus, rng, CALLS + WARM_UP)
    try:
        for _, ref, channel in picks[:WARM_UP]:
            await app.service.paper(ref, channel)
        latencies: dict[str, list[float]] = {"all": [], "random": [], "latest day": [], "popular": []}
        statements: list[int] = []
        seen: Counter[str] = Counter()
        for kind, ref, channel in picks[WARM_UP:]:
            with counter.measure() as sent:
                started = time.perf_counter()
                card = await app.service.paper(ref, channel)
                elapsed = time.perf_counter() - started
            latencies["all"].append(elapsed)
            latencies[kind].append(elapsed)
            statements.append(sent[0])
            seen["votes"] += bool(card.votes.up or card.votes.down)
            seen["signals"] += bool(card.signals)
            seen[f"summary:{card.summary.source}"] += 1
            seen["posted"] += bool(card.posted)
    finally:
        counter.close()
        await app.aclose()
    for kind, values in latencies.items():
        say(
            f"  {kind:>10}: p50 {percentile(values, 0.5) * 1e3:6.2f} ms  p99 {percentile(values, 0.99) * 1e3:6.2f} ms"
            f"  max {max(values) * 1e3:6.2f} ms  ({len(values)} calls)"
        )
    everything = latencies["all"]
    notes = (
        f"{CALLS} sequential calls after {WARM_UP} warm-up; {corpus.rows.get('papers', 0):,} papers, "
        f"{corpus.rows.get('votes', 0):,} votes, {corpus.rows.get('posts', 0):,} posts in PostgreSQL",
        f"SQL statements per call: mean {sum(statements) / len(statements):.1f}, max {max(statements)}",
        "cards with " + ", ".join(f"{key} {value}" for key, value in sorted(seen.items())),
    )
    return [
        Result("paper p50", percentile(everything, 0.5) * 1e3, 5, "ms", "lower", notes),
        Result("paper p99", percentile(everything, 0.99) * 1e3, 20, "ms", "lower"),
    ]
