"""6. Ingest of one announcement day (≈ 2,000 papers across cs.*) against the fake arXiv, at 1 request per 3 s
(the production setting), with id look-ups batched (≤ 100 ids a request).

`HotPapers.ingest` with the real sources — the RSS feed through aiohttp and feedparser, the metadata through the
`arxiv` package in a worker thread — sharing one `PacingGate` at the production 3 s, into PostgreSQL. The gate and
the fake read a virtual clock that moves only when the gate sleeps, so the bench does not wait a minute: the fake
answers 429 to any request less than 3 s (virtual) after the previous one, and the reported duration is the
simulated one (what a real ingest of the day takes), next to the real time the bench took.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from datetime import UTC, date, datetime, timedelta

import aiohttp

from bench.common import Result, Stopwatch, say
from bench.context import BenchContext
from bench.data import drop_schema, recreate_schema
from bench.words import TextPool
from bot.app.ingest import Ingestor
from bot.app.operations import Operations
from bot.domain.config import ArxivConfig
from bot.sources.arxiv_api import ArxivApiSource
from bot.sources.arxiv_rss import ArxivRssSource
from bot.sources.pacing import PacingGate
from tests.fakes.arxiv_server import FakeArxiv

SCHEMA = "bench_ingest"
PAPERS = 2_000
DAY = date(2024, 3, 14)
NOW = datetime(2024, 3, 15, 1, 30, tzinfo=UTC)
CS = (
    "cs.LG",
    "cs.CV",
    "cs.CL",
    "cs.AI",
    "cs.RO",
    "cs.CR",
    "cs.IR",
    "cs.SE",
    "cs.DS",
    "cs.NE",
    "cs.DC",
    "cs.HC",
    "cs.SI",
    "cs.CY",
    "cs.GT",
    "cs.IT",
    "cs.LO",
    "cs.PL",
    "cs.NI",
    "cs.DB",
    "cs.SD",
    "cs.MA",
    "cs.GR",
    "cs.CG",
)


class VirtualTime:
    """A monotonic clock that moves only when someone sleeps on it (the gate), so pacing costs no real time."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def run(context: BenchContext) -> list[Result]:
    virtual = VirtualTime()
    config = ArxivConfig(categories=CS)  # production pacing, retries, page size and timeout
    async with FakeArxiv(min_interval=config.delay_seconds, clock=virtual) as fake:
        _announce(fake, random.Random(6))
        await recreate_schema(context.url, SCHEMA)
        app = await context.app(schema=SCHEMA, now=NOW)
        try:
            async with aiohttp.ClientSession() as http:
                gate = PacingGate(config.delay_seconds, clock=virtual, sleep=virtual.sleep)
                api = ArxivApiSource.from_config(config.model_copy(update={"api_url": fake.api_url}), gate=gate)
                rss = ArxivRssSource.from_config(http, config.model_copy(update={"rss_url": fake.rss_url}), gate=gate)
                ingestor = Ingestor(app.uow, app.clock, metadata=api, feed=rss)
                operations = Operations(
                    app.uow, config=app.config.model_copy(update={"arxiv": config}), clock=app.clock, ingestor=ingestor
                )
                started = virtual.now
                with Stopwatch() as watch:
                    report = await operations.ingest()
                simulated = virtual.now - started
            async with app.uow() as uow:
                stored = len(await uow.papers.announced_between(DAY, DAY))
        finally:
            await app.aclose()
            await drop_schema(context.url, SCHEMA)
    times = [request.time for request in fake.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    per_request = [len(r.query["id_list"][0].split(",")) for r in fake.requests_to("api")]
    refused = sum(1 for r in fake.requests if r.status == 429)
    least = math.ceil(report.announced / 100) + 1
    say(
        f"  {report.announced} papers announced, {report.new_papers} new, {stored} stored for {report.day}; "
        f"{len(fake.requests)} requests ({len(fake.requests_to('rss'))} RSS, {len(per_request)} API, at most "
        f"{max(per_request)} ids each); smallest gap {min(gaps):.2f} s; {refused} refused (429); simulated "
        f"{simulated:.0f} s, real {watch.seconds:.1f} s"
    )
    notes = (
        f"{report.announced} papers over {len(CS)} cs.* categories (cross-lists included), {stored} stored; "
        f"RSS once, then the metadata by id; arXiv settings as in production: {config.delay_seconds:g} s apart, "
        f"{config.page_size} ids a request, {config.num_retries} retries",
        f"virtual clock for the gate and the fake (which refuses any request under {config.delay_seconds:g} s after "
        f"the last: {refused} refused): simulated duration {simulated:.0f} s, real time {watch.seconds:.1f} s",
    )
    return [
        Result("ingest requests", len(fake.requests), least, "requests", "lower", notes, inclusive=True),
        Result("ingest ids per request (max)", max(per_request), 100, "ids", "lower", inclusive=True),
        Result("ingest smallest gap", min(gaps), config.delay_seconds, "s", "higher", inclusive=True),
        Result(
            "ingest simulated duration", simulated, (least - 1) * config.delay_seconds, "s", "lower", inclusive=True
        ),
    ]


def _announce(fake: FakeArxiv, rng: random.Random) -> None:
    """PAPERS new papers on DAY, each in one to three cs.* categories, all in today's feed."""
    pool = TextPool(rng, size=500)
    published = datetime.combine(DAY - timedelta(days=1), datetime.min.time(), UTC)
    for n in range(PAPERS):
        title, abstract, authors, _ = pool.fresh()
        categories = rng.sample(CS[:8], 1) + rng.sample(CS, rng.choice((0, 1, 2)))
        paper_id = f"2403.{20_000 + n:05d}"
        fake.add_paper(
            paper_id,
            title=title,
            abstract=abstract,
            authors=[(a, []) for a in authors],
            categories=list(dict.fromkeys(categories)),
            published=published,
        )
        fake.announce(paper_id)
    fake.rss_day = DAY
