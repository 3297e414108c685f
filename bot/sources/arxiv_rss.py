"""Today's arXiv announcement list, from the RSS feed `{rss_url}{cat+cat+…}`, paced by the shared gate.

The feed is the only source keyed on *announcement* day (the API is keyed on submission), and it says why each
paper is listed (new / cross / replace / replace-cross). It is empty on weekends and holidays, which is normal.
"""

from __future__ import annotations

import asyncio
import logging
import re
import xml.sax
from collections.abc import Sequence
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast

import aiohttp
import feedparser

from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.config import ArxivConfig
from bot.domain.errors import BadInput, BadReference, UpstreamUnavailable
from bot.domain.model import Announcement
from bot.sources.pacing import PacingGate

log = logging.getLogger(__name__)

Kind = Literal["new", "cross", "replace", "replace-cross"]
_KIND_RANK: dict[str, int] = {"new": 0, "cross": 1, "replace": 2, "replace-cross": 3}
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")
_ANNOUNCE = re.compile(r"arXiv:(?P<ref>\S+?v\d+)\s+Announce Type:\s*(?P<kind>[a-z\-]+)", re.IGNORECASE)
_GUID = re.compile(r"oai:arXiv\.org:(?P<ref>\S+v\d+)$", re.IGNORECASE)


class _Transient(Exception):
    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class ArxivRssSource:
    """The announcement list (`ingest.AnnouncementSource`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        rss_url: str,
        gate: PacingGate,
        timeout: float = 30.0,
        num_retries: int = 3,
    ) -> None:
        self._session = session
        self._rss_url = rss_url
        self._gate = gate
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_seconds = timeout
        self._num_retries = max(num_retries, 0)
        self.requests = 0
        """HTTP requests sent so far (every attempt counts)."""

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, cfg: ArxivConfig, *, gate: PacingGate | None = None
    ) -> ArxivRssSource:
        """Build from `[arxiv]`; pass the gate the API source uses so both share arXiv's rate limit."""
        return cls(
            session,
            rss_url=cfg.rss_url,
            gate=gate if gate is not None else PacingGate(cfg.delay_seconds),
            timeout=cfg.timeout,
            num_retries=cfg.num_retries,
        )

    async def announcements(self, categories: Sequence[str], day: date | None = None) -> list[Announcement]:
        """The current announcement list for `categories`, one entry per paper.

        The feed only ever holds the latest mailing: when `day` is given and the feed is for another day, the answer
        is [] (RSS cannot tell what was announced on a past day; backfill would need OAI-PMH).
        """
        wanted = _check_categories(categories)
        body = await self._download("+".join(wanted))
        parsed = await asyncio.to_thread(feedparser.parse, body)
        if not parsed.get("version") or isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
            raise UpstreamUnavailable("arXiv RSS unavailable: the answer was not an RSS feed")
        found = _announcements(parsed)
        if day is None:
            return found
        return [item for item in found if item.day == day]

    async def _download(self, path: str) -> bytes:
        url = f"{self._rss_url}{path}"
        reason = ""
        for attempt in range(self._num_retries + 1):
            if attempt:
                self._gate.hold_off(self._gate.interval * 2 ** (attempt - 1))
            await self._gate.wait()
            self.requests += 1
            try:
                return await self._get(url)
            except _Transient as error:
                if not error.retry:
                    raise UpstreamUnavailable(f"arXiv RSS unavailable: {error.reason}") from None
                reason = error.reason
                log.info("arXiv RSS attempt %d failed: %s", attempt + 1, reason)
        attempts = self._num_retries + 1
        raise UpstreamUnavailable(f"arXiv RSS unavailable after {attempts} attempt(s): {reason}")

    async def _get(self, url: str) -> bytes:
        try:
            async with self._session.get(url, timeout=self._timeout, allow_redirects=True) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            raise _Transient(f"no answer within {self._timeout_seconds:g} s") from None
        except aiohttp.ClientError as error:
            raise _Transient(f"could not connect ({type(error).__name__})") from None
        if status == 429:
            raise _Transient("rate limited (HTTP 429)")
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if status != 200:
            raise _Transient(f"HTTP {status}", retry=False)
        return body


def _check_categories(categories: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(category.strip() for category in categories if category.strip()))
    if not wanted:
        raise BadInput("name at least one arXiv category, e.g. cs.LG")
    for category in wanted:
        if not _CATEGORY.match(category):
            raise BadInput(f"{category[:40]!r} is not an arXiv category (e.g. cs.LG, stat.ML, hep-th)")
    return wanted


def _announcements(parsed: Any) -> list[Announcement]:
    """Items → announcements, deduplicated by id: the strongest kind wins and the categories are merged."""
    channel_day = _day(parsed.feed.get("published")) or _day(parsed.feed.get("updated"))
    merged: dict[str, Announcement] = {}
    for item in parsed.entries:
        found = _announcement(item, channel_day)
        if found is None:
            continue
        before = merged.get(found.id)
        if before is None:
            merged[found.id] = found
            continue
        strongest = found if _KIND_RANK[found.kind] < _KIND_RANK[before.kind] else before
        merged[found.id] = Announcement(
            id=found.id,
            version=max(found.version, before.version),
            kind=strongest.kind,
            day=before.day,
            categories=tuple(dict.fromkeys(before.categories + found.categories)),
            title=before.title or found.title,
        )
    return list(merged.values())


def _announcement(item: Any, channel_day: date | None) -> Announcement | None:
    text = item.get("summary") or item.get("description") or ""
    match = _ANNOUNCE.search(text) or _GUID.search(item.get("id") or "")
    day = channel_day or _day(item.get("published"))
    if match is None or day is None:
        log.warning("arXiv RSS item without an announcement line or date; skipped")
        return None
    try:
        ref = parse_arxiv_id(match.group("ref"))
    except BadReference:
        log.warning("arXiv RSS item with an unexpected id; skipped")
        return None
    kind = (item.get("arxiv_announce_type") or match.groupdict().get("kind") or "").strip().lower()
    if kind not in _KIND_RANK:
        log.warning("arXiv RSS item with unknown announce type %r; skipped", kind[:20])
        return None
    return Announcement(
        id=ref.id,
        version=ref.version or 1,
        kind=cast(Kind, kind),
        day=day,
        categories=tuple(dict.fromkeys(tag.get("term", "") for tag in item.get("tags", []) if tag.get("term"))),
        title=" ".join((item.get("title") or "").split()),
    )


def _day(stamp: str | None) -> date | None:
    """The calendar day of an RFC 822 date in its own offset (arXiv writes midnight US Eastern)."""
    if not stamp:
        return None
    try:
        return parsedate_to_datetime(stamp).date()
    except (TypeError, ValueError):
        return None
