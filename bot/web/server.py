"""Serving the channel pages with aiohttp: `/c/<token>/` (front page), `/c/<token>/<day>.html`,
`/c/<token>/paper-<id>.html` and `/c/<token>/feed.atom`.

Every answer carries a strict Content-Security-Policy (no scripts; the one stylesheet by its hash) and
`Referrer-Policy: no-referrer`, so following a link to arXiv never sends the token. An unknown, malformed, rotated
or unpublished token gets the same plain 404 as any other path. Access log lines show `/c/…/` instead of the token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.domain.tokens import redact
from bot.runtime.health import RunningServer, listen

if TYPE_CHECKING:
    from aiohttp import web

    from bot.domain.web_settings import WebSettings
    from bot.storage.pages import PageState
    from bot.web.archive import ChannelArchive

log = logging.getLogger(__name__)
access_log = logging.getLogger("hotpapers.web.access")

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})\.html")
_PAPER = re.compile(r"paper-([A-Za-z0-9._-]{1,64})\.html")
HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    """One page as bytes, with what conditional GET needs."""

    body: bytes
    content_type: str
    last_modified: datetime | None

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()[:32]}"'


async def render_path(archive: ChannelArchive, state: PageState, name: str, *, base: str) -> Rendered | None:
    """The file `name` of a published channel's page (`index.html`, `2020-11-06.html`, `paper-<id>.html`,
    `feed.atom`), or None when there is no such page. `base` is the page's absolute URL (for the feed's links)."""
    from bot.web.feed import atom_feed
    from bot.web.render import day_html, front_html, paper_html

    if name in ("", "index.html"):
        front = await archive.front(state)
        return Rendered(front_html(front).encode(), HTML, front.updated)
    if name == "feed.atom":
        pages = await archive.recent(state)
        body = atom_feed(state.feed_id, pages, base=base, published=state.published_at)
        return Rendered(body, ATOM, max((p.updated for p in pages), default=state.published_at))
    if match := _DAY.fullmatch(name):
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            return None
        page = await archive.day(state, day)
        return None if page is None else Rendered(day_html(page).encode(), HTML, page.updated)
    if match := _PAPER.fullmatch(name):
        paper = await archive.paper(state, match[1])
        return None if paper is None else Rendered(paper_html(paper).encode(), HTML, paper.updated)
    return None


WebServer = RunningServer
"""The channel pages' site (the same handle as the health server's)."""


def make_app(archive: ChannelArchive, settings: WebSettings, *, public_url: Callable[[], str]) -> web.Application:
    from aiohttp import web

    @web.middleware
    async def headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        from bot.web.render import HEADER_CSP

        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        response.headers["Content-Security-Policy"] = HEADER_CSP
        return response

    async def page(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        try:
            state = await archive.find(token)
            if state is None:
                return _not_found()
            rendered = await render_path(archive, state, request.match_info.get("name", ""),
                                         base=f"{public_url()}/c/{token}/")  # fmt: skip
        except Exception as error:  # the type only: the message could hold the path, hence the token
            log.warning("web page failed: %s", type(error).__name__)
            return web.Response(status=503, text="Temporarily unavailable.\n")
        if rendered is None:
            return _not_found()
        return _conditional(request, rendered)

    async def anything(_request: web.Request) -> web.StreamResponse:
        return _not_found()

    app = web.Application(middlewares=[headers])
    app.router.add_get("/c/{token}/", page)
    app.router.add_get("/c/{token}/{name}", page)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


def _not_found() -> web.Response:
    from aiohttp import web

    return web.Response(status=404, text="Not found.\n", content_type="text/plain")


def _conditional(request: web.Request, rendered: Rendered) -> web.StreamResponse:
    """200 with ETag / Last-Modified, or 304 when the reader's copy is current (If-None-Match wins over
    If-Modified-Since, as RFC 9110 says)."""
    from aiohttp import web

    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    modified = rendered.last_modified.replace(microsecond=0) if rendered.last_modified else None
    if modified is not None:
        headers["Last-Modified"] = modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        if rendered.etag in tags or "*" in tags:
            return web.Response(status=304, headers=headers)
    elif modified is not None and request.if_modified_since is not None and modified <= request.if_modified_since:
        return web.Response(status=304, headers=headers)
    response = web.Response(body=rendered.body, headers=headers)
    response.content_type = rendered.content_type.split(";")[0]
    response.charset = "utf-8"
    return response


def access_logger() -> type[Any]:
    """An aiohttp access logger whose lines never carry a token: `GET /c/…/2020-11-06.html 200`."""
    from aiohttp.abc import AbstractAccessLogger

    class RedactingAccessLogger(AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            self.logger.info("%s %s %d %.1f ms", request.method, redact(request.path), response.status, time * 1000)

    return RedactingAccessLogger


async def start_web_server(settings: WebSettings, archive: ChannelArchive) -> WebServer:
    """Serve the channel pages on settings.host:settings.port (port 0 picks a free one; see `.port`)."""
    from aiohttp import web

    server: dict[str, int] = {}
    app = make_app(archive, settings, public_url=lambda: settings.public_url(server.get("port")))
    runner = web.AppRunner(app, access_log=access_log, access_log_class=access_logger())
    server["port"] = port = await listen(runner, settings.host, settings.port, what="web")
    log.info("channel pages on http://%s:%d/ (each at /c/<its token>/)", settings.host, port)
    return WebServer(runner, settings.host, port)
