"""A loopback Semantic Scholar Graph API: `POST /graph/v1/paper/batch?fields=…` with `{"ids": [...]}`.

Strict like the real one: JSON body required, at most 500 ids, `fields` required; the answer is a list in request
order with `null` for unknown papers; its 429 is S2's JSON body with no Retry-After header.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.json_service import Failure, FakeJsonService, load_payload


class FakeSemanticScholar(FakeJsonService):
    prefix = "/graph/v1"

    def __init__(self) -> None:
        super().__init__()
        known: dict[str, dict[str, Any]] = load_payload("s2_papers.json")
        self.papers = {key.lower(): value for key, value in known.items()}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/graph/v1/paper/batch", self._batch)

    def too_many_requests(self, failure: Failure) -> web.Response:
        return web.json_response(
            load_payload("s2_429.json"),
            status=429,
            headers={"x-amzn-ErrorType": "TooManyRequestsException", "X-Cache": "Error from cloudfront"},
        )

    async def _batch(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": "Expected a JSON body"}, status=400)
        try:
            ids = json.loads(await request.read())["ids"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "Body must be an object with an ids list"}, status=400)
        if not isinstance(ids, list) or len(ids) > 500:
            return web.json_response({"error": "ids must be a list of at most 500 ids"}, status=400)
        fields = [field for field in request.query.get("fields", "").split(",") if field]
        if not fields:
            return web.json_response({"error": "Unrecognized or unsupported fields: []"}, status=400)
        answer = []
        for paper_id in ids:
            paper = self.papers.get(str(paper_id).lower())
            answer.append(None if paper is None else {"paperId": paper["paperId"], **{f: paper.get(f) for f in fields}})
        return web.json_response(answer)
