"""9. How cost grows with the work: each figure at three sizes a factor 10 apart, with its baseline at each size, and
a plot per figure (`bench/paper_size.png`, `bench/digest_size.png`, `bench/votes_size.png`).

- `/paper` p50/p99 (warm) at 10k / 100k / 1M papers. Everything else scales with the papers (posts = papers,
  votes = 5 × papers; 1,000 channels with 2 / 20 / 200 past digests each); 1M is the main corpus. Expected: flat.
- The digest build at 100 / 1,000 / 10,000 channels, on one corpus of 10,000 channels (100,000 papers, 5,000
  candidates, 20 past digests a channel, 1,000,000 posts and votes): the first N channels. Expected: at most linear.
- Vote ingestion with 10k / 100k / 1M votes stored before (on papers the workload does not touch). Expected: flat.

`HOTPAPERS_BENCH_QUICK=1` runs smaller sizes (a tenth; `/paper` fewer calls) for a quick look.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bench import digest_build, paper_latency, vote_ingest
from bench.common import Result, percentile, quick, say
from bench.context import BenchContext
from bench.corpus_rows import Scale
from bench.data import Corpus, drop_schema, load_corpus

HERE = Path(__file__).parent


@dataclass
class Point:
    size: int
    measured: list[float]
    baseline: list[float]


def _paper_scale(papers: int) -> Scale:
    days = max(2, papers // 5_000)
    candidates = min(5_000, papers // 20)
    return Scale(papers=papers, candidates=candidates, per_day=(papers - candidates) // days, channels=1_000,
                 digest_days=days, votes=5 * 1_000 * days * 5)  # fmt: skip


async def _corpus(context: BenchContext, schema: str, scale: Scale) -> Corpus:
    say(f"  corpus {schema}: {scale}")
    return await load_corpus(context.url, schema=schema, scale=scale, reuse=context.reuse)


async def paper_sizes(context: BenchContext) -> list[Point]:
    sizes = (10_000, 100_000, 1_000_000)  # the 1M corpus is the main one, made anyway
    calls = 600 if quick() else 1_500
    points = []
    for size in sizes:
        if size == 1_000_000:
            corpus = await context.corpus()
        else:
            corpus = await _corpus(context, f"bench_size_{size}", _paper_scale(size))
        try:
            m = await paper_latency.measure(context, corpus, calls=calls, warm_up=300)
        finally:
            if size != 1_000_000 and not context.reuse:
                await drop_schema(context.url, corpus.schema)
        (p50, p99), (r50, r99) = m.p(m.warm["all"]), m.p(m.raw)
        say(f"  /paper at {size:,} papers: p50 {p50:.2f} ms, p99 {p99:.2f} ms; raw lookup {r50:.3f} / {r99:.3f} ms")
        points.append(Point(size, [p50, p99], [r50, r99]))
    return points


async def digest_sizes(context: BenchContext) -> list[Point]:
    channels = 1_000 if quick() else 10_000
    scale = Scale(papers=100_000, candidates=5_000, per_day=4_750, channels=channels, digest_days=20,
                  votes=channels * 20 * 5)  # fmt: skip
    corpus = await _corpus(context, "bench_size_channels", scale)
    points = []
    try:
        for count in (channels // 100, channels // 10, channels):
            cold, warm, raw = await digest_build.build_all(context, corpus, corpus.channels[:count])
            say(f"  digest for {count:,} channels: {warm:.2f} s (cold pass {cold:.2f} s); raw read {raw:.2f} s")
            points.append(Point(count, [warm, cold], [raw]))
    finally:
        if not context.reuse:
            await drop_schema(context.url, corpus.schema)
    return points


async def vote_sizes(context: BenchContext) -> list[Point]:
    events = 10_000 if quick() else 20_000
    points = []
    for stored in (1_000, 10_000, 100_000) if quick() else (10_000, 100_000, 1_000_000):
        done = await vote_ingest.ingest(context, context.url, "bench_size_votes", events, stored=stored)
        say(
            f"  votes with {stored:,} stored: {done.rate:,.0f} events/s ({'exact' if done.exact else 'WRONG'}); "
            f"raw upserts {done.raw_rate:,.0f}/s"
        )
        points.append(Point(stored, [done.rate if done.exact else 0.0], [done.raw_rate or 0.0]))
    return points


def _plot(
    name: str, title: str, xlabel: str, ylabel: str, points: list[Point], series: list[tuple[str, str, int]]
) -> Path:
    """series: (label, 'measured'|'baseline', index)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    xs = [p.size for p in points]
    for label, kind, index in series:
        ys = [getattr(p, kind)[index] for p in points]
        axes.plot(xs, ys, marker="o", linestyle="--" if kind == "baseline" else "-", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = HERE / f"{name}.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


async def run(context: BenchContext) -> list[Result]:
    paper = await paper_sizes(context)
    digest = await digest_sizes(context)
    votes = await vote_sizes(context)
    paths = [
        _plot("paper_size", "/paper latency vs corpus size (warm)", "papers", "ms", paper,
              [("/paper p50", "measured", 0), ("/paper p99", "measured", 1),
               ("raw PK lookup p50", "baseline", 0), ("raw PK lookup p99", "baseline", 1)]),
        _plot("digest_size", "digest build vs channels (5,000 candidates)", "channels", "seconds", digest,
              [("digest build (warm)", "measured", 0), ("digest build (cold)", "measured", 1),
               ("raw read of inputs", "baseline", 0)]),
        _plot("votes_size", "vote ingestion vs votes stored", "votes stored before", "events / s", votes,
              [("engine (record_vote)", "measured", 0), ("raw batched upserts", "baseline", 0)]),
    ]  # fmt: skip
    say("  plots: " + ", ".join(str(path.relative_to(HERE.parent)) for path in paths))
    results = []
    for label, unit, points, index, better in (
        ("paper p50", "ms", paper, 0, "lower"),
        ("digest build", "s", digest, 0, "lower"),
        ("votes/s", "events/s", votes, 0, "higher"),
    ):
        for point in points:
            results.append(
                Result(f"size: {label} at {point.size:,}", point.measured[index], 0, unit, better,  # type: ignore[arg-type]
                       informational=True, baseline=point.baseline[index], baseline_name="raw")
            )  # fmt: skip
        growth = points[-1].measured[index] / points[0].measured[index] if points[0].measured[index] else 0.0
        factor = points[-1].size / points[0].size
        say(f"  {label}: × {growth:.2f} from {points[0].size:,} to {points[-1].size:,} (size × {factor:g})")
    await asyncio.sleep(0)
    return results


__all__ = ["percentile", "run"]
