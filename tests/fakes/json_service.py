"""The common half of the signal-service fakes: a loopback aiohttp server that records and misbehaves on request.

Each fake (HF, HN, Bluesky, S2, LLM) subclasses `FakeJsonService`, adds its routes, and gets for free: request
recording, a count of requests in flight (to check client-side concurrency bounds), and switchable failures
(429 with or without Retry-After, 5xx HTML pages, malformed JSON, a 200 HTML page, a slow answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from aiohttp import web
from multidict import CIMultiDict, MultiDict

from bot.sources._http import RetryPolicy

PAYLOADS = Path(__file__).parent / "payloads" / "signals"
FailureKind = Literal["429", "5xx", "malformed", "html", "slow"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_payload(name: str) -> Any:
    """A JSON fixture from payloads/signals/ (a fresh copy each time, so tests may edit it)."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def payload_text(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class Failure:
    kind: FailureKind
    times: int | None
    retry_after: str | None
    delay: float
    path: str | None


@dataclass(slots=True)
class RecordingSleep:
    """Stands in for asyncio.sleep in RetryPolicy: remembers every wait and does not wait."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


LOADED_MACHINE_TIMEOUT = 30.0
"""A request timeout for tests that do not test the timeout: the loopback fakes answer in milliseconds, but a busy
2-core CI machine can hold one request for seconds, and a test must not fail for that."""


def quick_retry(sleep: RecordingSleep, *, attempts: int = 3) -> RetryPolicy:
    """A RetryPolicy for tests: the real retry logic, with waits recorded instead of slept."""
    return RetryPolicy(attempts=attempts, backoff=0.25, backoff_max=2.0, retry_after_cap=10.0, sleep=sleep)


class FakeJsonService:
    """Subclasses implement `add_routes`; `prefix` is the path the real service's base URL ends with."""

    prefix = ""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._failures: list[Failure] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- set-up ---------------------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The base URL a client is configured with (host, port and the service's path prefix)."""
        return f"http://127.0.0.1:{self._port}{self.prefix}"

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- failure switches -----------------------------------------------------------------------------------------
    def fail(
        self,
        kind: FailureKind,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        delay: float = 5.0,
        path: str | None = None,
    ) -> None:
        """The next `times` requests (all, if None) whose path contains `path` fail this way."""
        self._failures.append(Failure(kind, times, retry_after, delay, path))

    def heal(self) -> None:
        self._failures.clear()

    def requests_to(self, fragment: str) -> list[RecordedRequest]:
        return [request for request in self.requests if fragment in request.path]

    # -- misbehaviour ---------------------------------------------------------------------------------------------
    def too_many_requests(self, failure: Failure) -> web.Response:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        return web.json_response({"error": "Too Many Requests"}, status=429, headers=headers)

    def _take(self, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.path is None or failure.path in path:
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(request.method, request.path, MultiDict(request.query), CIMultiDict(request.headers), body)
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            failure = self._take(request.path)
            if failure is None:
                return await handler(request)
            if failure.kind == "slow":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), failure.delay)
                return await handler(request)
            if failure.kind == "429":
                return self.too_many_requests(failure)
            if failure.kind == "5xx":
                return web.Response(status=502, text=payload_text("error_page.html"), content_type="text/html")
            if failure.kind == "html":
                return web.Response(status=200, text=payload_text("error_page.html"), content_type="text/html")
            return web.Response(status=200, text='{"truncated": [1, 2', content_type="application/json")
        finally:
            self.in_flight -= 1
