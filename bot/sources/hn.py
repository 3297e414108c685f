"""Hacker News stories that link to a paper, found through the Algolia HN Search API.

One search per paper (`restrictSearchableAttributes=url`), because Algolia has no batch form. Algolia matches
prefixes and tolerates typos in numeric tokens, so hits are kept only when their URL contains the exact id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.domain.clock import SystemClock
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import Paper, Signal, Summary
from bot.domain.ports import Clock
from bot.sources._http import JsonClient, RetryPolicy, as_int, bounded_map, mentions_id

DEFAULT_BASE_URL = "https://hn.algolia.com/api/v1"
THREAD_URL = "https://news.ycombinator.com/item?id={}"


class HackerNewsSource:
    """Points of the HN stories linking to each paper; the thread link is the best-scored story."""

    name = "hn"
    label = "HN"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        limiter: AsyncLimiter | None = None,
        concurrency: int = 4,
    ) -> None:
        # Algolia allows 10,000 requests per hour per IP: about 2.8 a second, with a modest burst.
        limiter = limiter if limiter is not None else AsyncLimiter(30, 11)
        self._http = JsonClient(session, base_url, service="HN", limiter=limiter, retry=retry, timeout=timeout)
        self._clock = clock or SystemClock()
        self._concurrency = concurrency

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        ids = [paper.id for paper in papers]
        stories = await bounded_map(self._stories, ids, concurrency=self._concurrency)
        now = self._clock.now()
        result: dict[str, Signal] = {}
        for paper_id, found in zip(ids, stories, strict=True):
            if not found:
                continue
            points = sum(story_points for _, story_points in found)
            best_id, _ = max(found, key=lambda story: story[1])
            label = f"HN {points} pts"
            url = THREAD_URL.format(best_id)
            result[paper_id] = Signal(source="hn", value=float(points), label=label, fetched_at=now, url=url)
        return result

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        return {}

    async def _stories(self, paper_id: str) -> list[tuple[str, int]]:
        """(objectID, points) of the distinct stories whose URL names the paper."""
        params = {"query": paper_id, "restrictSearchableAttributes": "url", "tags": "story"}
        payload = await self._http.get("search", params=params)
        hits = payload.get("hits") if isinstance(payload, dict) else None
        if not isinstance(hits, list):
            raise UpstreamUnavailable("HN: search answer has no hits list")
        stories: dict[str, int] = {}
        for hit in hits:
            story = _story(hit, paper_id)
            if story is not None:
                stories[story[0]] = story[1]
        return list(stories.items())


def _story(hit: Any, paper_id: str) -> tuple[str, int] | None:
    if not isinstance(hit, dict):
        return None
    url, object_id = hit.get("url"), hit.get("objectID")
    if not (isinstance(url, str) and isinstance(object_id, str) and object_id.isdigit()):
        return None
    if not mentions_id(url, paper_id):
        return None
    points = as_int(hit.get("points"))
    return object_id, max(points or 0, 0)
