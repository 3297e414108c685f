"""Semantic Scholar: citation counts and TLDRs, one batch request for up to 500 papers.

New arXiv papers take days to reach S2, so `null` entries in the batch answer (unknown papers) are normal and simply
mean "no reading". The anonymous pool answers 429 without Retry-After; the shared client backs off exponentially.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from pydantic import SecretStr

from bot.domain.clock import SystemClock
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import Paper, Signal, Summary
from bot.domain.ports import Clock
from bot.sources._http import JsonClient, RetryPolicy, as_int, clean_text

DEFAULT_BASE_URL = "https://api.semanticscholar.org/graph/v1"
BATCH_LIMIT = 500
_CACHE_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class _S2Paper:
    citations: int | None
    tldr: str | None


class SemanticScholarSource:
    """Citation counts as the signal, `tldr.text` as a summary. An API key (x-api-key) is optional."""

    name = "s2"
    label = "S2"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: SecretStr | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        headers = {"x-api-key": api_key.get_secret_value()} if api_key else None
        # A key buys 1 request/s; the anonymous pool is shared by everyone, so stay as polite without one.
        limiter = limiter if limiter is not None else AsyncLimiter(1, 1)
        self._http = JsonClient(
            session, base_url, service="S2", limiter=limiter, retry=retry, timeout=timeout, headers=headers
        )
        self._clock = clock or SystemClock()
        self._known: dict[str, _S2Paper | None] = {}

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        found = await self._batch([paper.id for paper in papers])
        now = self._clock.now()
        result: dict[str, Signal] = {}
        for paper_id, s2 in found.items():
            if s2 is None or s2.citations is None:
                continue
            result[paper_id] = Signal(
                source="s2",
                value=float(s2.citations),
                label=f"S2 {s2.citations} cite{'' if s2.citations == 1 else 's'}",
                fetched_at=now,
                url=f"https://www.semanticscholar.org/arxiv/{paper_id}",
            )
        return result

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        await self._batch([paper.id for paper in papers if paper.id not in self._known])
        now = self._clock.now()
        result: dict[str, Summary] = {}
        for paper in papers:
            s2 = self._known.get(paper.id)
            if s2 is not None and s2.tldr:
                result[paper.id] = Summary(text=s2.tldr, source="s2", created=now, model="Semantic Scholar TLDR")
        return result

    async def _batch(self, ids: Sequence[str]) -> dict[str, _S2Paper | None]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, _S2Paper | None] = {}
        for start in range(0, len(unique), BATCH_LIMIT):
            chunk = unique[start : start + BATCH_LIMIT]
            answer = await self._http.post(
                "paper/batch",
                params={"fields": "citationCount,tldr"},
                body={"ids": [f"ArXiv:{paper_id}" for paper_id in chunk]},
            )
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise UpstreamUnavailable("S2: batch answer is not a list matching the request")
            found.update({paper_id: _parse(item) for paper_id, item in zip(chunk, answer, strict=True)})
        if len(self._known) + len(found) > _CACHE_LIMIT:
            self._known.clear()
        self._known.update(found)
        return found


def _parse(item: Any) -> _S2Paper | None:
    if not isinstance(item, dict):
        return None
    citations = as_int(item.get("citationCount"))
    tldr = item.get("tldr")
    text = tldr.get("text") if isinstance(tldr, dict) else None
    text = clean_text(text) if isinstance(text, str) else None
    return _S2Paper(citations=citations if citations is None or citations >= 0 else None, tldr=text or None)
