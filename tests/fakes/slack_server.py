"""A loopback fake of the Slack Web API, response URLs and the Socket Mode WebSocket, strict where Slack is.

The real slack_sdk / slack-bolt talk to it through `AsyncWebClient(base_url=fake.api_url)`. It checks what Slack
checks and a formatter bug would trip over: the bearer token (or HTTP Basic client credentials for
oauth.v2.access), form vs JSON bodies, Block Kit limits (50 blocks, 3000 characters a section, 150 a header, …)
answered with `invalid_blocks`, and 429 + Retry-After on demand. Every call is recorded for assertions.

As hostile as Slack (issue 12): `faults` (tests/fakes/faults.FaultPlan keyed by the Web API method name) switches any
method into "5xx" (an HTML 5xx), "reset", "slow", "lost" (done, then a 5xx or a reset), "ratelimited"/"429" (HTTP 429
+ Retry-After) or any Slack error code (`{"ok": false, "error": code}` with HTTP 200; "missing_scope" adds `needed`
and `provided`). Channels added with `add_channel` can be archived or not joined (`is_archived`, `not_in_channel`),
tokens lack scopes with `set_scopes` (`missing_scope`), and `post_rate` limits chat.postMessage per channel.
Idempotency as Slack offers it (issue 13): chat.postMessage keeps `metadata`, conversations.history shows it only
with `include_all_metadata`; chat.update and chat.delete act on the stored messages.
Threads, events and buttons (issues 18, 19; tests/fakes/spec/README.md): replies stored per thread and
conversations.replies; `subscribe_app` sets the app's bot events and request URL, and people's messages (`say`),
deletions (`delete`), the app's own posts, updates and deletions, and button clicks (`click`) are delivered to the
app, signed over HTTP or as Socket Mode envelopes, when its subscriptions and scopes allow.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import itertools
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDictProxy

from tests.fakes.faults import Fault, FaultPlan, reset_connection

WAIT = 5.0  # seconds a test waits for something the app does in the background
PERSON = "U222"  # who says, deletes and clicks unless a test names someone else
# Block Kit limits (docs.slack.dev reference/block-kit; slack_sdk/models/blocks/blocks.py validators).
MAX_BLOCKS, MAX_VIEW_BLOCKS, SECTION_TEXT, HEADER_TEXT, FIELD_TEXT = 50, 100, 3000, 150, 2000
CONTEXT_ELEMENTS, ACTION_ELEMENTS, BUTTON_TEXT, BUTTON_VALUE, BLOCK_ID = 10, 25, 75, 2000, 255
DEFAULT_SCOPES = frozenset(
    "commands chat:write reactions:read channels:history groups:history channels:join channels:read groups:read "
    "users:read".split()
)
"""What a bot token of the fake may do unless a test takes some away with `set_scopes`."""
GENEROUS_POST_RATE = (1000, 1000.0)
REALISTIC_POST_RATE = (3, 1.0)
"""chat.postMessage per channel: (burst, messages per second refilled). Slack: "1 per second, short bursts allowed"
(docs.slack.dev rate limits); tests opt in to the realistic one."""
_HTTP_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_NEEDED = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
    "conversations.join": "channels:join",
    "conversations.info": "channels:read",
    "users.info": "users:read",
}


@dataclass(frozen=True, slots=True)
class Workspace:
    team_id: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    team_name: str = "Test Team"
    domain: str = "testteam"
    """The workspace's subdomain: `https://<domain>.slack.com/` (auth.test's `url`, chat.getPermalink's links)."""
    app_id: str = "A111"
    enterprise_id: str | None = None
    """Set for an Enterprise Grid workspace (an install in one of its workspaces, or org-wide)."""
    is_enterprise_install: bool = False
    """An org-wide install: one token for every workspace of the enterprise (Slack stores it without a team)."""


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request to /api/<method>: the parsed arguments, the token it carried and what the fake answered."""

    method: str
    args: dict[str, Any]
    token: str | None
    headers: CIMultiDictProxy[str]
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass(frozen=True, slots=True)
class ResponseUrlPost:
    hook: str
    body: dict[str, Any]
    status: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event or interaction the fake delivered to the app: how (`events_api` / `interactive`), the body, and the
    app's answer (the HTTP status, or 200 for a Socket Mode ack, with its body or ack frame)."""

    kind: str
    body: dict[str, Any]
    status: int
    answer: Any

    @property
    def event(self) -> dict[str, Any]:
        return dict(self.body.get("event") or {})


@dataclass(slots=True)
class _Socket:
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ws: web.WebSocketResponse | None = None
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


TRIGGER_LIFETIME = 3.0  # seconds a trigger_id can open a modal
RESPONSE_URL_USES, RESPONSE_URL_LIFETIME = 5, 30 * 60.0  # a response_url takes 5 answers within 30 minutes


class FakeSlack:
    def __init__(
        self,
        *,
        client_id: str = "1111.2222",
        client_secret: str = "client-secret",
        clock: Callable[[], float] = time.monotonic,
        post_rate: tuple[int, float] = GENEROUS_POST_RATE,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.clock = clock
        self.post_rate = post_rate
        """chat.postMessage per channel: (burst, refill per second); beyond it `ratelimited` + Retry-After."""
        self.faults = FaultPlan()
        self.scopes: dict[str, set[str]] = {}  # token -> granted scopes (DEFAULT_SCOPES when absent)
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> its visible messages, oldest first
        self.deleted: list[dict[str, Any]] = []
        self.posted: Counter[str] = Counter()  # channel -> messages ever posted there by chat.postMessage
        self._post_buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, when)
        self.rotation = False
        """Token rotation on (the app's setting): installs get an expiring token plus a refresh token."""
        self.token_lifetime = 12 * 3600.0  # Slack's rotating tokens live 12 hours
        self.expiry: dict[str, float] = {}  # rotating access token -> when it expires (self.clock)
        self.refresh_tokens: dict[str, Workspace] = {}
        self._issued = itertools.count(1)
        self.triggers: dict[str, float] = {}  # trigger ids handed out -> when
        self.hooks: dict[str, tuple[float, int]] = {}  # response_url hooks handed out -> (when, answers taken)
        self.workspaces: dict[str, Workspace] = {}
        self.app_tokens: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.oauth_codes: dict[str, Workspace] = {}
        self.calls: list[ApiCall] = []
        self.responses: list[ResponseUrlPost] = []
        self.socket = _Socket()
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, thread ts) -> replies, oldest first
        self.bot_events: set[str] = set()
        """The app's bot event subscriptions (its manifest's settings.event_subscriptions.bot_events): only these are
        delivered, e.g. "message.channels", "message.groups", "reaction_added"."""
        self.request_url: str | None = None
        self.interactivity_url: str | None = None
        self.signing_secret = ""
        self.deliveries: list[Delivery] = []
        self._delivering = asyncio.Lock()  # one delivery at a time, in the order they happened
        self._background: set[asyncio.Task[Any]] = set()
        self._event_ids = itertools.count(1)
        self._throttled: dict[str, list[int]] = {}
        self._ts = itertools.count(1)
        self._envelopes = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response_url/{hook}", self._response_url)
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.socket.ws is not None:
            await self.socket.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def add_workspace(
        self, team_id: str = "T111", *, token: str = "xoxb-T111", bot_user: str = "UBOT", domain: str = "testteam"
    ) -> Workspace:
        workspace = Workspace(
            team_id=team_id, bot_token=token, bot_user_id=bot_user, bot_id=f"B{team_id}", domain=domain
        )
        self.workspaces[token] = workspace
        return workspace

    def add_channel(
        self,
        channel_id: str,
        name: str = "papers",
        *,
        member: bool = True,
        private: bool = False,
        archived: bool = False,
        creator: str = "UCREATOR",
        team: str = "T111",
    ) -> dict[str, Any]:
        """A conversation in the shape conversations.info answers; the bot is in it unless `member=False`. Channels
        nobody added are treated as public channels the bot is in (the lenient default older tests rely on)."""
        channel = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": not private,
            "is_group": private,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "is_archived": archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "is_member": member,
            "created": 1700000000,
            "creator": creator,
            "unlinked": 0,
            "is_frozen": False,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
            "context_team_id": team,
            "updated": 1700000000000,
            "parent_conversation": None,
            "pending_shared": [],
            "pending_connected_team_ids": [],
            "shared_team_ids": [team],
        }
        self.conversations[channel_id] = channel
        return channel

    def set_scopes(self, token: str, *scopes: str) -> None:
        """Grant this bot token exactly these scopes (e.g. without channels:history)."""
        self.scopes[token] = set(scopes)

    def add_message(self, channel: str, text: str, *, user: str = "UHUMAN", **fields: Any) -> dict[str, Any]:
        """A message someone else posted (the bot may not update or delete it)."""
        message = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": self._next_ts(),
            "team": "T111",
            "blocks": _rich_text(text),
        } | fields
        self.history.setdefault(channel, []).append(message)
        return message

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """What is visible in a channel now (deleted messages gone), oldest first, metadata included."""
        return list(self.history.get(channel, []))

    def response_url(self, hook: str | int) -> str:
        """A response_url issued now (as with the request that carries it): 5 answers within 30 minutes."""
        self.hooks.setdefault(str(hook), (self.clock(), 0))
        return f"{self.url}/response_url/{hook}"

    def trigger_id(self) -> str:
        """A trigger_id issued now (as with the request that carries it): it opens a modal within 3 seconds."""
        trigger = f"{len(self.triggers) + 1}.{int(self.clock() * 1000)}.fake"
        self.triggers[trigger] = self.clock()
        return trigger

    def throttle(self, method: str, *, times: int = 1, retry_after: int = 0) -> None:
        """The next `times` calls to `method` get 429 with this Retry-After."""
        self._throttled.setdefault(method, []).extend([retry_after] * times)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait (at most WAIT seconds) until `condition()` holds after some request arrived; no sleeping, no polling."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(condition)

    async def wait_for_calls(self, method: str, count: int = 1) -> list[ApiCall]:
        await self.wait_for(lambda: len(self.calls_to(method)) >= count)
        return self.calls_to(method)

    async def wait_for_responses(self, count: int = 1) -> list[ResponseUrlPost]:
        await self.wait_for(lambda: len(self.responses) >= count)
        return self.responses

    async def send_envelope(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> dict[str, Any]:
        """Push an envelope to the connected client and return its ack frame."""
        await asyncio.wait_for(self.socket.connected.wait(), WAIT)
        assert self.socket.ws is not None
        envelope_id = f"env-{next(self._envelopes)}"
        ack = asyncio.get_running_loop().create_future()
        self.socket.acks[envelope_id] = ack
        frame: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        frame["accepts_response_payload"] = kind != "events_api"
        if kind == "events_api":
            frame |= {"retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""}
        await self.socket.ws.send_str(json.dumps(frame))
        return await asyncio.wait_for(ack, WAIT)

    # -- the app's subscriptions and the people in the channels (test drivers) -----------------------------------

    def subscribe_app(
        self,
        bot_events: Any,
        *,
        request_url: str | None = None,
        signing_secret: str = "",
        interactivity_url: str | None = None,
    ) -> None:
        """Configure the app as its manifest would: the bot events it subscribes to, and where Slack POSTs them (signed
        with `signing_secret`) and interactions (`interactivity_url`, default the same URL). In Socket Mode (a socket
        is connected) both arrive as envelopes instead."""
        self.bot_events = set(bot_events)
        self.request_url, self.signing_secret = request_url, signing_secret
        self.interactivity_url = interactivity_url or request_url

    async def say(
        self,
        channel: str,
        text: str,
        *,
        user: str = PERSON,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Someone posts (in a thread when `thread_ts` is given): stored as Slack stores it, and a `message` event is
        delivered if the app subscribes to message.channels (message.groups for a private channel) and the token has
        channels:history (groups:history). `bot_id`: another bot posts (subtype bot_message, no user)."""
        workspace = self._workspace(token)
        ts = self._next_ts()
        if bot_id is not None:
            message = {"type": "message", "subtype": "bot_message", "text": text, "ts": ts, "bot_id": bot_id}
            message["username"] = "otherbot"
        else:
            message = {"type": "message", "user": user, "text": text, "ts": ts, "team": workspace.team_id}
            message["client_msg_id"] = str(uuid.UUID(int=int(ts.replace(".", ""))))
        message["blocks"] = _rich_text(text)
        if thread_ts is None:
            self.history.setdefault(channel, []).append(message)
        else:
            self._add_reply(channel, thread_ts, message)
        await self.deliver_event(self._message_event(channel, message), token=token)
        return message

    async def delete(self, channel: str, ts: str, *, token: str | None = None) -> Delivery | None:
        """Someone (the author or an admin) deletes a message: it leaves the store and a `message` event with subtype
        message_deleted (deleted_ts, previous_message with user and thread_ts) is delivered if subscribed."""
        message = self._remove(channel, ts)
        return await self.deliver_event(self._deleted_event(channel, message), token=token)

    async def click(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = PERSON,
        value: str | None = None,
        token: str | None = None,
    ) -> Delivery:
        """A person clicks a button of a message (in its blocks, with this action_id and, when given, this value): a
        block_actions payload as Slack sends it, delivered to the interactivity URL (or the socket)."""
        workspace = self._workspace(token)
        message = self._find(channel, ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel}")
        block_id, button = _button_in(message.get("blocks") or [], action_id, value)
        name = str(self.users.get(user, {}).get("name") or user.lower())
        container = {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False}
        if message.get("thread_ts") and message["thread_ts"] != ts:
            container["thread_ts"] = message["thread_ts"]
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "text": button["text"],
            "value": button.get("value", ""),
            "type": "button",
            "action_ts": f"{int(time.time())}.{next(self._ts):06d}",
        } | ({"style": button["style"]} if "style" in button else {})
        body = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": workspace.team_id},
            "api_app_id": workspace.app_id,
            "token": "verification-token-unused",
            "container": container,
            "trigger_id": self.trigger_id(),
            "team": {"id": workspace.team_id, "domain": workspace.domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.conversations.get(channel, {}).get("name", "papers")},
            "message": _public(message),
            "state": {"values": {}},
            "response_url": self.response_url(f"click-{len(self.deliveries) + 1}"),
            "actions": [action],
        }
        return await self._deliver("interactive", body)

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread's replies as stored now (deleted ones gone), oldest first."""
        return list(self.replies.get((channel, ts), []))

    async def deliver_event(self, event: dict[str, Any], *, token: str | None = None) -> Delivery | None:
        """Deliver an Events API event in Slack's event_callback envelope, if the app subscribes to it and its token
        has the scope the subscription needs; None when Slack would not send it."""
        workspace = self._workspace(token)
        subscription, scope = self._subscription(event)
        if subscription not in self.bot_events or (scope and scope not in self._scopes(workspace.bot_token)):
            return None
        body = {
            "token": "verification-token-unused",
            "team_id": workspace.team_id,
            "context_team_id": workspace.team_id,
            "api_app_id": workspace.app_id,
            "type": "event_callback",
            "event_id": f"Ev{next(self._event_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": workspace.enterprise_id,
                    "team_id": workspace.team_id,
                    "user_id": workspace.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": workspace.is_enterprise_install,
                }
            ],
            "is_ext_shared_channel": False,
            "event": event,
        }
        return await self._deliver("events_api", body)

    async def wait_for_deliveries(self, count: int = 1) -> list[Delivery]:
        await self.wait_for(lambda: len(self.deliveries) >= count)
        return self.deliveries

    def _subscription(self, event: dict[str, Any]) -> tuple[str, str | None]:
        """The bot event subscription an event falls under and the scope it needs (Events API reference)."""
        kind = str(event.get("type"))
        if kind == "message":
            channel_type = event.get("channel_type", "channel")
            name = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}[channel_type]
            return f"message.{name}", f"{name}:history"
        return kind, "reactions:read" if kind.startswith("reaction_") else None

    def _channel_type(self, channel: str) -> str:
        return "group" if self.conversations.get(channel, {}).get("is_private") else "channel"

    def _message_event(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        event = _public(message) | {"channel": channel, "event_ts": message["ts"]}
        return event | {"channel_type": self._channel_type(channel)}

    def _deleted_event(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        previous = {k: v for k, v in _public(message).items() if k not in ("blocks", "client_msg_id", "team")}
        event = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel, "ts": ts}
        event |= {"deleted_ts": message["ts"], "event_ts": ts, "previous_message": previous}
        return event | {"channel_type": self._channel_type(channel)}

    def _announce(self, event: dict[str, Any], token: str) -> None:
        """What the app did itself is delivered back to it too (Slack sends an app its own messages), in the
        background, after the answer: the app must recognise its own messages."""
        if self.bot_events and (self.request_url or self.socket.connected.is_set()):
            task = asyncio.get_running_loop().create_task(self.deliver_event(event, token=token))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _deliver(self, kind: str, body: dict[str, Any]) -> Delivery:
        async with self._delivering:
            if self.socket.ws is not None and self.socket.connected.is_set():
                delivery = Delivery(kind, body, 200, await self.send_envelope(kind, body))
            else:
                delivery = await self._post_to_app(kind, body)
        async with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        return delivery

    async def _post_to_app(self, kind: str, body: dict[str, Any]) -> Delivery:
        """POST to the app's request URL, signed as Slack signs (v0 HMAC-SHA256 of `v0:<timestamp>:<body>`)."""
        url = self.request_url if kind == "events_api" else self.interactivity_url
        if not url:
            raise RuntimeError("the app has no request URL: call subscribe_app(..., request_url=...) first")
        if kind == "events_api":
            raw, content_type = json.dumps(body), "application/json"
        else:
            raw, content_type = urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
        stamp = str(int(time.time()))
        digest = hmac.new(self.signing_secret.encode(), f"v0:{stamp}:{raw}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        async with aiohttp.ClientSession() as http, http.post(url, data=raw.encode(), headers=headers) as answer:
            return Delivery(kind, body, answer.status, await answer.text())

    def _workspace(self, token: str | None) -> Workspace:
        if token is not None:
            return self.workspaces[token]
        if not self.workspaces:
            self.add_workspace()
        return next(iter(self.workspaces.values()))

    def _add_reply(self, channel: str, thread_ts: str, message: dict[str, Any]) -> str:
        """Store a reply in its thread (a reply's ts stands for its thread's); the parent shows the thread's counts."""
        parent = self._find(channel, thread_ts)
        if parent is not None and parent.get("thread_ts") and parent["thread_ts"] != parent["ts"]:
            thread_ts, parent = parent["thread_ts"], self._find(channel, parent["thread_ts"])
        message["thread_ts"] = thread_ts
        if parent is not None:
            message["parent_user_id"] = parent.get("user") or parent.get("bot_id", "")
        self.replies.setdefault((channel, thread_ts), []).append(message)
        self._recount(channel, thread_ts)
        return thread_ts

    def _recount(self, channel: str, thread_ts: str) -> None:
        parent = next((m for m in self.history.get(channel, []) if m["ts"] == thread_ts), None)
        if parent is None:
            return
        replies = self.replies.get((channel, thread_ts), [])
        for key in ("thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply", "subscribed"):
            parent.pop(key, None)
        if replies:
            users = list(dict.fromkeys(r["user"] for r in replies if r.get("user")))  # a bot_message has none
            parent |= {"thread_ts": thread_ts, "reply_count": len(replies), "reply_users_count": len(users)}
            parent |= {"latest_reply": replies[-1]["ts"], "subscribed": False} | (
                {"reply_users": users[:5]} if users else {}
            )

    def _remove(self, channel: str, ts: str) -> dict[str, Any]:
        """Take a message out of the store (history and, for a reply, its thread); recorded in `deleted`."""
        message = self._find(channel, ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel}")
        if message in self.history.get(channel, []):
            self.history[channel].remove(message)
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            self.replies[(channel, thread_ts)].remove(message)
            self._recount(channel, thread_ts)
        self.deleted.append(message | {"channel": channel})
        return message

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("ticket") != "t-1":
            raise web.HTTPForbidden()
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.socket.ws = ws
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}, "debug_info": {}}
        await ws.send_str(json.dumps(hello))
        self.socket.connected.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                future = self.socket.acks.pop(data.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(data)
        self.socket.connected.clear()
        return ws

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, body_error = await _arguments(request)
        token = _bearer(request) or (args.get("token") if request.content_type != "application/json" else None)
        status, answer, headers = 200, {"ok": True}, {}
        fault = self.faults.take(method)
        if fault is not None and fault.mode == "slow":
            await asyncio.sleep(float(fault.param("delay", 1.0)))
        if fault is not None and fault.mode not in ("slow", "lost"):
            if fault.mode == "reset":
                return await self._reset(request, method, args, token)
            if fault.mode == "5xx":
                return await self._server_error(request, method, args, token, int(fault.param("status", 500)))
            status, answer, headers = self._faulty(fault, method, token)
        elif self._throttled.get(method):
            retry_after = self._throttled[method].pop(0)
            status, answer, headers = 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
        elif body_error:
            answer = {"ok": False, "error": body_error}
        elif method == "chat.postMessage" and (wait := self.post_wait(str(args.get("channel", "")))) is not None:
            status, answer, headers = 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        else:
            answer = self._answer(method, args, token, request)
        if fault is not None and fault.mode == "lost":  # done on Slack; the app never learns it
            if fault.param("answer", "5xx") == "reset":
                return await self._reset(request, method, args, token)
            return await self._server_error(request, method, args, token, int(fault.param("status", 500)))
        if token in {w.bot_token for w in self.workspaces.values()}:
            headers = {"X-OAuth-Scopes": ",".join(sorted(self._scopes(token))), **headers}
        await self._record(ApiCall(method, args, token, request.headers, status, answer))
        return web.json_response(answer, status=status, headers=headers, content_type="application/json")

    async def _record(self, call: ApiCall) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _reset(self, request: web.Request, method: str, args: dict[str, Any], token: str | None) -> Any:
        await self._record(ApiCall(method, args, token, request.headers, 0, {}))
        reset_connection(request)
        raise asyncio.CancelledError  # no answer at all: aiohttp drops the handler, the client sees a reset

    async def _server_error(
        self, request: web.Request, method: str, args: dict[str, Any], token: str | None, status: int
    ) -> web.Response:
        """Slack's edge answers a 5xx with an HTML page, not the Web API's JSON."""
        await self._record(ApiCall(method, args, token, request.headers, status, {}))
        reason = _HTTP_REASONS.get(status, "Server Error")
        page = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        return web.Response(status=status, text=page, content_type="text/html")

    def _faulty(self, fault: Fault, method: str, token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        if fault.mode in ("ratelimited", "429"):
            retry_after = str(int(fault.param("retry_after", 1)))
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after}
        answer: dict[str, Any] = {"ok": False, "error": fault.mode}
        if fault.mode == "missing_scope":
            answer["needed"] = fault.param("needed", _NEEDED.get(method, "chat:write"))
            answer["provided"] = fault.param("provided", ",".join(sorted(self._scopes(token))))
            return 200, answer, {"X-Accepted-OAuth-Scopes": answer["needed"]}
        return 200, answer, {}

    def _scopes(self, token: str | None) -> set[str]:
        return self.scopes.get(token or "", set(DEFAULT_SCOPES))

    def post_wait(self, channel: str) -> int | None:
        """None when this post fits the channel's rate (a token is taken), else the whole seconds to wait."""
        burst, rate = self.post_rate
        now = self.clock()
        tokens, then = self._post_buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - then) * rate)
        if tokens < 1.0:
            self._post_buckets[channel] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
        self._post_buckets[channel] = (tokens - 1.0, now)
        return None

    def _missing_scope(self, token: str | None, needed: str) -> dict[str, Any] | None:
        provided = self._scopes(token)
        if needed in provided:
            return None
        return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(sorted(provided))}

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1700000000 + n}.{n:06d}"

    def _answer(self, method: str, args: dict[str, Any], token: str | None, request: web.Request) -> dict[str, Any]:
        if method == "oauth.v2.access":
            return self._oauth_access(args, request)
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": f"ws://127.0.0.1:{self.url.rsplit(':', 1)[1]}/link/?ticket=t-1&app_id=A111"}
        if not token:
            return {"ok": False, "error": "not_authed"}
        workspace = self.workspaces.get(token)
        if workspace is None:
            return {"ok": False, "error": "invalid_auth"}
        if token in self.expiry and self.clock() >= self.expiry[token]:
            return {"ok": False, "error": "token_expired"}
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, workspace, args)

    def _oauth_access(self, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        client_id, client_secret = _basic(request) or (args.get("client_id"), args.get("client_secret"))
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        if args.get("grant_type") == "refresh_token":
            workspace = self.refresh_tokens.get(str(args.get("refresh_token", "")))
            if workspace is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            return self._grant(workspace, refresh_token=str(args["refresh_token"]))
        workspace = self.oauth_codes.pop(str(args.get("code", "")), None)
        if workspace is None:
            return {"ok": False, "error": "invalid_code"}
        answer = self._grant(workspace)
        return answer | {"authed_user": {"id": "UINSTALLER"}}

    def _grant(self, workspace: Workspace, *, refresh_token: str | None = None) -> dict[str, Any]:
        """oauth.v2.access's answer: the bot token (a fresh expiring one when rotation is on), team, enterprise."""
        token = workspace.bot_token
        answer: dict[str, Any] = {}
        if self.rotation:
            n = next(self._issued)
            token = f"xoxe.xoxb-{n}-{workspace.team_id}"
            refresh_token = refresh_token or f"xoxe-1-{workspace.team_id}-{n}"
            self.expiry[token] = self.clock() + self.token_lifetime
            self.refresh_tokens[refresh_token] = workspace
            answer = {"refresh_token": refresh_token, "expires_in": int(self.token_lifetime)}
        self.workspaces[token] = workspace
        team = None if workspace.is_enterprise_install else {"id": workspace.team_id, "name": workspace.team_name}
        enterprise = {"id": workspace.enterprise_id, "name": "Grid Org"} if workspace.enterprise_id else None
        granted = {
            "ok": True,
            "app_id": workspace.app_id,
            "token_type": "bot",
            "access_token": token,
            "scope": "commands,chat:write,reactions:read",
            "bot_user_id": workspace.bot_user_id,
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": workspace.is_enterprise_install,
        }
        return granted | answer

    def _auth_test(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        # An org-wide token answers for the enterprise: its team_id is the enterprise's id.
        team_id = workspace.enterprise_id if workspace.is_enterprise_install else workspace.team_id
        return {
            "ok": True,
            "url": f"https://{workspace.domain}.slack.com/",
            "team": workspace.team_name,
            "user": "hotpapers",
            "team_id": team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "enterprise_id": workspace.enterprise_id,
            "is_enterprise_install": workspace.is_enterprise_install,
        }

    def _post_message(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel", ""))
        refused = self._missing_scope(workspace.bot_token, "chat:write") or _message_errors(args)
        refused = refused or self._channel_refusal(channel_id, posting=True) or _metadata_errors(args)
        if refused:
            return {"ok": False, "error": refused} if isinstance(refused, str) else refused
        text, blocks = str(args.get("text", "")), _decoded(args.get("blocks"))
        message = {
            "type": "message",
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": workspace.app_id,
            "text": text,
            "ts": self._next_ts(),
            "team": workspace.team_id,
            "bot_profile": _bot_profile(workspace),
        }
        message["blocks"] = _with_block_ids(blocks) if blocks else _rich_text(text)
        metadata = _decoded(args.get("metadata"))
        if metadata:
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload", {}),
            }
        if args.get("thread_ts"):
            thread_ts = self._add_reply(channel_id, str(args["thread_ts"]), message)
            if _truthy(args.get("reply_broadcast")):  # also shown in the channel, with its thread's root
                root = self._find(channel_id, thread_ts)
                message["subtype"] = "thread_broadcast"
                message["root"] = _public({k: v for k, v in (root or {}).items() if k != "root"})
                self.history.setdefault(channel_id, []).append(message)
        else:
            self.history.setdefault(channel_id, []).append(message)
        self.posted[channel_id] += 1
        self._announce(self._message_event(channel_id, message), workspace.bot_token)
        return {"ok": True, "channel": channel_id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _channel_refusal(self, channel_id: str, *, posting: bool = False) -> str | None:
        """Slack's answer for a conversation the bot cannot use; None for one it can (or one no test described)."""
        channel = self.conversations.get(channel_id)
        if channel is None:
            return None
        if posting and channel.get("is_archived"):
            return "is_archived"
        if channel.get("is_member") is False:
            return "not_in_channel"
        return None

    def _find(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """A message in a channel or in one of its threads."""
        found = next((m for m in self.history.get(channel_id, []) if m["ts"] == ts), None)
        threads = (replies for (channel, _), replies in self.replies.items() if channel == channel_id)
        return found or next((m for replies in threads for m in replies if m["ts"] == ts), None)

    def _own_message(
        self, workspace: Workspace, args: dict[str, Any], *, refusal: str
    ) -> tuple[str, str, dict[str, Any]] | dict[str, Any]:
        """(channel, ts, message) of one of the bot's own messages, or the error Slack answers instead."""
        channel_id, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        refused = self._missing_scope(workspace.bot_token, "chat:write")
        if refused:
            return refused
        message = self._find(channel_id, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found" if channel_id else "channel_not_found"}
        if message.get("bot_id") != workspace.bot_id:
            return {"ok": False, "error": refusal}
        return channel_id, ts, message

    def _chat_update(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        found = self._own_message(workspace, args, refusal="cant_update_message")
        if isinstance(found, dict):
            return found
        channel_id, ts, message = found
        problem = _message_errors(args) or _metadata_errors(args)
        if problem:
            return {"ok": False, "error": problem}
        previous = _public(message)
        text, blocks = str(args.get("text", "")), _decoded(args.get("blocks"))
        message.update(text=text, blocks=_with_block_ids(blocks) if blocks else _rich_text(text))
        message["edited"] = {"user": workspace.bot_user_id, "ts": self._next_ts()}
        metadata = _decoded(args.get("metadata"))
        if metadata:
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload", {}),
            }
        shown = {k: v for k, v in message.items() if k in _UPDATED_FIELDS}
        changed = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel_id}
        stamp = self._next_ts()
        changed |= {"ts": stamp, "event_ts": stamp, "message": _public(message), "previous_message": previous}
        self._announce(changed | {"channel_type": self._channel_type(channel_id)}, workspace.bot_token)
        return {"ok": True, "channel": channel_id, "ts": ts, "text": text, "message": copy.deepcopy(shown)}

    def _chat_delete(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        found = self._own_message(workspace, args, refusal="cant_delete_message")
        if isinstance(found, dict):
            return found
        channel_id, ts, message = found
        self._remove(channel_id, ts)
        self._announce(self._deleted_event(channel_id, message), workspace.bot_token)
        return {"ok": True, "channel": channel_id, "ts": ts}

    def _get_permalink(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        """chat.getPermalink (no scope needed): the workspace's own link to a message, `https://<domain>.slack.com/
        archives/<channel>/p<ts without the dot>`; a reply's link adds `?thread_ts=<parent>&cid=<channel>` (as
        Slack's do). A channel nobody posted in nor added is channel_not_found; a ts that is no message (or a deleted
        one) is message_not_found."""
        channel_id, ts = str(args.get("channel", "")), str(args.get("message_ts", ""))
        if not channel_id or (channel_id not in self.conversations and channel_id not in self.history):
            return {"ok": False, "error": "channel_not_found"}
        message = self._find(channel_id, ts) if ts else None
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{workspace.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
        return {"ok": True, "channel": channel_id, "permalink": link}

    def _conversations_replies(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies oldest first (cursor pagination, oldest/latest bounds on the
        replies). A ts that is no message of the channel is thread_not_found; a reply's ts stands for its thread."""
        channel_id, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        private = bool(self.conversations.get(channel_id, {}).get("is_private"))
        refused = self._missing_scope(workspace.bot_token, "groups:history" if private else "channels:history")
        refusal = self._channel_refusal(channel_id)
        if refused or refusal:
            return refused or {"ok": False, "error": refusal}
        message = self._find(channel_id, ts) if ts else None
        if message is None:
            return {"ok": False, "error": "thread_not_found"}
        root_ts = str(message.get("thread_ts") or ts)
        parent = self._find(channel_id, root_ts)
        paging = _paging(args, most=1000, default=1000)
        if isinstance(paging, dict):
            return paging
        limit, bounds, inclusive = paging
        replies = [m for m in self.replies.get((channel_id, root_ts), []) if _within(m["ts"], bounds, inclusive)]
        thread = ([parent] if parent is not None else []) + replies
        start = 0
        if args.get("cursor"):
            start = _cursor_start(str(args["cursor"]), thread)
            if start is None:
                return {"ok": False, "error": "invalid_cursor"}
        page, rest = thread[start : start + limit], thread[start + limit :]
        with_metadata = _truthy(args.get("include_all_metadata"))
        messages = [copy.deepcopy(m) if with_metadata else _public(m) for m in page]
        answer: dict[str, Any] = {"ok": True, "messages": messages, "has_more": bool(rest)}
        if rest:
            answer["response_metadata"] = {"next_cursor": _cursor(rest[0]["ts"])}
        return answer

    def _conversations_history(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel", ""))
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        private = bool(self.conversations.get(channel_id, {}).get("is_private"))
        refused = self._missing_scope(workspace.bot_token, "groups:history" if private else "channels:history")
        if refused:
            return refused
        refusal = self._channel_refusal(channel_id)
        if refusal:
            return {"ok": False, "error": refusal}
        paging = _paging(args, most=999, default=100)
        if isinstance(paging, dict):
            return paging
        limit, bounds, inclusive = paging
        newest_first = [m for m in reversed(self.history.get(channel_id, [])) if _within(m["ts"], bounds, inclusive)]
        start = 0
        if args.get("cursor"):
            start = _cursor_start(str(args["cursor"]), newest_first)
            if start is None:
                return {"ok": False, "error": "invalid_cursor"}
        page, rest = newest_first[start : start + limit], newest_first[start + limit :]
        with_metadata = _truthy(args.get("include_all_metadata"))
        messages = [
            copy.deepcopy(m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}) for m in page
        ]
        answer: dict[str, Any] = {
            "ok": True,
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if rest:
            answer["response_metadata"] = {"next_cursor": _cursor(rest[0]["ts"])}
        return answer

    def _views_open(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        view = _decoded(args.get("view"))
        trigger = str(args.get("trigger_id") or "")
        if not trigger:
            return {"ok": False, "error": "invalid_trigger_id"}
        if trigger in self.triggers and self.clock() - self.triggers.pop(trigger) > TRIGGER_LIFETIME:
            return {"ok": False, "error": "expired_trigger_id"}
        if not isinstance(view, dict) or view_errors(view):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": f"V{next(self._ts)}", "team_id": workspace.team_id, **view}}

    def _users_info(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        return _found("user", self.users.get(str(args.get("user", ""))))

    def _conversations_info(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        return _found("channel", self.conversations.get(str(args.get("channel", ""))))

    def _conversations_join(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.conversations.get(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.get("is_private"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        if channel.get("is_archived"):
            return {"ok": False, "error": "is_archived"}
        channel["is_member"] = True
        return {"ok": True, "channel": channel}

    def _post_ephemeral(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        problem = _message_errors(args) or (None if args.get("user") else "user_not_in_channel")
        if problem:
            return {"ok": False, "error": problem}
        return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000000"}

    async def _response_url(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        hook = request.match_info["hook"]
        issued, used = self.hooks.get(hook, (self.clock(), 0))
        self.hooks[hook] = (issued, used + 1)
        if request.content_type == "application/json":
            body = await request.json()
        if self.clock() - issued > RESPONSE_URL_LIFETIME:
            status, text = 404, "expired_url"
        elif used >= RESPONSE_URL_USES:
            status, text = 404, "used_url"
        elif request.content_type != "application/json":
            status, text = 400, "invalid_payload"
        else:
            problem = _message_errors({"channel": "response_url", **body})
            status, text = (400, problem) if problem else (200, "ok")
        async with self._changed:
            self.responses.append(ResponseUrlPost(request.match_info["hook"], body, status))
            self._changed.notify_all()
        return web.Response(status=status, text=text)


_METHODS: dict[str, Callable[[FakeSlack, Workspace, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "views.open": FakeSlack._views_open,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "users.info": FakeSlack._users_info,
    "conversations.info": FakeSlack._conversations_info,
    "conversations.join": FakeSlack._conversations_join,
    "conversations.history": FakeSlack._conversations_history,
    "chat.update": FakeSlack._chat_update,
    "chat.delete": FakeSlack._chat_delete,
    "chat.getPermalink": FakeSlack._get_permalink,
    "conversations.replies": FakeSlack._conversations_replies,
}
_UPDATED_FIELDS = ("type", "user", "bot_id", "app_id", "text", "blocks", "bot_profile")
"""What chat.update answers of the updated message (Web API reference; no ts, team, edited or thread fields)."""


def manifest_events(manifest: Path) -> set[str]:
    """The bot events an app manifest subscribes to (settings.event_subscriptions.bot_events), for `subscribe_app`."""
    import yaml

    loaded = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    return set(loaded["settings"]["event_subscriptions"]["bot_events"])


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Slack shows it in events and answers: a copy, without its metadata (shown only on
    request, `include_all_metadata`)."""
    return copy.deepcopy({k: v for k, v in message.items() if k != "metadata"})


def _button_in(blocks: list[Any], action_id: str, value: str | None) -> tuple[str, dict[str, Any]]:
    """(block_id, button) of the button with this action_id (and value) in actions blocks or section accessories."""
    for block in blocks:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block["accessory"]] if block.get("type") == "section" and "accessory" in block else []
        for element in candidates:
            same = element.get("type") == "button" and element.get("action_id") == action_id
            if same and (value is None or element.get("value") == value):
                return str(block.get("block_id", "")), element
    raise LookupError(f"no button {action_id!r} (value {value!r}) in the message: a person cannot click it")


def _found(kind: str, item: dict[str, Any] | None) -> dict[str, Any]:
    return {"ok": True, kind: item} if item else {"ok": False, "error": f"{kind}_not_found"}


def _message_errors(args: dict[str, Any]) -> str | None:
    """Slack's answers for a message it would refuse; None when it would post it."""
    if not args.get("channel"):
        return "channel_not_found"
    blocks = _decoded(args.get("blocks"))
    if not args.get("text") and not blocks:
        return "no_text"
    if len(str(args.get("text", ""))) > 40000:
        return "msg_too_long"
    if blocks is not None and (not isinstance(blocks, list) or block_errors(blocks)):
        return "invalid_blocks"
    return None


def _metadata_errors(args: dict[str, Any]) -> str | None:
    """Message metadata: an object with a string `event_type` and an object `event_payload`."""
    metadata = _decoded(args.get("metadata"))
    if metadata in (None, ""):
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        return "invalid_metadata_format"
    return None if isinstance(metadata.get("event_payload", {}), dict) else "invalid_metadata_format"


def _rich_text(text: str) -> list[dict[str, Any]]:
    """The blocks Slack makes of a message posted with text only: one rich_text block."""
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": _block_id(text), "elements": [section]}]


def _with_block_ids(blocks: Any) -> Any:
    """Slack gives every block without a block_id one of its own."""
    if not isinstance(blocks, list):
        return blocks
    return [
        b if not isinstance(b, dict) or "block_id" in b else b | {"block_id": _block_id(json.dumps(b))} for b in blocks
    ]


def _block_id(seed: str) -> str:
    return base64.b32encode(binascii.crc32(seed.encode()).to_bytes(4, "big")).decode()[:5]


def _bot_profile(workspace: Workspace) -> dict[str, Any]:
    icon = "https://a.slack-edge.com/80588/img/plugins/app/bot_{}.png"
    return {
        "id": workspace.bot_id,
        "app_id": workspace.app_id,
        "name": "hotpapers",
        "deleted": False,
        "updated": 1700000000,
        "team_id": workspace.team_id,
        "icons": {f"image_{n}": icon.format(n) for n in (36, 48, 72)},
    }


def _paging(
    args: dict[str, Any], *, most: int, default: int
) -> tuple[int, dict[str, float | None], bool] | dict[str, Any]:
    """`limit`, `oldest`/`latest` and `inclusive` of a history-like method, or the error Slack answers."""
    try:
        limit = max(1, min(most, int(args.get("limit") or default)))
    except ValueError:
        return {"ok": False, "error": "invalid_limit"}
    bounds: dict[str, float | None] = {}
    for name in ("oldest", "latest"):
        try:
            bounds[name] = float(args[name]) if args.get(name) not in (None, "") else None
        except ValueError:
            return {"ok": False, "error": f"invalid_ts_{name}"}
    return limit, bounds, _truthy(args.get("inclusive"))


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _within(ts: str, bounds: dict[str, float | None], inclusive: bool) -> bool:
    at, oldest, latest = float(ts), bounds.get("oldest"), bounds.get("latest")
    if oldest is not None and (at < oldest or (at == oldest and not inclusive)):
        return False
    return latest is None or at < latest or (at == latest and inclusive)


def _cursor(ts: str) -> str:
    """Slack's cursors are opaque; its history cursors happen to be base64 of "next_ts:<ts without the dot>"."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _cursor_start(cursor: str, newest_first: list[dict[str, Any]]) -> int | None:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    keys = [m["ts"].replace(".", "") for m in newest_first]
    prefix, _, key = decoded.partition(":")
    return keys.index(key) if prefix == "next_ts" and key in keys else None


async def _arguments(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Query string plus form or JSON body, as Slack reads them; a body of another type is an error."""
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args, None
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            body = json.loads(raw)
        except ValueError:
            return args, "invalid_json"
        return (args | body, None) if isinstance(body, dict) else (args, "invalid_json")
    if request.content_type == "application/x-www-form-urlencoded":
        return args | dict(parse_qsl(raw.decode(), keep_blank_values=True)), None
    return args, "invalid_form_data"


def _decoded(value: Any) -> Any:
    """Form bodies carry blocks and views as JSON strings; JSON bodies carry them as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _bearer(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _basic(request: web.Request) -> tuple[str, str] | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(credentials).decode().partition(":")
    return user, password


def block_errors(blocks: list[Any], *, limit: int = MAX_BLOCKS) -> list[str]:
    """Every way these blocks break Block Kit's rules (empty when Slack would accept them)."""
    errors = [f"{len(blocks)} blocks > {limit}"] if len(blocks) > limit else []
    for n, block in enumerate(blocks):
        errors += [f"block {n}: {problem}" for problem in _one_block(block)]
    return errors


def view_errors(view: dict[str, Any]) -> list[str]:
    errors = [] if view.get("type") in ("modal", "home") else ["view type"]
    errors += _text(view.get("title"), 24, plain=True, name="title")
    errors += [] if len(str(view.get("private_metadata", ""))) <= 3000 else ["private_metadata > 3000"]
    return errors + block_errors(view.get("blocks") or [], limit=MAX_VIEW_BLOCKS)


def _one_block(block: Any) -> list[str]:
    if not isinstance(block, dict):
        return ["not an object"]
    kind, errors = block.get("type"), []
    if len(str(block.get("block_id", ""))) > BLOCK_ID:
        errors.append("block_id too long")
    if kind == "section":
        errors += _text(block.get("text"), SECTION_TEXT, name="text") if "text" in block else []
        fields = block.get("fields") or []
        errors += ["section without text or fields"] if "text" not in block and not fields else []
        errors += ["more than 10 fields"] if len(fields) > 10 else []
        for item in fields:
            errors += _text(item, FIELD_TEXT, name="field")
    elif kind == "header":
        errors += _text(block.get("text"), HEADER_TEXT, plain=True, name="header")
    elif kind in ("context", "actions"):
        elements, most = block.get("elements") or [], CONTEXT_ELEMENTS if kind == "context" else ACTION_ELEMENTS
        errors += [] if 1 <= len(elements) <= most else [f"{kind} needs 1..{most} elements"]
        for item in elements:
            errors += _text(item, SECTION_TEXT, name="context") if kind == "context" else _button(item)
    elif kind == "input":
        errors += _text(block.get("label"), 2000, plain=True, name="label")
        errors += [] if isinstance(block.get("element"), dict) else ["input without element"]
    elif kind != "divider":
        errors.append(f"unknown block type {kind!r}")
    return errors


def _button(item: Any) -> list[str]:
    if not isinstance(item, dict) or item.get("type") != "button":
        return ["only buttons are expected in actions"]
    errors = _text(item.get("text"), BUTTON_TEXT, plain=True, name="button")
    errors += [] if len(str(item.get("value", ""))) <= BUTTON_VALUE else ["button value too long"]
    return errors + ([] if len(str(item.get("action_id", ""))) <= 255 else ["action_id too long"])


def _text(obj: Any, limit: int, *, plain: bool = False, name: str) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in (("plain_text",) if plain else ("plain_text", "mrkdwn")):
        return [f"{name}: not a {'plain_text' if plain else 'text'} object"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{name}: empty text"]
    return [f"{name}: {len(text)} characters > {limit}"] if len(text) > limit else []
