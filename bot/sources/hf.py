"""Hugging Face Daily Papers: community upvotes, GitHub stars and the `ai_summary` of curated papers.

Daily Papers lists about fifty curated papers a day, so most arXiv papers are simply absent: a 404 on
`/papers/{id}` means "no HF signal", not an outage. The daily list nests the paper (`entry.paper.upvotes`) while
`/papers/{id}` is flat; both are parsed from raw JSON because huggingface_hub reads the AI fields from the wrong level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.domain.clock import SystemClock
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import Paper, Signal, Summary
from bot.domain.ports import Clock
from bot.sources._http import JsonClient, RetryPolicy, as_int, bounded_map, clean_text, compact_count

DEFAULT_BASE_URL = "https://huggingface.co/api"
_NEW_STYLE = re.compile(r"^\d{4}\.\d{4,5}$")
_CACHE_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class _HFPaper:
    upvotes: int
    stars: int | None
    ai_summary: str | None


class HuggingFaceSource:
    """Upvotes from the day's Daily Papers list, plus per-paper lookups for papers not on it."""

    name = "hf"
    label = "HF"

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
        max_lookups: int = 25,
    ) -> None:
        # The anonymous Hub bucket is 500 requests per 5 minutes per IP.
        limiter = limiter if limiter is not None else AsyncLimiter(50, 30)
        self._http = JsonClient(session, base_url, service="HF", limiter=limiter, retry=retry, timeout=timeout)
        self._clock = clock or SystemClock()
        self._concurrency = concurrency
        self._max_lookups = max_lookups
        self._known: dict[str, _HFPaper | None] = {}

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        wanted = {paper.id for paper in papers}
        daily = await self._http.get("daily_papers", params={"date": day.isoformat()})
        if not isinstance(daily, list):
            raise UpstreamUnavailable("HF: daily_papers did not return a list")
        found: dict[str, _HFPaper | None] = {}
        for entry in daily:
            nested = entry.get("paper") if isinstance(entry, dict) else None
            paper_id = nested.get("id") if isinstance(nested, dict) else None
            if paper_id in wanted and (parsed := _parse(nested)) is not None:
                found[paper_id] = parsed
        found.update(await self._lookup([paper.id for paper in papers if paper.id not in found]))
        self._remember(found)
        now = self._clock.now()
        return {paper_id: _signal(paper_id, hf, now) for paper_id, hf in found.items() if hf is not None}

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        unknown = [paper.id for paper in papers if paper.id not in self._known]
        self._remember(await self._lookup(unknown))
        now = self._clock.now()
        result: dict[str, Summary] = {}
        for paper in papers:
            hf = self._known.get(paper.id)
            if hf is not None and hf.ai_summary:
                result[paper.id] = Summary(text=hf.ai_summary, source="hf", created=now, model="Hugging Face")
        return result

    async def _lookup(self, ids: Sequence[str]) -> dict[str, _HFPaper | None]:
        """`/papers/{id}` for up to `max_lookups` new-style ids (HF indexes no old-style ones), a few at a time."""
        chosen = [paper_id for paper_id in ids if _NEW_STYLE.match(paper_id)][: self._max_lookups]

        async def one(paper_id: str) -> _HFPaper | None:
            flat = await self._http.get(f"papers/{paper_id}", absent=(404,))
            if flat is not None and not isinstance(flat, dict):
                raise UpstreamUnavailable("HF: papers/{id} did not return an object")
            return _parse(flat)

        found = await bounded_map(one, chosen, concurrency=self._concurrency)
        return dict(zip(chosen, found, strict=True))

    def _remember(self, found: Mapping[str, _HFPaper | None]) -> None:
        if len(self._known) + len(found) > _CACHE_LIMIT:
            self._known.clear()
        self._known.update(found)


def _parse(paper: Mapping[str, Any] | None) -> _HFPaper | None:
    """The fields we use from a (nested or flat) paper object; None when it has no usable upvote count."""
    if paper is None:
        return None
    upvotes = as_int(paper.get("upvotes"))
    if upvotes is None or upvotes < 0:
        return None
    stars = as_int(paper.get("githubStars"))
    summary = paper.get("ai_summary")
    summary = clean_text(summary) if isinstance(summary, str) else None
    return _HFPaper(upvotes=upvotes, stars=stars if stars and stars > 0 else None, ai_summary=summary or None)


def _signal(paper_id: str, hf: _HFPaper, now: datetime) -> Signal:
    label = f"HF {hf.upvotes}" + (f" · ★{compact_count(hf.stars)}" if hf.stars else "")
    url = f"https://huggingface.co/papers/{paper_id}"
    return Signal(source="hf", value=float(hf.upvotes), label=label, fetched_at=now, url=url)
