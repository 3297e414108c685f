"""The bundled sample data (from the Hot Papers posts and ShortScience pages): demo and tests, fully offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any

from bot.domain.model import Paper, Signal, Summary
from bot.domain.ports import UnitOfWork

TWEETS = "tweets"
SIGNAL_NOTE = (
    "🐦 RT+♥ are the 2020 retweet and like counts from the Hot Papers posts; live deployments rank by Hugging Face, "
    "Hacker News, Bluesky and Semantic Scholar."
)
"""Said wherever the sample is shown, so nobody takes the tweet counts for a live signal."""


@dataclass(frozen=True, slots=True)
class SampleLoad:
    papers: int
    summaries: int
    first_day: date
    last_day: date
    already: bool


@dataclass(frozen=True, slots=True)
class SampleDay:
    day: date
    papers: tuple[Paper, ...]
    tweets: dict[str, int]


def load_sample_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("bot").joinpath("data/sample.json").read_text(encoding="utf-8"))
    return data


def sample_days(data: dict[str, Any] | None = None) -> list[SampleDay]:
    data = data or load_sample_data()
    days = []
    for entry in data["days"]:
        day = date.fromisoformat(entry["date"])
        papers = tuple(_paper(p, announced=day) for p in entry["papers"])
        tweets = {p["id"]: int(p["retweets"]) + int(p["favorites"]) for p in entry["papers"]}
        days.append(SampleDay(day, papers, tweets))
    return days


def tweets_signal(count: int, at: datetime) -> Signal:
    return Signal(TWEETS, float(count), f"🐦 {count:,} RT+♥", at)


async def load_sample(uow: Callable[[], UnitOfWork], *, now: datetime) -> list[SampleDay]:
    """Store the sample papers (announced on their post's day), their tweet counts and community summaries."""
    data = load_sample_data()
    days = sample_days(data)
    extra = [_paper(p, announced=None) for p in data.get("papers", [])]
    async with uow() as work:
        for sample in days:
            await work.papers.save(sample.papers, now=now)
            at = datetime.combine(sample.day, time(12), tzinfo=UTC)
            await work.signals.add((pid, tweets_signal(n, at)) for pid, n in sample.tweets.items() if n)
        await work.papers.save(extra, now=now)
        for item in data.get("summaries", []):
            summary = Summary(text=item["text"], source="community", created=now, author=item.get("author"))
            await work.summaries.add(item["paper_id"], summary, author_id="sample:shortscience")
        await work.commit()
    return days


async def load_sample_once(uow: Callable[[], UnitOfWork], *, now: datetime) -> SampleLoad:
    """`hotpapers sample load`: the sample into the configured database, unless every sample paper is there."""
    data = load_sample_data()
    days = sample_days(data)
    ids = [p.id for d in days for p in d.papers] + [p["id"] for p in data.get("papers", [])]
    async with uow() as work:
        await work.read_only()
        stored = await work.papers.get_many(ids)
    already = len(stored) == len(set(ids))
    if not already:
        await load_sample(uow, now=now)
    first, last = min(d.day for d in days), max(d.day for d in days)
    return SampleLoad(len(set(ids)), len(data.get("summaries", [])), first, last, already)


def _paper(raw: dict[str, Any], *, announced: date | None) -> Paper:
    published = datetime.fromisoformat(raw["published"])
    return Paper(
        id=raw["id"],
        version=int(raw.get("version", 1)),
        title=raw["title"],
        authors=tuple(raw["authors"]),
        abstract=raw["abstract"],
        categories=tuple(raw["categories"]),
        primary_category=raw["primary_category"],
        published=published,
        updated=datetime.fromisoformat(raw.get("updated", raw["published"])),
        announced=announced,
    )
