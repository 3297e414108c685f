"""A loopback Hugging Face Hub API: `/api/daily_papers?date=` (nested entries) and `/api/papers/{id}` (flat, 404
for papers that were never featured), served from payloads/signals/hf_*.json."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from tests.fakes.json_service import FakeJsonService, load_payload

FEATURED_DAY = date(2026, 3, 6)


class FakeHuggingFace(FakeJsonService):
    prefix = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.daily: dict[str, list[Any]] = {FEATURED_DAY.isoformat(): load_payload("hf_daily_papers.json")}
        self.papers: dict[str, dict[str, Any]] = {"2607.16859": load_payload("hf_paper_2607.16859.json")}
        for entry in self.daily[FEATURED_DAY.isoformat()]:
            self.papers.setdefault(entry["paper"]["id"], entry["paper"])

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/daily_papers", self._daily)
        app.router.add_get("/api/papers/{paper_id}", self._paper)

    async def _daily(self, request: web.Request) -> web.Response:
        day = request.query.get("date", "")
        try:
            date.fromisoformat(day)
        except ValueError:
            return web.json_response({"error": f"Invalid date: {day}"}, status=400)
        return web.json_response(self.daily.get(day, []))

    async def _paper(self, request: web.Request) -> web.Response:
        paper = self.papers.get(request.match_info["paper_id"])
        if paper is None:
            return web.json_response({"error": "Paper not found"}, status=404)
        return web.json_response(paper)
