"""Data generators: the large PostgreSQL corpus (1,000,000 papers, 5,000,000 votes) loaded with COPY.

The schema is made by the real Alembic migrations (`bot.storage.database.upgrade` on an engine pinned to the
benchmark's schema), then filled with asyncpg `copy_records_to_table`, foreign-key triggers off for the load
(`session_replication_role = replica`; the generator keeps every reference valid), then VACUUM ANALYZE so the
planner sees the real sizes, and a CHECKPOINT so that writing out the load does not overlap the measurements.
Everything is derived from a seed, so a reused corpus is the same corpus.

Shape: 500 announcement days (2,000 papers a day, the last day — the digest's candidates — 5,000), 1,000
subscribed Discord channels in 100 guilds with a mix of filters, each with 200 past digests of 5 posts, and the
votes on those posts (about 5 voters a post). Signals and summaries for the day's papers and the popular past ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import asyncpg

from bench.common import Stopwatch, asyncpg_dsn, say
from bench.corpus_rows import DAY, NOW, Loader, Scale, channel_ref, plan_ids
from bot.domain.model import ChannelRef
from bot.storage.database import create_engine, upgrade

GENERATOR_VERSION = 4  # 4: posts.day (migration 0008)


@dataclass
class Corpus:
    schema: str
    scale: Scale
    day: date
    now: datetime
    channels: list[ChannelRef]
    paper_ids: list[str] = field(repr=False)
    candidate_ids: list[str] = field(repr=False)
    day_starts: dict[date, int] = field(default_factory=dict, repr=False)
    """Index in `paper_ids` of each day's first paper (a day's first 60 are its popular ones)."""
    rows: dict[str, int] = field(default_factory=dict)


async def recreate_schema(url: str, schema: str) -> None:
    """Drop the schema with everything in it, recreate it and run the real migrations there."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    engine = create_engine(url, schema=schema)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def drop_schema(url: str, schema: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def load_corpus(url: str, *, schema: str = "bench", scale: Scale | None = None, reuse: bool = False) -> Corpus:
    """The big corpus in `schema`, generated afresh (or kept, with `reuse`, when its fingerprint matches)."""
    scale = scale or Scale()
    ids, days = plan_ids(scale)
    rng = random.Random(scale.seed)
    corpus = Corpus(
        schema, scale, DAY, NOW, [channel_ref(i) for i in range(scale.channels)], ids, ids[-scale.candidates :]
    )
    for index, day in enumerate(days):
        corpus.day_starts.setdefault(day, index)
    fingerprint = f"v{GENERATOR_VERSION} {scale}"
    if reuse and await _fingerprint(url, schema) == fingerprint:
        say(f"  reusing the corpus in schema {schema!r}")
        corpus.rows = await _row_counts(url, schema)
        return corpus
    with Stopwatch() as watch:
        await recreate_schema(url, schema)
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await connection.execute("SET session_replication_role = replica")
            loader = Loader(connection, schema, rng, scale, ids, days)
            await loader.load()
            await connection.execute(f'CREATE TABLE "{schema}".bench_meta (fingerprint text NOT NULL)')
            await connection.execute(f'INSERT INTO "{schema}".bench_meta VALUES ($1)', fingerprint)
            await connection.execute("SET session_replication_role = DEFAULT")
            for table in _TABLES:
                await connection.execute(f'VACUUM (ANALYZE) "{schema}".{table}')
            await connection.execute("CHECKPOINT")  # the load's dirty pages written now, not during the measurements
        finally:
            await connection.close()
    corpus.rows = await _row_counts(url, schema)
    say(f"  generated the corpus in {watch.seconds:.0f} s: " + ", ".join(f"{n:,} {t}" for t, n in corpus.rows.items()))
    return corpus


_TABLES = ("papers", "channels", "digests", "posts", "votes", "signal_snapshots", "summaries")


async def _fingerprint(url: str, schema: str) -> str | None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetchval(f'SELECT fingerprint FROM "{schema}".bench_meta')
    except asyncpg.PostgresError:
        return None
    finally:
        await connection.close()


async def _row_counts(url: str, schema: str) -> dict[str, int]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {t: await connection.fetchval(f'SELECT count(*) FROM "{schema}".{t}') for t in _TABLES}
    finally:
        await connection.close()


def popular_ids(corpus: Corpus, rng: random.Random, count: int) -> list[str]:
    """Papers from the heads of past days: posted in many channels, voted on, with signals and summaries."""
    picks = []
    for _ in range(count):
        first = corpus.day_starts[corpus.day - timedelta(days=rng.randint(1, corpus.scale.digest_days))]
        picks.append(corpus.paper_ids[first + min(int(rng.expovariate(0.2)), 59)])
    return picks
