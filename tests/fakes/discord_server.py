"""A loopback Discord (REST under /api/v10 + a gateway websocket) that the real discord.py 2.7 connects to.

Strict where Discord is and where discord.py relies on it (shared/research/offline-testing.md): JSON answers carry
exactly `Content-Type: application/json`; callbacks answer 200 JSON only with `with_response=1`; 429s carry `Via` and
`retry_after`; content > 2000 and embed limits give 400/50035; a callback after 3 s gives 10062, a second one 40060;
the first follow-up after a defer fills the loading message and keeps its visibility. Everything is recorded.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

PAYLOADS = Path(__file__).parent / "payloads" / "discord"
TOKEN = "fake-discord-token"
BOT_ID = APP_ID = "1000000000000000001"
GUILD_ID = "2000000000000000001"
PAPERS_CHANNEL, GENERAL_CHANNEL = "3000000000000000001", "3000000000000000002"
ALICE, BOB, OTHER_BOT = "4000000000000000001", "4000000000000000002", "4000000000000000009"
EPHEMERAL, LOADING = 64, 128
MANAGE_CHANNELS = 1 << 4
CALLBACK_DEADLINE, TOKEN_LIFETIME = 3.0, 900.0
_FIELD = (("name", 256), ("value", 1024))
_BUCKET_HEADERS = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Bucket": "fakebucket"}


def payload(name: str) -> Any:
    """A fresh copy of a recorded payload template from payloads/discord/."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def _json(status: int, body: Any, *, headers: dict[str, str] | None = None) -> web.Response:
    # Not web.json_response: it appends "; charset=utf-8", and discord.py then hands models a str.
    headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)


def _error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> web.Response:
    return _json(status, {"code": code, "message": message, **({"errors": errors} if errors else {})})


@dataclass
class Recorded:
    method: str
    route: str  # path after /api/v10, e.g. "/channels/3000/messages"
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0  # what the fake answered


@dataclass
class _Interaction:
    token: str
    dispatched: float
    channel_id: str
    acked: bool = False
    original: dict[str, Any] | None = None
    replies: list[str] = field(default_factory=list)  # ids of the messages this interaction produced


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    seq: int = 0
    shard: tuple[int, int] | None = None


@dataclass
class FakeDiscord:
    token: str = TOKEN
    clock: Callable[[], float] = time.monotonic
    recommended_shards: int = 1
    requests: list[Recorded] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "global" or guild id -> commands
    extra_channels: tuple[str, ...] = ()
    """More text channels in the guild, besides #papers and #general."""
    global_limit: int | None = None
    """Discord's global limit: at most this many bot requests in any one second, the rest answered 429 `global`.
    Interaction callbacks and follow-ups are exempt, as on Discord."""

    def __post_init__(self) -> None:
        self.sockets: list[_Socket] = []  # live gateway connections
        self._interactions: dict[str, _Interaction] = {}
        self._ratelimits: list[tuple[str, str, float, bool]] = []  # method, route prefix, retry_after, global
        self._next_id = 1_300_000_000_000_000_000
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.api_base = self.gateway_url = ""
        self.accepted: list[float] = []  # clock readings of the bot requests the global limit let through
        self.globally_limited = 0  # bot requests answered 429 for the global limit

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.api_base, self.gateway_url = f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/gateway"

    async def close(self) -> None:
        for sock in list(self.sockets):
            await sock.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def snowflake(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def ratelimit_next(self, method: str, prefix: str, *, retry_after: float = 0.05, is_global: bool = False) -> None:
        """Answer the next `method` request whose route starts with `prefix` with a 429 (once)."""
        self._ratelimits.append((method, prefix, retry_after, is_global))

    def sent(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests whose route fully matches the regex `pattern`."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.route)]

    async def until(self, condition: Callable[[], bool], *, within: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checked after every recorded request and gateway frame."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), within)

    async def wait_for(self, method: str, pattern: str, *, count: int = 1, within: float = 5.0) -> list[Recorded]:
        """Wait until at least `count` requests match; return all that do."""
        await self.until(lambda: len(self.sent(method, pattern)) >= count, within=within)
        return self.sent(method, pattern)

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: str | None = GUILD_ID) -> None:
        """Send a DISPATCH to the connection(s) whose shard owns `guild_id` (all of them for None)."""
        for sock in list(self.sockets):
            if guild_id is None or _owns(sock, guild_id):
                await self._send(sock, event, data)

    def replies(self, token: str) -> list[dict[str, Any]]:
        """The messages an interaction left (its response and follow-ups), as users now see them."""
        inter = next(i for i in self._interactions.values() if i.token == token)
        return [self.messages[m] for m in inter.replies if m in self.messages]

    async def reconnect(self) -> None:
        """Ask every connection to reconnect (op 7), as Discord does before moving a session."""
        for sock in list(self.sockets):
            await sock.ws.send_str(json.dumps({"op": 7, "d": None}))

    async def interact(self, data: dict[str, Any]) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE; the callback deadline starts now."""
        self._interactions[data["id"]] = _Interaction(data["token"], self.clock(), data["channel_id"])
        await self.dispatch("INTERACTION_CREATE", data, guild_id=data.get("guild_id"))
        return data

    async def react(self, message_id: str, emoji: str, *, user_id: str = ALICE, add: bool = True, **extra: Any) -> None:
        """Dispatch MESSAGE_REACTION_ADD/REMOVE; `extra` may set `bot=True` (add only) or another `channel_id`."""
        data = payload("reaction_add")
        data.update(message_id=message_id, user_id=user_id, emoji={"id": None, "name": emoji})
        data["channel_id"] = extra.get("channel_id", PAPERS_CHANNEL)
        if add:
            data["member"]["user"].update(id=user_id, bot=extra.get("bot", False))
        else:  # REMOVE carries no member and no author, like Discord's
            for key in ("member", "message_author_id", "burst_colors"):
                data.pop(key)
        await self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sock = _Socket(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            await self._record(self.frames, frame)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None}))
            elif frame["op"] == 2 and frame["d"]["token"] != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
            elif frame["op"] == 2:
                await self._identify(sock, frame["d"])
            elif frame["op"] == 6:
                self.sockets.append(sock)
                await self._send(sock, "RESUMED", {})
        if sock in self.sockets:
            self.sockets.remove(sock)
        return ws

    async def _identify(self, sock: _Socket, data: dict[str, Any]) -> None:
        ready = payload("ready") | {"resume_gateway_url": self.gateway_url}
        if "shard" in data:
            sock.shard = (data["shard"][0], data["shard"][1])
            ready["shard"] = data["shard"]
        self.sockets.append(sock)
        await self._send(sock, "READY", ready)
        if _owns(sock, GUILD_ID):
            guild = payload("guild_create")
            template = guild["channels"][0]
            guild["channels"] += [
                template | {"id": cid, "name": f"papers-{n}", "position": n + 2}
                for n, cid in enumerate(self.extra_channels)
            ]
            await self._send(sock, "GUILD_CREATE", guild)

    async def _send(self, sock: _Socket, event: str, data: dict[str, Any]) -> None:
        sock.seq += 1
        await sock.ws.send_str(json.dumps({"op": 0, "t": event, "s": sock.seq, "d": data}))

    async def _record(self, into: list[Any], item: Any) -> None:
        async with self._changed:
            into.append(item)
            self._changed.notify_all()

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        seen = Recorded(request.method, "/" + request.match_info["tail"], {**request.query}, body, {**request.headers})
        seen.status = (response := await self._answer(seen, raw)).status
        await self._record(self.requests, seen)  # after answering, so waiting tests see the status too
        return response

    async def _answer(self, seen: Recorded, raw: bytes) -> web.StreamResponse:
        if raw and seen.headers.get("Content-Type") != "application/json":
            return _error(400, 50109, "The request body contains invalid JSON.")
        limited = next((r for r in self._ratelimits if r[0] == seen.method and seen.route.startswith(r[1])), None)
        if limited is not None:
            self._ratelimits.remove(limited)
            return self._too_many(*limited[2:])
        interaction = seen.route.startswith(("/interactions/", "/webhooks/"))
        if not interaction and (wait := self._over_global_limit()) is not None:
            self.globally_limited += 1
            return self._too_many(wait, True)
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, seen.route)
            if method == seen.method and match:
                if not interaction and seen.headers.get("Authorization") != f"Bot {self.token}":
                    return _error(401, 0, "401: Unauthorized")
                return await handler(seen.json, *match.groups(), query=seen.query)
        return _error(404, 0, f"404: Not Found ({seen.method} {seen.route})")

    def _over_global_limit(self) -> float | None:
        """None when the request fits in the last second's budget (it is counted), else the seconds to wait."""
        now = self.clock()
        if self.global_limit is not None:
            window = [t for t in self.accepted[-self.global_limit :] if now - t < 1.0]
            if len(window) >= self.global_limit:
                return max(0.001, 1.0 - (now - window[0]))
        self.accepted.append(now)
        return None

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [
            ("GET", r"/users/@me", partial(self._canned, "user_bot")),
            ("GET", r"/oauth2/applications/@me", partial(self._canned, "application")),
            ("GET", r"/gateway/bot", self._gateway_bot),
            ("PUT", rf"/applications/{APP_ID}(?:/guilds/(\d+))?/commands", self._put_commands),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._add_own_reaction),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{APP_ID}/([^/]+)", self._followup),
            ("DELETE", rf"/webhooks/{APP_ID}/([^/]+)/messages/@original", self._delete_original),
        ]

    def _too_many(self, retry_after: float, is_global: bool) -> web.Response:
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))), **_BUCKET_HEADERS}
        headers |= {"X-RateLimit-Reset-After": str(retry_after), "X-RateLimit-Global": str(is_global).lower()}
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return _json(429, body, headers=headers)

    async def _canned(self, name: str, body: None, **_: Any) -> web.Response:
        return _json(200, payload(name))

    async def _gateway_bot(self, body: None, **_: Any) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json(200, {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit})

    async def _put_commands(self, body: Any, guild_id: str | None, **_: Any) -> web.Response:
        if not isinstance(body, list) or any(not re.fullmatch(r"[-_a-z0-9]{1,32}", c.get("name", "")) for c in body):
            return _error(400, 50035, "Invalid Form Body", {"_errors": [{"code": "APPLICATION_COMMANDS_INVALID"}]})
        echoed = [c | {"id": self.snowflake(), "application_id": APP_ID, "version": self.snowflake()} for c in body]
        for command in echoed if guild_id else ():
            command["guild_id"] = guild_id
        self.commands[guild_id or "global"] = echoed
        return _json(200, echoed)

    async def _create_message(self, body: Any, channel_id: str, **_: Any) -> web.Response:
        if channel_id not in (PAPERS_CHANNEL, GENERAL_CHANNEL, *self.extra_channels):
            return _error(404, 10003, "Unknown Channel")
        errors = message_errors(body or {})
        return _error(400, *errors) if errors else _json(200, self._store(body, channel_id=channel_id, flags=0))

    async def _add_own_reaction(self, body: None, channel_id: str, message_id: str, emoji: str, **_: Any) -> Any:
        if message_id not in self.messages:
            return _error(404, 10008, "Unknown Message")
        await self.react(message_id, emoji, user_id=BOT_ID, bot=True, channel_id=channel_id)  # Discord echoes it
        return web.Response(status=204)

    async def _callback(self, body: Any, iid: str, token: str, *, query: dict[str, str]) -> web.Response:
        inter = self._interactions.get(iid)
        if inter is None or inter.token != token or self.clock() - inter.dispatched > CALLBACK_DEADLINE:
            return _error(404, 10062, "Unknown interaction")
        if inter.acked:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body.get("type"), body.get("data") or {}
        errors = message_errors(data) if kind in (4, 7) else _modal_errors(data) if kind == 9 else None
        if errors:
            return _error(400, *errors)
        inter.acked = True
        if query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        answer: dict[str, Any] = {"id": iid, "type": 2, "response_message_loading": kind == 5}
        answer["response_message_ephemeral"] = bool(data.get("flags", 0) & EPHEMERAL)
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            loading = LOADING if kind == 5 else 0
            inter.original = self._store(data, channel_id=inter.channel_id, flags=data.get("flags", 0) | loading)
            inter.replies.append(inter.original["id"])
            answer["response_message_id"] = inter.original["id"]
            if kind == 4:
                resource["message"] = inter.original
        return _json(200, {"interaction": answer, "resource": resource})

    def _live(self, token: str) -> _Interaction | None:
        inter = next((i for i in self._interactions.values() if i.token == token), None)
        if inter is None or not inter.acked or self.clock() - inter.dispatched > TOKEN_LIFETIME:
            return None
        return inter

    async def _followup(self, body: Any, token: str, **_: Any) -> web.Response:
        inter = self._live(token)
        if inter is None:
            return _error(404, 10015, "Unknown Webhook")
        errors = message_errors(body or {})
        if errors:
            return _error(400, *errors)
        original = inter.original
        if original is not None and original["flags"] & LOADING and original["id"] in self.messages:
            # Discord: the first follow-up after a defer fills the loading message, keeping its visibility.
            flags = original["flags"] & ~LOADING
            original.update(self._store(body, channel_id=inter.channel_id, flags=flags, message_id=original["id"]))
            return _json(200, original)
        message = self._store(body, channel_id=inter.channel_id, flags=body.get("flags", 0) & EPHEMERAL)
        inter.replies.append(message["id"])
        return _json(200, message)

    async def _delete_original(self, body: None, token: str, **_: Any) -> web.StreamResponse:
        inter = self._live(token)
        if inter is None or inter.original is None or self.messages.pop(inter.original["id"], None) is None:
            return _error(404, 10008, "Unknown Message")
        return web.Response(status=204)

    def _store(self, body: dict[str, Any], *, channel_id: str, flags: int, message_id: str | None = None) -> dict:
        message = payload("message")
        message.update(id=message_id or self.snowflake(), channel_id=channel_id, flags=flags)
        for key in ("content", "embeds", "components"):
            message[key] = copy.deepcopy(body.get(key) or message[key])
        for embed in message["embeds"]:
            embed.setdefault("type", "rich")
        self.messages[message["id"]] = message
        return message


def _owns(sock: _Socket, guild_id: str) -> bool:
    return sock.shard is None or (int(guild_id) >> 22) % sock.shard[1] == sock.shard[0]


def _modal_errors(data: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
    title, custom_id, rows = data.get("title", ""), data.get("custom_id", ""), data.get("components") or []
    if not (1 <= len(title) <= 45 and 1 <= len(custom_id) <= 100 and 1 <= len(rows) <= 5):
        return 50035, "Invalid Form Body", {"data": _too_long(45)}
    return None


def message_errors(body: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None] | None:
    """Discord's checks on a message body: 2000 content, 10 embeds, each embed's limits, 6000 in all, components."""
    problems: dict[str, Any] = {}
    embeds, rows = body.get("embeds") or [], body.get("components") or []
    sized = [("content", body.get("content"), 2000)]
    for index, embed in enumerate(embeds):
        fields = embed.get("fields") or []
        sized += [
            (f"embeds.{index}.{key}", embed.get(key), limit) for key, limit in (("title", 256), ("description", 4096))
        ]
        sized += [(f"embeds.{index}.footer", (embed.get("footer") or {}).get("text"), 2048)]
        sized += [(f"embeds.{index}.author", (embed.get("author") or {}).get("name"), 256)]
        for number, item in enumerate(fields):
            sized += [(f"embeds.{index}.fields.{number}.{key}", item.get(key), limit) for key, limit in _FIELD]
            if not (item.get("name") and item.get("value")):
                problems[f"embeds.{index}.fields.{number}"] = {"_errors": [{"code": "BASE_TYPE_REQUIRED"}]}
        if len(fields) > 25:
            problems[f"embeds.{index}.fields"] = _too_long(25)
    problems |= {key: _too_long(limit) for key, text, limit in sized if len(text or "") > limit}
    if len(embeds) > 10 or sum(len(text or "") for key, text, _ in sized if key != "content") > 6000:
        problems["embeds"] = _too_long(6000)
    if len(rows) > 5 or not all(_row_ok(row) for row in rows):
        problems["components"] = {"_errors": [{"code": "COMPONENT_INVALID"}]}
    if problems:
        return 50035, "Invalid Form Body", problems
    return None if body.get("content") or embeds or rows else (50006, "Cannot send an empty message", None)


def _row_ok(row: dict[str, Any]) -> bool:
    buttons = row.get("components") or []
    for button in buttons:
        link = button.get("style") == 5
        if len(button.get("label") or "") > 80 or link != bool(button.get("url")):
            return False
        if not link and not 1 <= len(button.get("custom_id") or "") <= 100:
            return False
    return row.get("type") == 1 and 1 <= len(buttons) <= 5


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}
