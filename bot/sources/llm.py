"""An optional LLM summary from any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, Ollama, …).

The answer is treated as untrusted text: control characters go, whitespace collapses, and it is cut to the
configured length at a sentence or word boundary. Every failure, whatever its shape, is one `UpstreamUnavailable`,
so callers fall back to the next summary in the provenance order. The API key comes from the environment only.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.domain.clock import SystemClock
from bot.domain.config import LLM_KEY_ENV, LLMConfig
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import Paper, Summary
from bot.domain.ports import Clock
from bot.sources._http import JsonClient, RetryPolicy, clean_text

SYSTEM_PROMPT = (
    "You summarise research papers for a chat channel of researchers. Reply with a plain-text summary of two to "
    "three sentences: what the paper does and what it finds. No markdown, no lists, no preamble."
)
ABSTRACT_LIMIT = 6000
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


class LLMSummarizer:
    """`summarize(paper)` -> Summary(source="llm", model=<configured model>)."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        session: aiohttp.ClientSession,
        env: Mapping[str, str] = os.environ,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        key = env.get(LLM_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        self._config = config
        self._http = JsonClient(
            session,
            config.base_url,
            service="LLM",
            limiter=AsyncLimiter(10, 1),
            retry=retry,
            timeout=config.timeout,
            headers=headers,
        )
        self._clock = clock or SystemClock()

    @property
    def model(self) -> str:
        """The configured model: cached summaries are reused only for the model that wrote them."""
        return self._config.model

    async def summarize(self, paper: Paper) -> Summary:
        body = {
            "model": self._config.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Title: {paper.title}\n\nAbstract: {paper.abstract[:ABSTRACT_LIMIT]}"},
            ],
            "temperature": 0.2,
            "max_tokens": max(64, self._config.max_chars // 2),
        }
        try:
            async with asyncio.timeout(self._config.timeout):
                answer = await self._http.post("chat/completions", body=body)
        except TimeoutError:
            raise UpstreamUnavailable(f"LLM: timed out after {self._config.timeout:g}s") from None
        text = clean_text(_content(answer))
        if not text:
            raise UpstreamUnavailable("LLM: the answer was empty")
        return Summary(
            text=shorten(text, self._config.max_chars),
            source="llm",
            created=self._clock.now(),
            model=self._config.model,
        )


def _content(answer: Any) -> str:
    """choices[0].message.content, or UpstreamUnavailable naming what was missing."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices:
        raise UpstreamUnavailable("LLM: the answer has no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise UpstreamUnavailable("LLM: the answer has no message content")
    return content


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters. A cut text ends with "…": after the last whole sentence when that keeps at least
    half the allowance ("One. Two. …"), else at the last word boundary ("One two…"), else mid-word."""
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text[: limit - 1]) if m.end() <= limit - 2]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]] + " …"
    room = text[: limit - 1]
    space = room.rfind(" ")
    cut = room[:space] if space >= limit // 2 else room
    return cut.rstrip(" ,;:-") + "…"
