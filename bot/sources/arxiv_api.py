"""arXiv metadata through the real `arxiv` package (4.x), run in a worker thread and paced by the shared gate.

The package is synchronous, retries and sleeps on its own, and silently turns a broken body into "no results". So
it runs with its own delay and retries switched off, and every HTTP request it makes goes through `_GatedSession`,
which waits for the shared `PacingGate` (hopping back onto the event loop), applies the timeout the package lacks,
and classifies the answer before the package sees it. Retries with back-off happen here, one slot per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import arxiv
import requests
from lxml import etree

from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.config import ArxivConfig
from bot.domain.errors import BadReference, UpstreamUnavailable
from bot.domain.model import Paper
from bot.sources.pacing import PacingGate

log = logging.getLogger(__name__)

MAX_BATCH = 100
"""arXiv answers an id_list of any length, but large pages are slow and fragile; 100 is the package default."""

_ATOM = "{http://www.w3.org/2005/Atom}"


class _Transient(Exception):
    """A failure worth retrying (429, 5xx, refused connection, timeout, broken body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Fatal(_Transient):
    """An upstream failure that retrying will not fix (e.g. 404 from a misconfigured api_url)."""


class ArxivApiSource:
    """arXiv metadata (`ingest.MetadataSource`): `fetch(ids)` → latest-version `Paper`s, unknown ids simply absent."""

    def __init__(
        self,
        *,
        api_url: str,
        delay_seconds: float = 3.0,
        num_retries: int = 3,
        page_size: int = MAX_BATCH,
        timeout: float = 30.0,
        gate: PacingGate | None = None,
    ) -> None:
        self._url_format = _url_format(api_url)
        self._gate = gate if gate is not None else PacingGate(delay_seconds)
        self._num_retries = max(num_retries, 0)
        self.batch_size = max(1, min(page_size, MAX_BATCH))
        self._timeout = timeout
        self.requests = 0
        """HTTP requests sent so far (every attempt counts), for ingest reports and the batching benchmark."""

    @classmethod
    def from_config(cls, cfg: ArxivConfig, *, gate: PacingGate | None = None) -> ArxivApiSource:
        """Build from `[arxiv]`; pass the same `gate` to `ArxivRssSource` so both share arXiv's rate limit."""
        return cls(
            api_url=cfg.api_url,
            delay_seconds=cfg.delay_seconds,
            num_retries=cfg.num_retries,
            page_size=cfg.page_size,
            timeout=cfg.timeout,
            gate=gate,
        )

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        """Latest metadata for `ids`, in request order; BadReference for a malformed id (before any request)."""
        wanted = _canonical_ids(ids)
        loop = asyncio.get_running_loop()
        found: dict[str, Paper] = {}
        for batch in _batches(wanted, self.batch_size):
            for paper in await self._fetch_batch(batch, loop):
                found.setdefault(paper.id, paper)
        return [found[key] for key in wanted if key in found]

    async def _fetch_batch(self, batch: list[str], loop: asyncio.AbstractEventLoop) -> list[Paper]:
        reason = ""
        for attempt in range(self._num_retries + 1):
            if attempt:
                self._gate.hold_off(self._gate.interval * 2 ** (attempt - 1))
            try:
                results = await asyncio.to_thread(self._search_blocking, batch, loop)
            except _Fatal as error:
                raise UpstreamUnavailable(f"arXiv API unavailable: {error.reason}") from None
            except _Transient as error:
                reason = error.reason
                log.info("arXiv API attempt %d failed: %s", attempt + 1, reason)
                continue
            return [paper for paper in map(_to_paper, results) if paper is not None]
        attempts = self._num_retries + 1
        raise UpstreamUnavailable(f"arXiv API unavailable after {attempts} attempt(s): {reason}")

    def _search_blocking(self, batch: list[str], loop: asyncio.AbstractEventLoop) -> list[arxiv.Result]:
        """Runs in a worker thread: one id_list search, every request admitted by the gate on the loop."""

        def admit() -> None:
            asyncio.run_coroutine_threadsafe(self._admit(), loop).result()

        client = arxiv.Client(page_size=len(batch), delay_seconds=0, num_retries=0)
        client.query_url_format = self._url_format  # instance attribute shadows the class's export.arxiv.org
        client._session.close()
        client._session = session = _GatedSession(admit=admit, timeout=self._timeout)  # no public hook for this
        try:
            return list(client.results(arxiv.Search(id_list=batch, max_results=len(batch))))
        except arxiv.UnexpectedEmptyPageError:
            raise _Transient("a page of results was unexpectedly empty") from None
        except arxiv.HTTPError as error:  # normally caught by _GatedSession first
            raise _Transient(f"HTTP {error.status}") from None
        finally:
            session.close()

    async def _admit(self) -> None:
        await self._gate.wait()
        self.requests += 1


class _GatedSession(requests.Session):
    """The package's HTTP session: paced, with a timeout, and strict about what counts as an answer."""

    def __init__(self, *, admit: Callable[[], None], timeout: float) -> None:
        super().__init__()
        self._admit = admit
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self._admit()
        kwargs.setdefault("timeout", self._timeout)
        try:
            verb = method if isinstance(method, str) else method.decode()
            response = super().request(verb, url if isinstance(url, str) else url.decode(), *args, **kwargs)
        except requests.Timeout:
            raise _Transient(f"no answer within {self._timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("could not connect") from None
        except requests.RequestException as error:
            raise _Transient(f"request failed ({type(error).__name__})") from None
        _check_answer(response.status_code, response.content)
        return response


def _check_answer(status: int, body: bytes) -> None:
    """Raise unless `body` is a real Atom feed with results; an arXiv error feed becomes BadReference."""
    if status == 429:
        raise _Transient("rate limited (HTTP 429)")
    if status >= 500:
        raise _Transient(f"HTTP {status}")
    if status not in (200, 400):
        raise _Fatal(f"HTTP {status}")
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        if status == 400:
            raise _Fatal("HTTP 400") from None
        raise _Transient("the answer was not well-formed XML") from None
    if root.tag != f"{_ATOM}feed":
        raise _Transient("the answer was not an Atom feed")
    for entry in root.iterfind(f"{_ATOM}entry"):
        if "/api/errors" in (entry.findtext(f"{_ATOM}id") or ""):
            message = " ".join((entry.findtext(f"{_ATOM}summary") or "invalid request").split())[:200]
            raise BadReference(f"arXiv rejected the request: {message}")
    if status == 400:
        raise _Fatal("HTTP 400")


def _to_paper(result: arxiv.Result) -> Paper | None:
    try:
        ref = parse_arxiv_id(result.get_short_id())
    except BadReference:
        log.warning("arXiv answered an entry with an unexpected id; skipped")
        return None
    categories = tuple(dict.fromkeys(result.categories))
    return Paper(
        id=ref.id,
        version=ref.version or 1,
        title=_one_line(result.title),
        authors=tuple(_one_line(author.name) for author in result.authors if author.name.strip()),
        abstract=normalise_abstract(result.summary),
        categories=categories,
        primary_category=result.primary_category or (categories[0] if categories else ""),
        published=_utc(result.published),
        updated=_utc(result.updated),
        comment=_one_line(result.comment) or None,
        journal_ref=_one_line(result.journal_ref) or None,
        doi=_one_line(result.doi) or None,
    )


def normalise_abstract(text: str) -> str:
    """Unwrap arXiv's hard line breaks and leading spaces; keep blank-line paragraph breaks."""
    paragraphs = (" ".join(part.split()) for part in re.split(r"\n\s*\n", text.strip()))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _canonical_ids(ids: Sequence[str]) -> list[str]:
    """Canonical ids without versions (the API then answers the latest), duplicates dropped, order kept."""
    return list(dict.fromkeys(parse_arxiv_id(raw).id for raw in ids))


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _url_format(api_url: str) -> str:
    """The package formats `query_url_format` with str.format, so braces in the URL must be escaped."""
    base = api_url.replace("{", "{{").replace("}", "}}")
    return f"{base}{'&' if '?' in base else '?'}{{}}"
