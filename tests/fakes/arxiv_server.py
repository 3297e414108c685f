"""A loopback fake of export.arxiv.org/api/query and rss.arxiv.org/rss/, strict where the real one is.

Shaped after the 2026 recordings (shared/research/external-apis.md §1.3–1.6, §2.2): Atom with namespaces declared
once, `http://arxiv.org/abs/<id>v<N>` entry ids, `Z` timestamps, the default `max_results=10` that silently
truncates long id lists, a 400 *error feed* for malformed ids, 429 `Rate exceeded.` as text/plain, and RSS items
listed per requested category (so a cross-listed paper appears once per category, as new/cross or
replace/replace-cross). Tests fill a registry of papers and can inject faults; every request is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from string import Template
from typing import Any, Literal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

PAYLOADS = Path(__file__).parent / "payloads" / "arxiv"
SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample.json"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
Endpoint = Literal["api", "rss"]
Fault = Literal["rate_limit", "unavailable", "malformed", "html", "slow", "error_200"]

_VALID_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_VERSIONED = re.compile(r"^(?P<id>.+?)(?:v(?P<version>\d+))?$")


@dataclass
class FakePaper:
    id: str
    version: int = 1
    title: str = ""
    authors: list[tuple[str, list[str]]] = field(default_factory=lambda: [("Ada Lovelace", [])])
    abstract: str = "An abstract."
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    primary_category: str = ""
    published: datetime = datetime(2020, 10, 1, 17, 59, 46, tzinfo=UTC)
    updated: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


@dataclass
class RecordedRequest:
    endpoint: Endpoint
    path: str
    query: dict[str, list[str]]
    time: float
    """The fake's clock (time.monotonic unless injected) when the request arrived."""
    user_agent: str
    status: int = 0


@dataclass
class _Announced:
    paper_id: str
    replacement: bool


class FakeArxiv:
    """`async with FakeArxiv() as fake:` serves `fake.api_url` and `fake.rss_url` on 127.0.0.1 (port 0)."""

    def __init__(
        self, *, min_interval: float = 0.0, slow_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_interval = min_interval
        self.slow_seconds = slow_seconds
        self.clock = clock
        self.papers: dict[str, list[FakePaper]] = {}
        self.raw_entries: dict[str, str] = {}
        self.reject_ids: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.rss_day = date(2020, 10, 2)
        self.announced: list[_Announced] = []
        self._faults: dict[Endpoint, deque[Fault]] = {"api": deque(), "rss": deque()}
        self._sticky: dict[Endpoint, Fault | None] = {"api": None, "rss": None}
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeArxiv:
        app = web.Application()
        app.router.add_get("/api/query", self._api)
        app.router.add_post("/api/query", self._api)
        app.router.add_get("/rss/{cats}", self._rss)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()  # let slow handlers finish at once
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/query"

    @property
    def rss_url(self) -> str:
        return f"{self.url}/rss/"

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        return [request for request in self.requests if request.endpoint == endpoint]

    # -- registry ----------------------------------------------------------------------------------------------
    def add_paper(self, paper_id: str, **fields: Any) -> FakePaper:
        """Register a version of a paper (a higher `version` is a version bump; the API then answers it)."""
        paper = FakePaper(id=paper_id, **fields)
        paper.title = paper.title or f"Paper {paper_id}"
        paper.primary_category = paper.primary_category or paper.categories[0]
        versions = [known for known in self.papers.get(paper_id, []) if known.version != paper.version]
        self.papers[paper_id] = sorted([*versions, paper], key=lambda known: known.version)
        return paper

    def add_recorded_entry(self, paper_id: str, name: str) -> None:
        """Serve an `<entry>` copied verbatim from a real recording (payloads/arxiv/<name>)."""
        self.raw_entries[paper_id] = (PAYLOADS / name).read_text(encoding="utf-8")

    def announce(self, paper_id: str, *, replacement: bool = False) -> None:
        """List a registered paper in today's RSS (new, or replace when `replacement`)."""
        self.announced.append(_Announced(paper_id, replacement))

    def load_sample(self, path: Path = SAMPLE, *, announce_day: str | None = None) -> list[str]:
        """Register every paper of bot/data/sample.json; announce one day's papers if asked. Returns the ids."""
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [(day["date"], paper) for day in data["days"] for paper in day["papers"]]
        entries += [("", paper) for paper in data.get("papers", [])]
        for day, paper in entries:
            published = datetime.fromisoformat(paper["published"])
            self.add_paper(
                paper["id"],
                version=paper["version"],
                title=paper["title"],
                authors=[(name, []) for name in paper["authors"]],
                abstract=paper["abstract"],
                categories=list(paper["categories"]),
                primary_category=paper["primary_category"],
                published=published,
            )
            if announce_day is not None and day == announce_day:
                self.rss_day = date.fromisoformat(day)
                self.announce(paper["id"])
        return [paper["id"] for _, paper in entries]

    def fail(self, endpoint: Endpoint, fault: Fault, *, times: int | None = 1) -> None:
        """Answer the next `times` requests with `fault`; `times=None` until `clear_faults()`."""
        if times is None:
            self._sticky[endpoint] = fault
        else:
            self._faults[endpoint].extend([fault] * times)

    def clear_faults(self) -> None:
        for endpoint in ("api", "rss"):
            self._faults[endpoint].clear()
            self._sticky[endpoint] = None

    # -- handlers ----------------------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        query = parse_qs(request.rel_url.raw_query_string, keep_blank_values=True)
        if request.method == "POST":
            query.update(parse_qs(await request.text(), keep_blank_values=True))
        return await self._serve(request, "api", query, lambda: self._answer_query(query))

    async def _rss(self, request: web.Request) -> web.StreamResponse:
        categories = request.match_info["cats"].split("+")
        return await self._serve(request, "rss", {}, lambda: self._answer_rss(categories))

    async def _serve(
        self, request: web.Request, endpoint: Endpoint, query: dict[str, list[str]], answer: Callable[[], web.Response]
    ) -> web.Response:
        """Record the request, apply the rate limit and any injected fault, else give the normal answer."""
        now = self.clock()
        previous = self.requests[-1].time if self.requests else None
        record = RecordedRequest(endpoint, request.path, query, now, request.headers.get("User-Agent", ""))
        self.requests.append(record)
        if self.min_interval and previous is not None and now - previous < self.min_interval:
            fault: Fault | None = "rate_limit"
        else:
            fault = self._faults[endpoint].popleft() if self._faults[endpoint] else self._sticky[endpoint]
        response = await self._fault(fault, endpoint, answer) if fault else answer()
        record.status = response.status
        return response

    async def _fault(self, fault: Fault, endpoint: Endpoint, answer: Callable[[], web.Response]) -> web.Response:
        if fault == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.slow_seconds)
            return answer()
        if fault == "rate_limit":
            return _text(429, (PAYLOADS / "rate_exceeded.txt").read_text())
        page = (PAYLOADS / "unavailable.html").read_text()
        if fault in ("unavailable", "html"):
            return web.Response(status=503 if fault == "unavailable" else 200, text=page, content_type="text/html")
        if fault == "malformed":
            body = bytes(answer().body or b"")  # a truncated document: cut mid-way through the entries
            truncated = body[: len(body) * 2 // 3].decode("utf-8", "ignore")
            return _xml(200, truncated, ATOM_TYPE if endpoint == "api" else RSS_TYPE)
        return _xml(200, _error_feed("internal error"), ATOM_TYPE)  # error_200: the pre-2025 server's habit

    def _answer_query(self, query: dict[str, list[str]]) -> web.Response:
        if any(value.strip() for value in query.get("search_query", [])):
            return _xml(400, _error_feed("search_query is not supported by this fake"), ATOM_TYPE)
        ids = [part.strip() for value in query.get("id_list", []) for part in value.split(",") if part.strip()]
        for raw in ids:
            if not _VALID_ID.match(raw) or raw in self.reject_ids:
                return _xml(400, _error_feed(f"incorrect id format for {raw}"), ATOM_TYPE)
        start, error = _int_param(query, "start", 0)
        max_results, error = (start, error) if error else _int_param(query, "max_results", 10)
        if error:
            return _xml(400, _error_feed(error), ATOM_TYPE)
        found = [entry for entry in (self._entry(raw) for raw in ids) if entry is not None]
        page = found[start : start + max_results]
        id_list = ",".join(ids)
        head = Template((PAYLOADS / "feed_head.xml").read_text()).substitute(
            feed_hash=hashlib.sha1(id_list.encode()).hexdigest()[:27],
            id_list=escape(id_list),
            start=start,
            max_results=max_results,
            total=len(found),
            updated=_stamp(datetime.now(UTC)),
        )
        return _xml(200, head + "".join(page) + "</feed>\n", ATOM_TYPE)

    def _entry(self, raw: str) -> str | None:
        match = _VERSIONED.match(raw)
        paper_id, version = (match.group("id"), match.group("version")) if match else (raw, None)
        if paper_id in self.raw_entries and not version:
            return self.raw_entries[paper_id]
        versions = self.papers.get(paper_id, [])
        chosen = [known for known in versions if not version or known.version == int(version)]
        return _render_entry(chosen[-1]) if chosen else None

    def _answer_rss(self, categories: list[str]) -> web.Response:
        pub = self.rss_day.strftime("%a, %d %b %Y 00:00:00 -0400")  # arXiv stamps midnight US Eastern
        build = datetime(self.rss_day.year, self.rss_day.month, self.rss_day.day, 4, tzinfo=UTC)
        values = {"cats": "+".join(categories), "pub_date": pub, "build_date": format_datetime(build)}
        items = [
            _render_item(self.papers[item.paper_id][-1], kind, pub)
            for category in categories
            for kind in ("new", "cross", "replace", "replace-cross")
            for item in self.announced
            if item.paper_id in self.papers and _kind(self.papers[item.paper_id][-1], item, category) == kind
        ]
        if not items:
            return _xml(200, Template((PAYLOADS / "rss_weekend.xml").read_text()).substitute(values), RSS_TYPE)
        head = Template((PAYLOADS / "rss_head.xml").read_text()).substitute(values)
        return _xml(200, head + "".join(items) + "  </channel>\n</rss>\n", RSS_TYPE)


def _kind(paper: FakePaper, item: _Announced, category: str) -> str | None:
    if category not in paper.categories:
        return None
    primary = category == paper.primary_category
    if item.replacement:
        return "replace" if primary else "replace-cross"
    return "new" if primary else "cross"


def _render_entry(paper: FakePaper) -> str:
    versioned = f"{paper.id}v{paper.version}"
    updated = paper.updated or paper.published
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(paper.title)}</title>",
        f"    <updated>{_stamp(updated)}</updated>",
        f'    <link href="https://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf" title="pdf"/>',
        f"    <summary>{escape(paper.abstract)}</summary>",
        *(f'    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in paper.categories),
        f"    <published>{_stamp(paper.published)}</published>",
    ]
    if paper.comment:
        lines.append(f"    <arxiv:comment>{escape(paper.comment)}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(paper.primary_category)}/>")
    if paper.journal_ref:
        lines.append(f"    <arxiv:journal_ref>{escape(paper.journal_ref)}</arxiv:journal_ref>")
    for name, affiliations in paper.authors:
        lines.append(f"    <author>\n      <name>{escape(name)}</name>")
        lines += [f"      <arxiv:affiliation>{escape(a)}</arxiv:affiliation>" for a in affiliations]
        lines.append("    </author>")
    if paper.doi:
        lines.append(f"    <arxiv:doi>{escape(paper.doi)}</arxiv:doi>")
        lines.append(f'    <link rel="related" href={quoteattr("https://doi.org/" + paper.doi)} title="doi"/>')
    lines.append("  </entry>\n")
    return "\n".join(lines)


def _render_item(paper: FakePaper, kind: str, pub: str) -> str:
    versioned = f"{paper.id}v{paper.version}"
    description = f"arXiv:{versioned} Announce Type: {kind} \nAbstract: {paper.abstract}"
    categories = "".join(f"      <category>{escape(c)}</category>\n" for c in paper.categories)
    creators = ", ".join(name for name, _ in paper.authors)
    return (
        "    <item>\n"
        f"      <title>{escape(paper.title)}</title>\n"
        f"      <link>https://arxiv.org/abs/{paper.id}</link>\n"
        f"      <description>{escape(description)}</description>\n"
        f'      <guid isPermaLink="false">oai:arXiv.org:{versioned}</guid>\n'
        f"{categories}"
        f"      <pubDate>{pub}</pubDate>\n"
        f"      <arxiv:announce_type>{kind}</arxiv:announce_type>\n"
        "      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
        f"      <dc:creator>{escape(creators)}</dc:creator>\n"
        "    </item>\n"
    )


def _error_feed(message: str) -> str:
    anchor = re.sub(r"[^A-Za-z0-9_.]", "_", message)
    return Template((PAYLOADS / "error_feed.xml").read_text()).substitute(
        updated=_stamp(datetime.now(UTC)), anchor=escape(anchor), message=escape(message)
    )


def _int_param(query: dict[str, list[str]], name: str, default: int) -> tuple[int, str]:
    raw = (query.get(name) or [str(default)])[0] or str(default)
    if not raw.lstrip("-").isdigit():
        return default, f"{name} must be an integer"
    value = int(raw)
    if value < 0:
        return default, f"{name} must be >= 0"
    if name == "max_results" and value > 2000:
        return default, "max_results must be <= 2000"
    return value, ""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(status: int, body: str, content_type: str) -> web.Response:
    return web.Response(status=status, body=body.encode("utf-8"), content_type=content_type, charset="utf-8")


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain")
