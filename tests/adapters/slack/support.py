"""Helpers for the Slack adapter tests: Slack's side of the wire (signed requests) and the app under test.

`SlackSide` plays Slack: it signs exactly the bytes it sends with the real v0 algorithm and posts them to the
app's real aiohttp server. `serving` runs the same SlackServer `adapters.slack.run` runs, on 127.0.0.1 port 0.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.server import SlackServer
from adapters.slack.settings import Secrets, Settings
from bot.domain.model import PaperCard
from bot.domain.ports import ChatService
from tests.fakes.cards import card as any_card
from tests.fakes.chat_service import ForwardingService
from tests.fakes.slack_server import WAIT, FakeSlack

T = TypeVar("T")

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PAYLOADS = Path(__file__).parents[2] / "fakes" / "payloads" / "slack"
TEAM, CHANNEL, USER, BOT_USER = "T111", "C111", "U222", "UBOT"


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded-shape payload from tests/fakes/payloads/slack/."""
    return copy.deepcopy(json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8")))


def signature_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over `v0:<timestamp>:<raw body>` with the signing secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Reply:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class SlackSide:
    """Sends what Slack sends to the app's request URL."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, secret: str = SECRET) -> None:
        self._session, self.url, self._secret = session, url, secret

    async def post(
        self, body: str, *, content_type: str, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = {"Content-Type": content_type, **signature_headers(body, secret=self._secret, timestamp=timestamp)}
        async with self._session.post(self.url, data=body.encode(), headers=sent | (headers or {})) as response:
            return Reply(response.status, await response.text())

    async def command(self, command: str, text: str, *, response_url: str, **fields: str) -> Reply:
        form = payload("slash_command") | {"command": command, "text": text, "response_url": response_url} | fields
        return await self.post(urlencode(form), content_type="application/x-www-form-urlencoded")

    async def event(self, body: dict[str, Any], *, retry_num: int | None = None) -> Reply:
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return await self.post(json.dumps(body), content_type="application/json", headers=headers)

    async def interaction(self, body: dict[str, Any]) -> Reply:
        form = urlencode({"payload": json.dumps(body)})
        return await self.post(form, content_type="application/x-www-form-urlencoded")


def reaction(name: str, *, ts: str, event_id: str, user: str = USER, removed: bool = False) -> dict[str, Any]:
    body = payload("reaction_added")
    body["event_id"] = event_id
    body["event"] |= {"reaction": name, "user": user, "type": "reaction_removed" if removed else "reaction_added"}
    body["event"]["item"]["ts"] = ts
    return body


def button(action_id: str, paper_id: str, *, response_url: str, message_ts: str = "1700000001.000001") -> dict:
    body = payload("block_actions")
    body["actions"][0] |= {"action_id": action_id, "value": paper_id}
    body["container"]["message_ts"] = body["message"]["ts"] = message_ts
    body["response_url"] = response_url
    return body


def submission(metadata: str, text: str) -> dict[str, Any]:
    body = payload("view_submission")
    body["view"]["private_metadata"] = metadata
    body["view"]["state"]["values"]["hp_summary"]["text"]["value"] = text
    return body


class Watched(ForwardingService):
    """A HotPapers seen through a window: records which use-cases were called, and can hold one until released.

    Holding `paper` proves the adapter answers Slack before the engine has finished (the 3-second ack).
    """

    def __init__(self, service: ChatService) -> None:
        super().__init__(service)
        self.called: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.finished: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    async def wait_finished(self, name: str, count: int) -> None:
        """Wait (at most WAIT seconds) until `count` calls to `name` have returned or raised."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: self.finished[name] >= count)

    async def _forward(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        self.called.append(name)
        try:
            if name in self.gates:
                await self.gates[name].wait()
            return await call()
        finally:
            async with self._changed:
                self.finished[name] += 1
                self._changed.notify_all()


@dataclass
class Harness:
    server: SlackServer
    slack: SlackSide
    fake: FakeSlack
    http: aiohttp.ClientSession


@asynccontextmanager
async def serving(
    service: ChatService,
    fake: FakeSlack,
    *,
    engine: AsyncEngine | None = None,
    secrets: Secrets | None = None,
    **table: Any,
) -> AsyncIterator[Harness]:
    """The adapter's real server for `service`, talking to `fake`; `table` overrides `[slack]` keys. `engine`: the
    app's database engine (what OAuth installs are stored on)."""
    local = {"enabled": True, "host": "127.0.0.1", "port": 0, "api_url": fake.api_url}
    unpaced = {"post_burst": 100, "posts_per_second": 1000.0}  # the fake's default rate is generous too
    settings = Settings.parse(local | unpaced | table)
    if secrets is None:
        token = next(iter(fake.workspaces), None) or fake.add_workspace(TEAM).bot_token
        secrets = Secrets(signing_secret=SECRET, bot_token=token)
    server = SlackServer(service, settings, secrets, engine=engine)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Harness(server, SlackSide(http, server.url + settings.events_path), fake, http)
    finally:
        await server.stop()


def card(
    *,
    title: str = "A paper",
    abstract: str = "An abstract.",
    authors: tuple[str, ...] = ("Ada Lovelace",),
    summary: str = "A summary.",
    author: str | None = None,
    why: tuple[str, ...] = (),
) -> PaperCard:
    """A card from (possibly hostile) strings, for renderer tests: tests.fakes.cards with these defaults."""
    return any_card(
        title=title, abstract=abstract, authors=authors, summary=summary, author=author, why=why, categories=("cs.LG",)
    )


def with_roles(fake: FakeSlack) -> None:
    """Who is who in #ml-papers: `USER` (alice) an ordinary member, UADMIN a workspace admin, UMAKER its creator."""
    fake.users = {
        USER: {"id": USER, "name": "alice", "is_admin": False, "is_owner": False},
        "UADMIN": {"id": "UADMIN", "name": "root", "is_admin": True, "is_owner": False},
        "UMAKER": {"id": "UMAKER", "name": "maker", "is_admin": False, "is_owner": False},
    }
    fake.conversations = {CHANNEL: {"id": CHANNEL, "name": "ml-papers", "creator": "UMAKER", "is_private": False}}
