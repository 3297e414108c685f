"""The channel's page from a real database (SQLite and PostgreSQL): publishing, the pages, the feed, security."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import feedparser
import pytest
from multidict import CIMultiDict

from bot.domain.model import ChannelRef
from bot.domain.web_settings import WebSettings
from bot.runtime.bootstrap import App
from bot.web.archive import ChannelArchive
from bot.web.export import export_pages
from bot.web.server import WebServer, start_web_server
from tests.conftest import SAMPLE_DAY, MakeApp
from tests.web.support import (
    CHANNEL,
    HOSTILE_ID,
    OCTOBER_DAY,
    Published,
    published_channel,
    secrets_of,
)

Site = tuple[App, Published, WebServer]


@pytest.fixture
async def site(make_app: MakeApp) -> AsyncIterator[Site]:
    app = await make_app(sample=True)
    published = await published_channel(app)
    server = await start_web_server(WebSettings(enabled=True, port=0), ChannelArchive(app.uow))
    try:
        yield app, published, server
    finally:
        await server.stop()


def _base(server: WebServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def _get(url: str, **headers: str) -> tuple[int, CIMultiDict[str], str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status, CIMultiDict(response.headers), await response.text()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src")]


def _parsed(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


def _page_url(server: WebServer, published: Published, name: str = "") -> str:
    return f"{_base(server)}/c/{published.token}/{name}"


async def test_the_front_page_shows_the_latest_digest_then_the_archive_by_month(site: Site) -> None:
    _app, published, server = site
    status, headers, html = await _get(_page_url(server, published))
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    latest = html.index(f"Hot papers {SAMPLE_DAY}")
    archive = html.index("Archive")
    assert latest < archive
    assert "November 2020" in html and "October 2020" in html
    assert html.index("November 2020") < html.index("October 2020")
    assert f'href="{SAMPLE_DAY}.html"' in html and f'href="{OCTOBER_DAY}.html"' in html
    posted = [call.entry.card.paper.id for call in published.publisher.calls
              if call.entry is not None and call.key is not None and call.key.day == SAMPLE_DAY]  # fmt: skip
    assert posted and all(f"https://arxiv.org/abs/{paper_id}" in html for paper_id in posted)
    assert published.url.endswith(f"/c/{published.token}/")


async def test_a_day_page_has_the_hot_papers_layout(site: Site) -> None:
    _app, published, server = site
    status, _headers, html = await _get(_page_url(server, published, f"{SAMPLE_DAY}.html"))
    assert status == 200
    posted = [call.entry for call in published.publisher.calls
              if call.entry is not None and call.key is not None and call.key.day == SAMPLE_DAY]  # fmt: skip
    assert posted
    positions = []
    for entry in posted:
        assert f'id="rank-{entry.rank}"' in html
        assert f"https://arxiv.org/abs/{entry.card.paper.id}" in html
        assert f"https://arxiv.org/pdf/{entry.card.paper.id}v{entry.card.paper.version}" in html
        positions.append(html.index(f'id="rank-{entry.rank}"'))
    assert positions == sorted(positions)
    assert html.count("<details><summary>Abstract</summary>") == len(posted)
    assert "👍 1 · 👎 1 here" in html  # the channel's votes on the first entry
    assert "👍 3 · 👎 0 here" in html  # the button votes on the hostile paper
    assert "Community summary written in this channel" in html  # its summary, with provenance
    assert re.search(r'class="why"[^>]*>[^<]*👍', html)  # the why-line names the votes
    assert f'href="{OCTOBER_DAY}.html"' in html  # older day


async def test_a_paper_page_lists_this_channels_community_summaries_best_voted_first(site: Site) -> None:
    _app, published, server = site
    status, _headers, html = await _get(_page_url(server, published, f"paper-{HOSTILE_ID}.html"))
    assert status == 200
    assert html.index("The better-voted summary.") < html.index("alert(&#39;summary&#39;)")
    assert "+1 votes" in html
    assert "Written in another channel" not in html  # another channel's words stay there
    assert "👍 3 · 👎 0 in this channel" in html
    assert f"{SAMPLE_DAY}.html" in html
    # a paper the channel never posted has no page here, though it is in the database
    status, _, body = await _get(_page_url(server, published, "paper-1611.03530.html"))
    assert status == 404 and body == "Not found.\n"


async def test_hostile_titles_abstracts_and_summaries_are_inert(site: Site) -> None:
    _app, published, server = site
    for name in ("", f"{SAMPLE_DAY}.html", f"paper-{HOSTILE_ID}.html"):
        _status, _headers, html = await _get(_page_url(server, published, name))
        parsed = _parsed(html)
        assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
        assert parsed.tags.count("style") == 1  # ours only
        assert all(href.startswith(("https://arxiv.org/", "paper-", "20", "index.html", "feed.atom"))
                   for href in parsed.hrefs), parsed.hrefs  # fmt: skip
        assert "&lt;script&gt;" in html
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", html)  # bidi controls gone
        assert "Attention eviL" in html


async def test_the_page_never_shows_ids_names_or_the_token(site: Site) -> None:
    _app, published, server = site
    for name in ("", f"{SAMPLE_DAY}.html", f"{OCTOBER_DAY}.html", f"paper-{HOSTILE_ID}.html", "feed.atom"):
        _status, _headers, body = await _get(_page_url(server, published, name))
        for secret in secrets_of(published):
            if secret == published.token and name == "feed.atom":
                continue  # the feed links to the pages (their URL); its ids never hold the token (checked below)
            assert secret not in body, (name, secret)


async def test_security_headers_on_every_answer(site: Site) -> None:
    _app, published, server = site
    for url in (_page_url(server, published), f"{_base(server)}/c/{'x' * 43}/", f"{_base(server)}/nothing"):
        _status, headers, _body = await _get(url)
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_tokens_get_the_same_plain_404_as_any_path(site: Site) -> None:
    _app, published, server = site
    answers = set()
    for path in (
        f"/c/{'A' * 43}/",
        "/c/short/",
        f"/c/{published.token[:-1]}B/",
        "/nothing",
        f"/c/{'A' * 43}/feed.atom",
    ):
        status, headers, body = await _get(f"{_base(server)}{path}")
        answers.add((status, headers["Content-Type"], body))
    assert answers == {(404, "text/plain; charset=utf-8", "Not found.\n")}


async def test_rotate_and_unpublish_stop_the_old_url_at_once(site: Site) -> None:
    app, published, server = site
    _, _, first_feed = await _get(_page_url(server, published, "feed.atom"))
    rotated = await app.service.publish(CHANNEL, "rotate", command="/hotpapers settings")
    assert rotated.state == "rotated" and rotated.url and published.token not in rotated.url
    assert (await _get(_page_url(server, published)))[0] == 404
    new_token = rotated.url.rstrip("/").rsplit("/", 1)[1]
    status, _, new_feed = await _get(f"{_base(server)}/c/{new_token}/feed.atom")
    assert status == 200
    old_ids = [entry.id for entry in feedparser.parse(first_feed).entries]
    assert old_ids and old_ids == [entry.id for entry in feedparser.parse(new_feed).entries]
    again = await app.service.publish(CHANNEL, "yes")
    assert again.state == "already" and again.url is None
    off = await app.service.publish(CHANNEL, "no")
    assert off.state == "unpublished"
    assert (await _get(f"{_base(server)}/c/{new_token}/"))[0] == 404
    assert (await app.service.publish(CHANNEL, "no")).state == "not-published"


async def test_channels_that_did_not_opt_in_are_never_visible(site: Site) -> None:
    app, _published, _server = site
    other = ChannelRef("console", "local", "quiet")
    await app.service.subscribe(other)
    archive = ChannelArchive(app.uow)
    assert await archive.for_channel(other) is None
    async with app.uow() as uow:
        rows = await uow.pages.state(await uow.channels.id_of(other) or 0)
    assert rows is None


async def test_the_atom_feed_has_the_essentials_and_answers_conditional_gets(site: Site) -> None:
    _app, published, server = site
    url = _page_url(server, published, "feed.atom")
    status, headers, body = await _get(url)
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.id.startswith("urn:uuid:") and feed.feed.title == "Hot papers" and feed.feed.updated
    assert any(link.rel == "self" and link.href == url for link in feed.feed.links)
    assert [entry.title for entry in feed.entries] == [f"Hot papers {SAMPLE_DAY}", f"Hot papers {OCTOBER_DAY}"]
    for entry in feed.entries:
        assert entry.id.startswith("urn:uuid:") and published.token not in entry.id
        assert entry.updated and entry.link.startswith(_page_url(server, published)) and entry.link.endswith(".html")
    assert len({entry.id for entry in feed.entries}) == len(feed.entries)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert (await _get(url, **{"If-None-Match": etag}))[0] == 304
    assert (await _get(url, **{"If-Modified-Since": modified}))[0] == 304
    assert (await _get(url, **{"If-None-Match": '"stale"', "If-Modified-Since": modified}))[0] == 200
    assert (await _get(url, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}))[0] == 200
    again = await _get(url)
    assert again[1]["ETag"] == etag and again[2] == body  # the same data gives the same bytes


async def test_access_log_lines_never_carry_the_token(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    _app, published, server = site
    with caplog.at_level(logging.DEBUG):
        await _get(_page_url(server, published, f"{SAMPLE_DAY}.html"))
        await _get(f"{_base(server)}/c/{'B' * 43}/feed.atom")
    lines = [record.getMessage() for record in caplog.records if record.name == "hotpapers.web.access"]
    assert any(f"GET /c/…/{SAMPLE_DAY}.html 200" in line for line in lines), lines
    assert all(published.token not in record.getMessage() for record in caplog.records)


async def test_export_writes_the_same_pages_as_static_files(site: Site, tmp_path: Path) -> None:
    app, published, server = site
    written = await export_pages(ChannelArchive(app.uow), CHANNEL, tmp_path / "site", base_url="https://lab.example/hp")
    names = {path.name for path in written}
    assert {"index.html", "feed.atom", f"{SAMPLE_DAY}.html", f"{OCTOBER_DAY}.html", f"paper-{HOSTILE_ID}.html"} <= names
    _status, _headers, served = await _get(_page_url(server, published, f"{SAMPLE_DAY}.html"))
    assert (tmp_path / "site" / f"{SAMPLE_DAY}.html").read_text() == served
    feed = feedparser.parse((tmp_path / "site" / "feed.atom").read_bytes())
    assert feed.entries[0].link == f"https://lab.example/hp/{SAMPLE_DAY}.html"
    for path in written:
        assert published.token not in path.read_text()
