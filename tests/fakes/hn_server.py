"""A loopback HN Search API (Algolia): `/api/v1/search` over the stories in payloads/signals/hn_stories.json.

Like Algolia it is fuzzy: a query matches URLs that contain it *or a one-typo variant of its last digit*, so a
client that does not check the id exactly counts someone else's paper.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.json_service import FakeJsonService, load_payload


class FakeHackerNews(FakeJsonService):
    prefix = "/api/v1"

    def __init__(self) -> None:
        super().__init__()
        self.stories: list[dict[str, Any]] = load_payload("hn_stories.json")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/search", self._search)

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        if request.query.get("restrictSearchableAttributes") != "url" or request.query.get("tags") != "story":
            return web.json_response({"message": "this fake only answers url-restricted story searches"}, status=400)
        fuzzy = query[:-1]
        hits = [story for story in self.stories if query and fuzzy in (story.get("url") or "")]
        params = "&".join(f"{key}={value}" for key, value in request.query.items())
        return web.json_response(
            {
                "hits": hits,
                "nbHits": len(hits),
                "page": 0,
                "nbPages": 1 if hits else 0,
                "hitsPerPage": 20,
                "exhaustiveNbHits": True,
                "exhaustiveTypo": True,
                "exhaustive": {"nbHits": True, "typo": True},
                "query": query,
                "params": params,
                "processingTimeMS": 1,
                "serverTimeMS": 2,
            }
        )
