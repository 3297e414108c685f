"""Bluesky posts that link to or name a paper, counted by engagement.

`searchPosts` is effectively authenticated-only since 2025, so the source logs in with an app password
(`createSession`) and sends the access token to the PDS. Each paper is searched under every URL form people share
(abs, pdf, versioned abs, HF and alphaXiv pages) plus the bare id as a phrase; posts are deduplicated by `uri`.
"""

from __future__ import annotations

import asyncio
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
from bot.sources._http import (
    JsonClient,
    RetryPolicy,
    UpstreamStatus,
    as_int,
    bounded_map,
    compact_count,
    mentions_id,
)

DEFAULT_BASE_URL = "https://bsky.social/xrpc"
SEARCH = "app.bsky.feed.searchPosts"
_AUTH_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"})


@dataclass(frozen=True, slots=True)
class _Post:
    uri: str
    handle: str
    engagement: int


def search_queries(paper: Paper) -> list[dict[str, str]]:
    """The searchPosts parameters for one paper: each shared URL form (`q` is required, so "*"), then the id."""
    urls = [
        f"https://arxiv.org/abs/{paper.id}",
        f"https://arxiv.org/pdf/{paper.id}",
        f"https://arxiv.org/abs/{paper.id}v{paper.version}",
        f"https://huggingface.co/papers/{paper.id}",
        f"https://alphaxiv.org/abs/{paper.id}",
    ]
    return [{"q": "*", "url": url} for url in urls] + [{"q": f'"{paper.id}"'}]


class BlueskySource:
    """Σ(likes + reposts + quotes + replies) over the distinct posts mentioning each paper."""

    name = "bluesky"
    label = "Bluesky"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        handle: str,
        app_password: SecretStr,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        limiter: AsyncLimiter | None = None,
        concurrency: int = 3,
    ) -> None:
        # The PDS allows 3000 requests per 5 minutes per IP; search is not meant as a bulk API, so stay well under.
        limiter = limiter if limiter is not None else AsyncLimiter(20, 4)
        self._http = JsonClient(session, base_url, service="Bluesky", limiter=limiter, retry=retry, timeout=timeout)
        self._handle = handle
        self._password = app_password
        self._clock = clock or SystemClock()
        self._concurrency = concurrency
        self._token: str | None = None
        self._login_lock = asyncio.Lock()

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        found = await bounded_map(self._posts, papers, concurrency=self._concurrency)
        now = self._clock.now()
        result: dict[str, Signal] = {}
        for paper, posts in zip(papers, found, strict=True):
            if not posts:
                continue
            engagement = sum(post.engagement for post in posts)
            top = max(posts, key=lambda post: post.engagement)
            count = f"{len(posts)} post{'' if len(posts) == 1 else 's'}"
            result[paper.id] = Signal(
                source="bluesky",
                value=float(engagement),
                label=f"Bluesky {compact_count(engagement)} ♥ · {count}",
                fetched_at=now,
                url=_post_url(top),
            )
        return result

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        return {}

    async def _posts(self, paper: Paper) -> list[_Post]:
        posts: dict[str, _Post] = {}
        for params in search_queries(paper):
            answer = await self._search({**params, "limit": "100", "sort": "top"})
            raw_posts = answer.get("posts") if isinstance(answer, dict) else None
            if not isinstance(raw_posts, list):
                raise UpstreamUnavailable("Bluesky: searchPosts answer has no posts list")
            for raw in raw_posts:
                post = _parse(raw, paper.id, by_text="url" not in params)
                if post is not None:
                    posts.setdefault(post.uri, post)
        return list(posts.values())

    async def _search(self, params: Mapping[str, str]) -> Any:
        """One search with the session token; an expired or rejected token earns exactly one fresh login."""
        token = await self._session_token()
        try:
            return await self._http.get(SEARCH, params=params, headers={"Authorization": f"Bearer {token}"})
        except UpstreamStatus as error:
            if error.status not in (400, 401) or error.code not in _AUTH_ERRORS:
                raise
        token = await self._session_token(stale=token)
        return await self._http.get(SEARCH, params=params, headers={"Authorization": f"Bearer {token}"})

    async def _session_token(self, *, stale: str | None = None) -> str:
        async with self._login_lock:
            if self._token is None or self._token == stale:
                body = {"identifier": self._handle, "password": self._password.get_secret_value()}
                try:
                    session = await self._http.post("com.atproto.server.createSession", body=body)
                except UpstreamStatus as error:
                    raise UpstreamUnavailable(f"Bluesky: login failed (HTTP {error.status})") from None
                token = session.get("accessJwt") if isinstance(session, dict) else None
                if not isinstance(token, str) or not token:
                    raise UpstreamUnavailable("Bluesky: createSession returned no access token")
                self._token = token
            return self._token


def _parse(raw: Any, paper_id: str, *, by_text: bool) -> _Post | None:
    """A post from a search answer; text-search hits must really name the id (search is fuzzy)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
        return None
    record, author = raw.get("record"), raw.get("author")
    if by_text:
        text = record.get("text") if isinstance(record, dict) else None
        if not (isinstance(text, str) and mentions_id(text, paper_id)):
            return None
    counts = (as_int(raw.get(key)) for key in ("likeCount", "repostCount", "quoteCount", "replyCount"))
    handle = author.get("handle") if isinstance(author, dict) else None
    engagement = sum(max(count or 0, 0) for count in counts)
    return _Post(uri=raw["uri"], handle=handle if isinstance(handle, str) else "", engagement=engagement)


def _post_url(post: _Post) -> str | None:
    """at://did/app.bsky.feed.post/rkey -> https://bsky.app/profile/<handle>/post/<rkey>."""
    did, _, rkey = post.uri.removeprefix("at://").partition("/app.bsky.feed.post/")
    if not rkey or "/" in rkey:
        return None
    return f"https://bsky.app/profile/{post.handle or did}/post/{rkey}"
