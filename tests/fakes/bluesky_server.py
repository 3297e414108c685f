"""A loopback Bluesky PDS: `com.atproto.server.createSession` and an authenticated `app.bsky.feed.searchPosts`.

Strict where the real service is: search needs `Authorization: Bearer <accessJwt>` (401 AuthMissing without),
`q` is required, `limit` is 1–100, and a token can be expired on demand (400 ExpiredToken). `url=` matches posts
linking to the URL (facets or embeds); a text query matches fuzzily, as search does, so a post naming a
neighbouring id comes back too.
"""

from __future__ import annotations

import json
from itertools import count
from typing import Any

from aiohttp import web

from tests.fakes.json_service import FakeJsonService, load_payload

HANDLE = "hotpapers.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def _links(post: dict[str, Any]) -> set[str]:
    record = post.get("record", {})
    links = {
        feature.get("uri", "")
        for facet in record.get("facets", [])
        for feature in facet.get("features", [])
        if feature.get("$type") == "app.bsky.richtext.facet#link"
    }
    external = record.get("embed", {}).get("external", {}).get("uri")
    return {_normalise(link) for link in (*links, external) if link}


def _normalise(url: str) -> str:
    return url.removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")


class FakeBluesky(FakeJsonService):
    prefix = "/xrpc"

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = load_payload("bluesky_posts.json")
        self.logins = 0
        self._serial = count(1)
        self._valid: set[str] = set()
        self._expired: set[str] = set()

    def expire_tokens(self) -> None:
        self._expired |= self._valid
        self._valid.clear()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/xrpc/com.atproto.server.createSession", self._create_session)
        app.router.add_get("/xrpc/app.bsky.feed.searchPosts", self._search)

    async def _create_session(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "InvalidRequest", "message": "Request body must be JSON"}, status=400)
        if body.get("identifier") != HANDLE or body.get("password") != APP_PASSWORD:
            return web.json_response(
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, status=401
            )
        self.logins += 1
        token = f"eyJhbGciOiJFUzI1NksifQ.access-{next(self._serial)}.signature"
        self._valid.add(token)
        return web.json_response({**load_payload("bluesky_create_session.json"), "accessJwt": token})

    async def _search(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return web.json_response({"error": "AuthMissing", "message": "Authentication Required"}, status=401)
        if token in self._expired:
            return web.json_response({"error": "ExpiredToken", "message": "Token has expired"}, status=400)
        if token not in self._valid:
            return web.json_response({"error": "InvalidToken", "message": "Malformed token"}, status=400)
        q, url = request.query.get("q", ""), request.query.get("url")
        if not q:
            missing = {"error": "InvalidRequest", "message": 'Params must have the property "q"'}
            return web.json_response(missing, status=400)
        if not 1 <= int(request.query.get("limit", "25")) <= 100:
            return web.json_response({"error": "InvalidRequest", "message": "limit must be 1..100"}, status=400)
        if url is not None:
            posts = [post for post in self.posts if _normalise(url) in _links(post)]
        else:
            fuzzy = q.strip('"')[:-1]
            posts = [post for post in self.posts if fuzzy and fuzzy in post["record"].get("text", "")]
        return web.json_response({"cursor": str(len(posts)), "hitsTotal": len(posts), "posts": posts})
