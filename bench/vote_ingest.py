"""3. Vote ingestion on PostgreSQL, exact final counts, ≥ 25 % of raw batched upserts of the same votes measured in
the same run (and ≥ 500 events/s on SQLite).

A generated stream of reaction events on digest posts — adds, removes, second same-sign reactions (one vote),
opposite reactions (a replaced vote), Slack's retried deliveries (same event id), plus events the engine must ignore
(the bot's own reactions, messages it did not post) — goes through `HotPapers.record_reaction` (what both adapters
call for a reaction) from concurrent "delivery" tasks, each sending its events in order and waiting for each to be
recorded. The target row runs them as the adapters do: a task per (message, user) (`adapters/discord/reactions.py`:
only one user's events on one message wait for each other; Slack's events are concurrent requests), all of a burst
at once, with the default `[database]` settings. For comparison: the same with `vote_lanes = 1`, and 64 delivery
tasks each waiting for its event before sending the next (at most 64 events in flight: a cap no adapter has, so the
rate is the latency of a group), with the defaults and with `vote_sync_commit = false`. The final tallies are
compared with an independent model of the rules; the rate is events handled per second of wall time.

Until the third session of 2026-11-30 the target row was the 64 waiting tasks; it measures how fast one group
comes back, not how fast a burst gets in, which is what the raw batched upserts measure (bench/RESULTS.md, "votes2").
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import Integer, func, insert, select

from bench import baselines
from bench.common import Result, StatementCounter, Stopwatch, asyncpg_dsn, collector_as_run, say
from bench.context import BenchContext
from bench.data import drop_schema, recreate_schema
from bot.domain.model import ChannelRef, Paper, VoteEvent
from bot.storage.tables import ChannelRow, DigestRow, PostRow, ProcessedEventRow, VoteRow

NOW = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
SCHEMA = "bench_votes"
CHANNELS, POSTS_PER_CHANNEL, USERS = 100, 20, 3_000
DELIVERERS = 64
"""Concurrent delivery tasks of the closed-loop rows: each waits for its event to be recorded before sending the
next, so no more than 64 events are ever in flight and a round of vote groups never holds more than 64."""
TRIES = 3
"""Each PostgreSQL row is the best of three runs, each just after its own raw baseline, against the best of those
baselines: on a shared 2-core machine a single baseline moved between 80,000 and 150,000 rows/s within a minute."""
PER_KEY = 0
"""`workload(…, deliverers=PER_KEY)`: one delivery task per (message, user), as the adapters run them (the gateway
hands each event its own task; `adapters/discord/reactions.py` only keeps one user's events on one message in
order), so every user waits for their own previous event only."""


@dataclass
class Workload:
    """The events in delivery order per task, and what the rules say the tallies end as."""

    queues: list[list[VoteEvent]]
    expected: dict[tuple[int, str], tuple[int, int]]  # (channel index, message id) -> (up, down)
    kinds: Counter[str] = field(default_factory=Counter)
    event_ids: int = 0


def _channel(index: int) -> ChannelRef:
    platform = "slack" if index % 2 else "discord"
    return ChannelRef(platform, f"W{index // 10}", f"C{index:04d}", f"#papers-{index}")


def _message(channel: int, post: int) -> str:
    return str(7_000_000_000_000 + channel * 1_000 + post)


def workload(rng: random.Random, events: int, deliverers: int = DELIVERERS) -> Workload:
    """A random walk per (channel, message, user), applied to an independent model of the voting rules; its
    events in `deliverers` queues (`PER_KEY`: one queue per (channel, message, user)), each in delivery order."""
    per_key: dict[tuple[int, int, int], list[VoteEvent]] = {}
    queues: list[list[VoteEvent]] = [[] for _ in range(deliverers)]
    votes: dict[tuple[int, int, int], tuple[int, set[str]]] = {}
    kinds: Counter[str] = Counter()
    made = serial = event_ids = 0
    while made < events:
        channel, post, user = rng.randrange(CHANNELS), rng.randrange(POSTS_PER_CHANNEL), rng.randrange(USERS)
        key = (channel, post, user)
        queue = queues[hash(key) % deliverers] if deliverers else per_key.setdefault(key, [])
        ref = _channel(channel)
        for _ in range(rng.randint(1, 6)):
            value, name, removed, kind = _step(rng, votes.get(key))
            serial += 1
            event_id = f"Ev{serial:08d}" if ref.platform == "slack" else None
            event_ids += bool(event_id)
            event = VoteEvent(
                ref, f"U{user:05d}", _message(channel, post), value, removed=removed, event_id=event_id, reaction=name
            )
            queue.append(event)
            kinds[kind] += 1
            votes[key] = _apply(votes.get(key), value, name, removed)
            made += 1
            if event_id and rng.random() < 0.05:  # Slack did not see our 200 in time: the same event again
                queue.append(event)
                kinds["retried delivery"] += 1
                made += 1
        if rng.random() < 0.05:
            queue.append(VoteEvent(ref, "BOT", _message(channel, post), 1, by_bot=True, reaction="👍"))
            queue.append(VoteEvent(ref, f"U{user:05d}", "123", 1, reaction="👍"))  # a message we did not post
            kinds["ignored (bot, not ours)"] += 2
            made += 2
    expected: dict[tuple[int, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for (channel, post, _), state in votes.items():
        if state is not None:
            up, down = expected[(channel, _message(channel, post))]
            expected[(channel, _message(channel, post))] = (up + (state[0] > 0), down + (state[0] < 0))
    return Workload(queues if deliverers else list(per_key.values()), dict(expected), kinds, event_ids)


def _step(rng: random.Random, state: tuple[int, set[str]] | None) -> tuple[int, str, bool, str]:
    """The next reaction of a user on a message: (value, emoji, removed, kind)."""
    if state is None:
        up = rng.random() < 0.8
        return (1, rng.choice(("👍", "🔥")), False, "add") if up else (-1, "👎", False, "add")
    value, names = state
    roll = rng.random()
    if roll < 0.35:
        return value, rng.choice(sorted(names)), True, "remove"
    if roll < 0.65:
        name = "🔥" if value > 0 and "🔥" not in names else "👍" if value > 0 else "👎"
        return value, name, False, "second same-sign reaction"
    if roll < 0.85:
        return (-1, "👎", False, "opposite reaction") if value > 0 else (1, "👍", False, "opposite reaction")
    return -value, "👎" if value > 0 else "👍", True, "removal of an opposite reaction (no vote to remove)"


def _apply(state: tuple[int, set[str]] | None, value: int, name: str, removed: bool) -> tuple[int, set[str]] | None:
    """The rules: one vote per user and message whatever the number of same-sign reactions; an opposite reaction
    replaces it; removing the last reaction of the vote's sign removes the vote."""
    if removed:
        if state is None or state[0] != value:
            return state
        remaining = state[1] - {name}
        return (value, remaining) if remaining else None
    if state is None or state[0] != value:
        return value, {name}
    return value, state[1] | {name}


async def _prepare(
    context: BenchContext, url: str, schema: str | None, database: dict[str, object] | None = None
) -> tuple[object, dict[int, int]]:
    """An engine on a fresh database with CHANNELS channels, each with a digest of POSTS_PER_CHANNEL posts;
    `database`: `[database]` keys over the defaults (a pool of 5)."""
    app = await context.app(schema=schema, url=url, now=NOW, database={"pool_size": 5, **(database or {})})
    papers = [
        Paper(
            id=f"2403.{n + 1:05d}",
            version=1,
            title=f"Paper {n}",
            authors=("Ada Lovelace",),
            abstract="Short.",
            categories=("cs.LG",),
            primary_category="cs.LG",
            published=NOW - timedelta(days=1),
            updated=NOW - timedelta(days=1),
            announced=NOW.date(),
        )
        for n in range(CHANNELS * POSTS_PER_CHANNEL)
    ]
    await app.operations.store_papers(papers)
    ids: dict[int, int] = {}
    async with app.engine.begin() as connection:
        for index in range(CHANNELS):
            ref = _channel(index)
            row = {
                "platform": ref.platform,
                "workspace": ref.workspace,
                "channel": ref.channel,
                "name": ref.name,
                "settings": {},
                "subscribed": True,
                "created_at": NOW,
            }
            ids[index] = (
                await connection.execute(insert(ChannelRow.__table__).values(row).returning(ChannelRow.id))
            ).scalar_one()
            digest = {
                "channel_id": ids[index],
                "day": NOW.date(),
                "state": "done",
                "holder": "bench",
                "lease_until": NOW,
                "claimed_at": NOW,
                "finished_at": NOW,
                "attempts": 1,
            }
            digest_id = (
                await connection.execute(insert(DigestRow.__table__).values(digest).returning(DigestRow.id))
            ).scalar_one()
            await connection.execute(
                insert(PostRow.__table__),
                [
                    {
                        "channel_id": ids[index],
                        "paper_id": papers[index * POSTS_PER_CHANNEL + post].id,
                        "digest_id": digest_id,
                        "day": digest["day"],
                        "rank": post + 1,
                        "version": 1,
                        "updated_version": False,
                        "message_id": _message(index, post),
                        "posted_at": NOW,
                    }
                    for post in range(POSTS_PER_CHANNEL)
                ],
            )
    return app, ids


async def _deliver(app: object, work: Workload) -> float:
    service = app.service  # type: ignore[attr-defined]

    async def deliverer(queue: list[VoteEvent]) -> None:
        for event in queue:
            await service.record_reaction(event)

    with collector_as_run(), Stopwatch() as watch:
        await asyncio.gather(*(deliverer(queue) for queue in work.queues))
    return watch.seconds


async def _final_counts(app: object, ids: dict[int, int]) -> tuple[dict[tuple[int, str], tuple[int, int]], int]:
    """(channel index, message) -> (up, down) as stored, and how many event ids were remembered."""
    index_of = {row_id: index for index, row_id in ids.items()}
    votes, posts = VoteRow.__table__.c, PostRow.__table__.c
    up = func.sum((votes.value > 0).cast(Integer))
    down = func.sum((votes.value < 0).cast(Integer))
    query = (
        select(posts.channel_id, posts.message_id, up, down)
        .join(PostRow.__table__, (posts.channel_id == votes.channel_id) & (posts.paper_id == votes.paper_id))
        .group_by(posts.channel_id, posts.message_id)
    )
    async with app.engine.connect() as connection:  # type: ignore[attr-defined]
        rows = (await connection.execute(query)).all()
        remembered = (
            await connection.execute(select(func.count()).select_from(ProcessedEventRow.__table__))
        ).scalar_one()
    found = {(index_of[channel], message): (int(u), int(d)) for channel, message, u, d in rows if u or d}
    return found, int(remembered)


def raw_rows(work: Workload, ids: dict[int, int]) -> tuple[list[tuple[int, str, str, int, str]], int]:
    """The workload's counted events as vote rows for the raw upsert baseline, and how many distinct keys."""
    rows = []
    for queue in work.queues:
        for event in queue:
            if event.by_bot or event.message_id == "123":
                continue
            channel = int(event.channel.channel[1:])
            post = int(event.message_id) - int(_message(channel, 0))
            paper = f"2403.{channel * POSTS_PER_CHANNEL + post + 1:05d}"
            rows.append((ids[channel], paper, event.user_id, event.value, event.reaction or ""))
    return rows, len({row[:3] for row in rows})


async def store_votes(context: BenchContext, schema: str, ids: dict[int, int], count: int) -> None:
    """`count` votes already stored before the ingestion, on papers the workload's channels did not post (so the
    tallies checked stay the workload's): how the cost of a vote grows with the votes table."""
    if not count:
        return
    connection = await asyncpg.connect(asyncpg_dsn(context.url))
    papers = CHANNELS * POSTS_PER_CHANNEL

    def rows() -> Iterator[tuple[object, ...]]:
        n = 0
        while n < count:
            channel = n % CHANNELS
            paper = channel * POSTS_PER_CHANNEL + POSTS_PER_CHANNEL + (n // CHANNELS) % (papers - POSTS_PER_CHANNEL)
            user = n // (CHANNELS * (papers - POSTS_PER_CHANNEL))
            yield (ids[channel], f"2403.{paper % papers + 1:05d}", f"S{user:05d}", 1, "👍", NOW - timedelta(days=1))
            n += 1

    try:
        await connection.copy_records_to_table(
            "votes",
            records=rows(),
            columns=["channel_id", "paper_id", "user_id", "value", "reactions", "updated_at"],
            schema_name=schema,
        )
        await connection.execute(f'VACUUM (ANALYZE) "{schema}".votes')
    finally:
        await connection.close()


@dataclass
class Ingested:
    rate: float
    exact: bool
    statements: float
    raw_rate: float | None
    notes: tuple[str, ...]


async def ingest(
    context: BenchContext,
    url: str,
    schema: str | None,
    events: int,
    *,
    stored: int = 0,
    raw: bool = True,
    database: dict[str, object] | None = None,
    deliverers: int = PER_KEY,
) -> Ingested:
    """`events` reaction events through the engine into a fresh database (with `stored` votes there before), and
    the raw batched upserts of the same votes into the same table first (PostgreSQL only); `database`: the
    engine's `[database]` keys over the defaults."""
    if schema:
        await recreate_schema(url, schema)
    app, ids = await _prepare(context, url, schema, database)
    work = workload(random.Random(3), events, deliverers)
    raw_rate = None
    counter = StatementCounter(app.engine)  # type: ignore[attr-defined]
    try:
        if schema:
            await store_votes(context, schema, ids, stored)
        if schema and raw:
            rows, keys = raw_rows(work, ids)
            raw_rate, stored_raw = await baselines.batched_upserts(url, schema, rows, at=NOW, base=stored)
            if stored_raw != keys:
                raise AssertionError(f"raw upserts stored {stored_raw} votes for {keys} keys")
        counter.count = 0
        seconds = await _deliver(app, work)
        found, remembered = await _final_counts(app, ids)
    finally:
        counter.close()
        await app.aclose()  # type: ignore[attr-defined]
        if schema:
            await drop_schema(url, schema)
    wrong = {key for key in set(found) | set(work.expected) if found.get(key) != work.expected.get(key)}
    exact = not wrong and remembered == work.event_ids
    notes = (
        f"{events:,} events from {len(work.queues):,} concurrent delivery tasks"
        + (" (one per message and user, as the adapters)" if not deliverers else " (closed loop)")
        + ": "
        + ", ".join(f"{count:,} {kind}" for kind, count in work.kinds.most_common()),
        f"{CHANNELS} channels × {POSTS_PER_CHANNEL} posts, {USERS:,} users, {stored:,} votes stored before; "
        f"{counter.count / events:.2f} SQL statements per event through SQLAlchemy (on PostgreSQL a vote group's two "
        "run on the driver, not counted)",
        f"final tallies of {len(work.expected):,} messages and {work.event_ids:,} remembered event ids: "
        + ("exactly as the rules say" if exact else f"{len(wrong)} messages WRONG, {remembered} event ids"),
    )
    return Ingested(events / seconds, exact, counter.count / events, raw_rate, notes)


async def run(context: BenchContext) -> list[Result]:
    results = []
    events = 40_000  # quick too: a burst of 10,000 is a handful of rounds, mostly filling and draining the queue
    baseline = "the same votes upserted with raw asyncpg, 500 rows a statement and a transaction (synchronous commit)"
    runs = (
        ("votes/s PostgreSQL", PER_KEY, {}, False),
        ("votes/s PostgreSQL, vote_lanes = 1", PER_KEY, {"vote_lanes": 1}, True),
        ("votes/s PostgreSQL, 64 tasks each waiting for its vote", DELIVERERS, {}, True),
        (
            "votes/s PostgreSQL, 64 waiting tasks, vote_sync_commit = false",
            DELIVERERS,
            {"vote_sync_commit": False},
            True,
        ),
    )
    for name, deliverers, database, informational in runs:
        tries = [
            await ingest(context, context.url, SCHEMA, events, database=database, deliverers=deliverers)
            for _ in range(TRIES)
        ]
        exact = all(pg.exact for pg in tries)
        best, raw = max(pg.rate for pg in tries), max(pg.raw_rate or 0.0 for pg in tries)
        say(
            f"  {name}: {events:,} events at {' / '.join(f'{pg.rate:,.0f}' for pg in tries)}/s, final counts "
            f"{'exact' if exact else 'WRONG'}; raw batched upserts (500 a statement) "
            f"{' / '.join(f'{pg.raw_rate or 0:,.0f}' for pg in tries)}/s"
        )
        results.append(
            Result(
                name,
                best if exact else 0.0,
                0.25,
                "events/s",
                "higher",
                (
                    *tries[0].notes,
                    f"the best of {TRIES} runs against the best of their {TRIES} baselines, measured in turn: "
                    + ", ".join(f"{pg.rate:,.0f} after {pg.raw_rate or 0:,.0f}" for pg in tries),
                    f"baseline: {baseline}",
                ),
                informational=informational,
                baseline=raw,
                baseline_name="raw batched upserts",
            )
        )
    with tempfile.TemporaryDirectory(prefix="hotpapers-bench-") as folder:
        sqlite_url = f"sqlite+aiosqlite:///{Path(folder) / 'votes.db'}"
        lite = await ingest(context, sqlite_url, None, 10_000, raw=False)
        say(f"  SQLite: 10,000 events at {lite.rate:,.0f}/s, final counts {'exact' if lite.exact else 'WRONG'}")
        rate = lite.rate if lite.exact else 0.0
        results.append(Result("votes/s SQLite", rate, 500, "events/s", "higher", lite.notes))
    return results
