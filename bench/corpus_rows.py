"""The benchmark corpus's plan (its scale, ids, channels) and its rows, streamed into PostgreSQL with COPY.

`bench.data` manages the schema and the run; here every row is a function of the seeded random stream and the plan,
so the same seed gives the same corpus.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from bench.common import Stopwatch, say
from bench.words import TOPICS, TextPool
from bot.domain.model import ChannelRef, ChannelSettings
from bot.storage.channels import settings_to_json

DAY = date(2024, 3, 14)
"""The announcement day whose 5,000 papers are the digest candidates."""
NOW = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scale:
    papers: int = 1_000_000
    candidates: int = 5_000
    per_day: int = 2_000
    channels: int = 1_000
    digest_days: int = 200
    posts_per_digest: int = 5
    votes: int = 5_000_000
    seed: int = 8


def channel_ref(index: int) -> ChannelRef:
    guild = 2_100_000_000_000_000_000 + index // 10
    return ChannelRef("discord", str(guild), str(3_100_000_000_000_000_000 + index), f"#papers-{index}")


def user_id(guild_index: int, user: int) -> str:
    return str(4_100_000_000_000_000_000 + guild_index * 1_000 + user)


def plan_ids(scale: Scale) -> tuple[list[str], list[date]]:
    """Paper ids in announcement order (arXiv's YYMM.NNNNN, numbered per month) and each one's day."""
    old = scale.papers - scale.candidates
    old_days = -(-old // scale.per_day)
    ids: list[str] = []
    days: list[date] = []
    per_month: dict[str, int] = {}
    for offset in range(old_days, -1, -1):
        day = DAY - timedelta(days=offset)
        count = scale.candidates if offset == 0 else min(scale.per_day, old - len(ids))
        month = f"{day:%y%m}"
        start = per_month.get(month, 0)
        per_month[month] = start + count
        ids.extend(f"{month}.{start + n + 1:05d}" for n in range(count))
        days.extend([day] * count)
    return ids, days


def channel_settings(rng: random.Random, index: int, pool: TextPool) -> ChannelSettings:
    """A mix of filters: none, categories, keywords, negative keywords, followed authors, and combinations."""
    cats = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "cs.RO", "cs.CR", "cs.IR", "cs.SE", "stat.ML", "cs.NE", "cs"]
    kind = index % 20
    categories = tuple(rng.sample(cats, rng.randint(1, 3))) if kind >= 2 else ()
    keywords = tuple(rng.sample(TOPICS, rng.randint(1, 3))) if kind in (2, 3, 4, 12, 13) else ()
    negative = tuple(rng.sample(TOPICS, rng.randint(1, 2))) if kind in (5, 6, 14) else ()
    authors = tuple(rng.sample(pool.authors, 2)) if kind in (7, 15) else ()
    return ChannelSettings(
        categories=categories,
        keywords=keywords,
        negative_keywords=negative,
        authors=authors,
        top_n=rng.choice((5, 5, 5, 10)),
        timezone=rng.choice(("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")),
        subscribed=True,
    )


class Loader:
    """Generates and COPYs one table at a time, streaming rows so memory stays flat."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        schema: str,
        rng: random.Random,
        scale: Scale,
        ids: list[str],
        days: list[date],
    ) -> None:
        self.connection, self.schema, self.rng, self.scale = connection, schema, rng, scale
        self.ids, self.days = ids, days
        self.pool = TextPool(rng)
        self.first_of_day: dict[date, int] = {}
        for index, day in enumerate(days):
            self.first_of_day.setdefault(day, index)
        self.posted: list[tuple[int, int, int]] = []  # (post id, channel index, paper index)

    async def copy(self, table: str, columns: list[str], records: Iterator[tuple[object, ...]]) -> None:
        with Stopwatch() as watch:
            await self.connection.copy_records_to_table(
                table, records=records, columns=columns, schema_name=self.schema
            )
        say(f"    {table}: copied in {watch.seconds:.1f} s")

    async def load(self) -> None:
        await self.copy("papers", _PAPER_COLUMNS, self._papers())
        await self.copy("channels", _CHANNEL_COLUMNS, self._channels())
        await self.copy("digests", _DIGEST_COLUMNS, self._digests())
        await self.copy("posts", _POST_COLUMNS, self._posts())
        await self.copy("votes", _VOTE_COLUMNS, self._votes())
        await self.copy("signal_snapshots", _SIGNAL_COLUMNS, self._signals())
        await self.copy("summaries", _SUMMARY_COLUMNS, self._summaries())
        for table in ("channels", "digests", "posts", "votes", "signal_snapshots", "summaries"):
            await self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{self.schema}\".{table}', 'id'), "
                f'(SELECT coalesce(max(id), 0) + 1 FROM "{self.schema}".{table}), false)'
            )

    def _papers(self) -> Iterator[tuple[object, ...]]:
        pool, rng, size = self.pool, self.rng, len(self.pool.titles)
        candidates_from = len(self.ids) - self.scale.candidates
        for index, (paper_id, day) in enumerate(zip(self.ids, self.days, strict=True)):
            if index >= candidates_from:
                title, abstract, authors, categories = pool.fresh()
            else:
                slot = (index * 7_919) % size
                title, abstract = pool.titles[slot], pool.abstracts[(index * 104_729) % size]
                authors, categories = pool.author_lists[(index * 31) % size], pool.category_lists[slot]
            published = datetime.combine(day - timedelta(days=1), time(rng.randrange(24), rng.randrange(60)), UTC)
            version = 2 if index % 17 == 0 else 1
            yield (
                paper_id,
                version,
                title,
                json.dumps(authors),
                abstract,
                json.dumps(categories),
                categories[0],
                published,
                published + timedelta(hours=version - 1),
                None,
                None,
                None,
                day,
                NOW,
            )

    def _channels(self) -> Iterator[tuple[object, ...]]:
        created = NOW - timedelta(days=400)
        for index in range(self.scale.channels):
            ref = channel_ref(index)
            settings = settings_to_json(channel_settings(self.rng, index, self.pool))
            yield (index + 1, ref.platform, ref.workspace, ref.channel, ref.name, json.dumps(settings), True, created)

    def _digests(self) -> Iterator[tuple[object, ...]]:
        digest_id = 0
        for channel in range(self.scale.channels):
            for offset in range(self.scale.digest_days, 0, -1):
                digest_id += 1
                day = DAY - timedelta(days=offset)
                at = datetime.combine(day, time(9), UTC)
                yield (digest_id, channel + 1, day, "done", "bench", at, at, at, 1, str(5_000_000_000 + digest_id))

    def _posts(self) -> Iterator[tuple[object, ...]]:
        rng, post_id, digest_id = self.rng, 0, 0
        head = 60  # a day's popular papers: channels with different tastes still overlap
        cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(head)))
        ranks = range(head)
        for channel in range(self.scale.channels):
            for offset in range(self.scale.digest_days, 0, -1):
                digest_id += 1
                day = DAY - timedelta(days=offset)
                first = self.first_of_day[day]
                chosen: list[int] = []
                while len(chosen) < self.scale.posts_per_digest:
                    pick = first + rng.choices(ranks, cum_weights=cumulative)[0]
                    if pick not in chosen:
                        chosen.append(pick)
                at = datetime.combine(day, time(9, 1), UTC)
                for rank, paper in enumerate(chosen, 1):
                    post_id += 1
                    self.posted.append((post_id, channel, paper))
                    version = 2 if paper % 17 == 0 else 1
                    yield (
                        post_id,
                        channel + 1,
                        self.ids[paper],
                        digest_id,
                        rank,
                        version,
                        False,
                        str(6_000_000_000_000 + post_id),
                        at,
                        day,
                    )

    def _votes(self) -> Iterator[tuple[object, ...]]:
        rng = self.rng
        counts = [rng.randint(1, 9) for _ in self.posted]
        excess = sum(counts) - self.scale.votes
        while excess:
            slot = rng.randrange(len(counts))
            step = 1 if excess > 0 else -1
            if 1 <= counts[slot] - step <= 12:
                counts[slot] -= step
                excess -= step
        vote_id = 0
        for (_, channel, paper), count in zip(self.posted, counts, strict=True):
            guild = channel // 10
            at = datetime.combine(self.days[paper], time(10), UTC)
            for user in rng.sample(range(400), count):
                vote_id += 1
                up = rng.random() < 0.85
                yield (
                    vote_id,
                    channel + 1,
                    self.ids[paper],
                    user_id(guild, user),
                    1 if up else -1,
                    rng.choice(("👍", "🔥")) if up else "👎",
                    at,
                )

    def _signals(self) -> Iterator[tuple[object, ...]]:
        rng, signal_id = self.rng, 0
        candidates_from = len(self.ids) - self.scale.candidates
        popular = {paper for _, _, paper in self.posted}
        for index, paper_id in enumerate(self.ids):
            fresh = index >= candidates_from
            if not (fresh or index in popular or index % 10 == 0):
                continue
            at = datetime.combine(self.days[index] + timedelta(days=1), time(6), UTC)
            if (fresh and rng.random() < 0.4) or index in popular:
                for hours in (0, 6):
                    signal_id += 1
                    upvotes = rng.randint(1, 120) + hours
                    yield (
                        signal_id,
                        paper_id,
                        "hf",
                        float(upvotes),
                        f"HF {upvotes}",
                        f"https://huggingface.co/papers/{paper_id}",
                        at + timedelta(hours=hours),
                    )
            if (fresh and rng.random() < 0.15) or index % 10 == 0:
                signal_id += 1
                points = rng.randint(5, 600)
                yield (
                    signal_id,
                    paper_id,
                    "hn",
                    float(points),
                    f"HN {points} pts",
                    "https://news.ycombinator.com/item?id=1",
                    at,
                )

    def _summaries(self) -> Iterator[tuple[object, ...]]:
        rng, summary_id = self.rng, 0
        candidates_from = len(self.ids) - self.scale.candidates
        posted = sorted({paper for _, _, paper in self.posted})
        community = set(rng.sample(posted, min(len(posted), 5_000)))
        for index in [*posted, *range(candidates_from, len(self.ids))]:
            at = datetime.combine(self.days[index] + timedelta(days=1), time(7), UTC)
            if rng.random() < 0.3:
                summary_id += 1
                text = f"AI summary: {self.pool.abstracts[index % len(self.pool.abstracts)][:160]}"
                yield (summary_id, self.ids[index], None, "hf", text, None, None, None, None, at, 0, 0)
            if index in community:
                summary_id += 1
                author = rng.choice(self.pool.authors)
                yield (
                    summary_id,
                    self.ids[index],
                    None,
                    "community",
                    f"In short: {self.pool.titles[index % 97]}.",
                    author,
                    f"discord:{user_id(0, rng.randrange(400))}",
                    None,
                    None,
                    at,
                    rng.randint(0, 9),
                    0,
                )


_PAPER_COLUMNS = [
    "id",
    "version",
    "title",
    "authors",
    "abstract",
    "categories",
    "primary_category",
    "published",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "announced",
    "fetched_at",
]
_CHANNEL_COLUMNS = ["id", "platform", "workspace", "channel", "name", "settings", "subscribed", "created_at"]
_DIGEST_COLUMNS = [
    "id",
    "channel_id",
    "day",
    "state",
    "holder",
    "lease_until",
    "claimed_at",
    "finished_at",
    "attempts",
    "header_message_id",
]
_POST_COLUMNS = [
    "id",
    "channel_id",
    "paper_id",
    "digest_id",
    "rank",
    "version",
    "updated_version",
    "message_id",
    "posted_at",
    "day",
]
_VOTE_COLUMNS = ["id", "channel_id", "paper_id", "user_id", "value", "reactions", "updated_at"]
_SIGNAL_COLUMNS = ["id", "paper_id", "source", "value", "label", "url", "fetched_at"]
_SUMMARY_COLUMNS = [
    "id",
    "paper_id",
    "version",
    "source",
    "text",
    "author",
    "author_id",
    "model",
    "channel_id",
    "created_at",
    "score",
    "reports",
]
