"""The physical baselines, measured in the same run as the figure they judge (DESIGN §7).

Each is the least the machine must do for the job, with nothing of the project in the way: raw asyncpg on the same
tables (a primary-key lookup, batched upserts, a read of a digest's inputs), the interpreter's own start-up and the
bare import of the enabled libraries. A benchmark reports its figure as a ratio to its baseline, so the figure
travels between machines of one kind where absolute times do not.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from bench.common import asyncpg_dsn, percentile


async def pk_lookups(url: str, schema: str, ids: Sequence[str]) -> list[float]:
    """Seconds per `SELECT * FROM papers WHERE id = $1`, one after another on one connection, prepared once."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        statement = await connection.prepare(f'SELECT * FROM "{schema}".papers WHERE id = $1')
        latencies = []
        for paper_id in ids:
            started = time.perf_counter()
            await statement.fetchrow(paper_id)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        await connection.close()


async def batched_upserts(
    url: str,
    schema: str,
    rows: Sequence[tuple[int, str, str, int, str]],
    *,
    batch: int = 500,
    at: datetime,
    base: int = 0,
) -> tuple[float, int]:
    """Upsert vote rows (channel id, paper id, user, value, reaction) into `schema`.votes in batches of `batch`,
    one statement and one transaction a batch, on one connection; then count what is stored (less the `base` rows
    there before) and delete it again (the rows stamped `at`). Returns (rows per second, rows stored): the latter
    must equal the distinct keys (checked by the caller)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    table = f'"{schema}".votes'
    statement = await connection.prepare(
        f"INSERT INTO {table} (channel_id, paper_id, user_id, value, reactions, updated_at) "
        "SELECT c, p, u, v, r, $6 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::text[]) "
        "AS t(c, p, u, v, r) "
        "ON CONFLICT (channel_id, paper_id, user_id) DO UPDATE SET value = excluded.value, "
        "reactions = excluded.reactions, updated_at = excluded.updated_at"
    )
    try:
        started = time.perf_counter()
        for first in range(0, len(rows), batch):
            part = _last_per_key(rows[first : first + batch])  # one statement cannot touch a row twice
            columns = list(zip(*part, strict=True))
            async with connection.transaction():
                await statement.fetch(*columns, at)
        seconds = time.perf_counter() - started
        stored = await connection.fetchval(f"SELECT count(*) FROM {table}") - base
        await connection.execute(f"DELETE FROM {table} WHERE updated_at = $1", at)
        return len(rows) / seconds, int(stored)
    finally:
        await connection.close()


def _last_per_key(rows: Sequence[tuple[int, str, str, int, str]]) -> list[tuple[int, str, str, int, str]]:
    last = {(c, p, u): (c, p, u, v, r) for c, p, u, v, r in rows}
    return list(last.values())


async def digest_inputs(
    url: str, schema: str, first: date, last: date, *, pool_size: int = 15, channels: int | None = None
) -> tuple[float, int]:
    """Everything a day's digests read, with raw asyncpg and nothing else: the window's papers and their latest
    signals, which of them each channel has posted, every subscribed channel's settings, and per channel its net
    vote per voted paper with that paper's categories (its taste). The per-channel reads run on a pool as wide as
    the engine's (15), all channels at once (the first `channels` subscribed ones, default all).
    Returns (seconds, rows read)."""
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=pool_size, max_size=pool_size)
    s = f'"{schema}"'
    try:
        started = time.perf_counter()
        async with pool.acquire() as connection:
            papers = await connection.fetch(f"SELECT * FROM {s}.papers WHERE announced BETWEEN $1 AND $2", first, last)
            ids = [row["id"] for row in papers]
            signals = await connection.fetch(
                f"SELECT DISTINCT ON (paper_id, source) paper_id, source, value, label, url, fetched_at "
                f"FROM {s}.signal_snapshots WHERE paper_id = ANY($1) ORDER BY paper_id, source, fetched_at DESC",
                ids,
            )
            posted = await connection.fetch(
                f"SELECT channel_id, paper_id, max(version) FROM {s}.posts WHERE paper_id = ANY($1) GROUP BY 1, 2",
                ids,
            )
            subscribed = await connection.fetch(
                f"SELECT id, platform, workspace, channel, name, settings FROM {s}.channels WHERE subscribed "
                "ORDER BY id LIMIT $1",
                channels,
            )

        async def taste(channel_id: int) -> int:
            async with pool.acquire() as connection:
                rows = await connection.fetch(
                    f"SELECT p.categories, v.net FROM (SELECT paper_id, sum(value) AS net FROM {s}.votes "
                    f"WHERE channel_id = $1 GROUP BY paper_id) v JOIN {s}.papers p ON p.id = v.paper_id",
                    channel_id,
                )
                return len(rows)

        voted = await asyncio.gather(*(taste(row["id"]) for row in subscribed))
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
    return seconds, len(papers) + len(signals) + len(posted) + len(subscribed) + sum(voted)


def process_seconds(argv: Sequence[str], *, runs: int = 9) -> float:
    """Median wall time of `runs` processes of `python ARGV`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bare_import_seconds(modules: Sequence[str], *, runs: int = 5) -> float:
    """Median wall time of a process that only imports `modules` (the enabled libraries) and exits."""
    return process_seconds(["-c", "import " + ", ".join(modules)], runs=runs)


def bare_import_rss_mb(modules: Sequence[str]) -> float:
    """Resident memory (MB) of a process that has imported `modules` and nothing else."""
    code = (
        "import re, " + ", ".join(modules) + "; "
        "print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stdout.strip()) / 1024


def p50_p99(values: Sequence[float]) -> tuple[float, float]:
    return percentile(values, 0.5), percentile(values, 0.99)
