"""A loopback OpenAI-compatible endpoint: `POST /v1/chat/completions` with a Bearer key.

It checks what a real server rejects (missing or wrong key → 401, no model or messages → 400) and answers with the
chat.completion shape from payloads/signals/llm_chat_completion.json; `reply` sets the assistant's text, and
`reply = None` answers with an empty `choices` list.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.json_service import FakeJsonService, load_payload

API_KEY = "sk-test-0123456789abcdef"


class FakeLLM(FakeJsonService):
    prefix = "/v1"

    def __init__(self) -> None:
        super().__init__()
        self.reply: str | None = (
            "The paper shows that large multimodal models classify images well from a few in-context examples. "
            "It beats contrastive baselines on ten benchmarks."
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)

    async def _complete(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=401)
        try:
            body: dict[str, Any] = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": {"message": "We could not parse the JSON body."}}, status=400)
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return web.json_response({"error": {"message": "model and messages are required"}}, status=400)
        answer = load_payload("llm_chat_completion.json")
        if self.reply is None:
            answer["choices"] = []
        else:
            answer["choices"][0]["message"]["content"] = self.reply
        return web.json_response(answer)
