"""A loopback Discord (REST under /api/v10 + a gateway websocket) that the real discord.py 2.7 connects to.

Strict where Discord is and where discord.py relies on it (shared/research/offline-testing.md): JSON answers carry
exactly `Content-Type: application/json`; callbacks answer 200 JSON only with `with_response=1`; 429s carry `Via` and
`retry_after`; content > 2000 and embed limits give 400/50035; a callback after 3 s gives 10062, a second one 40060;
the first follow-up after a defer fills the loading message and keeps its visibility. Everything is recorded.

As hostile as Discord (issue 12): every REST answer carries per-route bucket headers (`X-RateLimit-Limit/Remaining/
Reset/Reset-After/Bucket`), buckets per channel for messages and reactions answer 429 (`X-RateLimit-Scope: user`) when
exceeded (`message_bucket`, `reaction_bucket`; generous by default, `REALISTIC_*` opt in), and `faults` (a
tests/fakes/faults.FaultPlan keyed "METHOD /route") switches any route into one of `MODES`. Idempotent as Discord
(issue 13): `nonce` + `enforce_nonce` on create message return the existing message within `nonce_window`; the nonce
is echoed in the create answer and MESSAGE_CREATE only, never stored. The gateway keeps sessions (issue 14): RESUME is
checked against session and sequence (op 9 or close 4007 otherwise), events dispatched while the bot was away are
replayed in order on RESUME; `drop_connection()` and `invalidate_session()` make it happen.

Threads and polls (issues 18, 19; tests/fakes/spec/README.md): a public thread started from a message, people posting
(`say`) and deleting (`delete_message`) with MESSAGE_CONTENT privileged, polls with votes (`vote`, `unvote`), voters,
and their end (the expire route, `end_poll`, or the expiry passing on `wall_clock`) with the POLL_RESULT message.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.faults import COMMON_MODES, Fault, FaultPlan, reset_connection

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
GENEROUS_BUCKET = (100, 1.0)
"""The default per-channel message and reaction buckets: no test that posts a digest ever waits on them."""
REALISTIC_MESSAGE_BUCKET, REALISTIC_REACTION_BUCKET = (5, 5.0), (1, 0.25)
"""What bots observe on Discord (not published: rustplusplus#475, discord-api-docs#20); tests opt in."""
ROUTE_BUCKET = (50, 1.0)  # every other route, per route and major parameter
GUILDS, GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS = 1 << 0, 1 << 9, 1 << 10
MESSAGE_CONTENT = 1 << 15  # privileged: without it a session gets other people's messages with their content empty
PUBLIC_THREAD, HAS_THREAD = 11, 1 << 5
GUILD_MESSAGE_POLLS = 1 << 24  # MESSAGE_POLL_VOTE_ADD / MESSAGE_POLL_VOTE_REMOVE in guilds
POLL_RESULT = 46  # the message type Discord posts when a poll ends
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
USERNAMES = {ALICE: "alice", BOB: "bob", OTHER_BOT: "otherbot"}
DISCORD_EPOCH_MS = 1_420_070_400_000
_ERRORS: dict[str, tuple[int, int, str]] = {
    "missing_access": (403, 50001, "Missing Access"),
    "missing_permissions": (403, 50013, "Missing Permissions"),
    "unknown_channel": (404, 10003, "Unknown Channel"),
    "unknown_message": (404, 10008, "Unknown Message"),
    "invalid_form_body": (400, 50035, "Invalid Form Body"),
    "unauthorized": (401, 0, "401: Unauthorized"),
}
MODES = COMMON_MODES | frozenset(_ERRORS)
"""Fault modes for `FakeDiscord.faults`, keyed "METHOD /route" (route after /api/v10):
- "5xx": Discord's JSON 5xx body, param `status` (default 500; discord.py retries 500/502/504 itself, raises others);
- "reset": the connection closes with no answer (a TCP RST);
- "slow": param `delay` seconds, then the normal answer;
- "429": param `retry_after` (default 0.05), `global` / `is_global`, `scope` ("user", "global", "shared");
- "lost": the request takes effect (e.g. the message is created), then param `answer` "5xx" (with `status`) or "reset";
- 403 50001 "missing_access", 403 50013 "missing_permissions", 404 10003 "unknown_channel",
  404 10008 "unknown_message", 400 50035 "invalid_form_body" (param `errors`), 401 0 "unauthorized"."""
_5XX = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


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
    status: int = 0  # what the fake answered (0: nothing, the connection was reset)
    fault: str | None = None  # the fault mode that answered it, if one did
    answer: Any = None  # the JSON body of the answer (None for an empty one)


@dataclass
class _Interaction:
    token: str
    dispatched: float
    channel_id: str
    acked: bool = False
    original: dict[str, Any] | None = None
    replies: list[str] = field(default_factory=list)  # ids of the messages this interaction produced
    message_id: str | None = None  # the message a component interaction came from


@dataclass
class Session:
    """A gateway session: its sequence and every dispatch it was sent, so RESUME can replay what the bot missed."""

    session_id: str
    shard: tuple[int, int] | None = None
    intents: int = 0
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    socket: _Socket | None = None  # None while the bot is disconnected
    valid: bool = True  # False once invalidated or closed with 1000/1001: RESUME gets op 9


@dataclass(eq=False)
class _Socket:
    ws: web.WebSocketResponse
    request: web.Request | None = None
    session: Session | None = None

    @property
    def seq(self) -> int:
        return self.session.seq if self.session else 0

    @property
    def shard(self) -> tuple[int, int] | None:
        return self.session.shard if self.session else None


@dataclass
class _Bucket:
    limit: int
    per: float
    reset_at: float = 0.0
    used: int = 0


@dataclass
class FakeDiscord:
    token: str = TOKEN
    clock: Callable[[], float] = time.monotonic
    recommended_shards: int = 1
    requests: list[Recorded] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The messages users can see now (deleted ones move to `deleted`), by id."""
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "global" or guild id -> commands
    extra_channels: tuple[str, ...] = ()
    """More text channels in the guild, besides #papers and #general."""
    global_limit: int | None = None
    """Discord's global limit: at most this many bot requests in any one second, the rest answered 429 `global`.
    Interaction callbacks and follow-ups are exempt, as on Discord."""
    message_bucket: tuple[int, float] = GENEROUS_BUCKET
    """(limit, seconds): create-message requests per channel per window (Discord observed: REALISTIC_MESSAGE_BUCKET)."""
    reaction_bucket: tuple[int, float] = GENEROUS_BUCKET
    """(limit, seconds): reaction requests per channel per window (Discord observed: REALISTIC_REACTION_BUCKET)."""
    route_bucket: tuple[int, float] = ROUTE_BUCKET
    """(limit, seconds): every other route, per route and major parameter (channel, guild, webhook)."""
    wall_clock: Callable[[], float] = time.time
    """Epoch seconds for snowflake ids, message timestamps and X-RateLimit-Reset (set it to a test's frozen clock)."""
    nonce_window: float = 300.0
    """Seconds within which `enforce_nonce` finds the earlier message with the same nonce ("the past few minutes")."""
    message_content_intent: bool = False
    """The privileged MESSAGE_CONTENT intent is enabled for the app in the developer portal. Off (the default): an
    IDENTIFY asking for it is closed with 4014, and REST answers other people's messages with their content empty."""

    def __post_init__(self) -> None:
        self.faults = FaultPlan(MODES)
        self.sockets: list[_Socket] = []  # live gateway connections with a session
        self.sessions: dict[str, Session] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.created: Counter[str] = Counter()  # channel id -> messages ever created there (deleted ones included)
        self.reactions: dict[str, dict[str, list[str]]] = {}  # message id -> emoji -> user ids, in order
        self.threads: dict[str, dict[str, Any]] = {}  # thread id (== its starter message's id) -> channel object
        self._members: dict[str, list[str]] = {}  # thread id -> user ids in the thread, in joining order
        self.poll_votes: dict[str, dict[int, list[str]]] = {}  # poll message id -> answer id -> voters, in order
        self._open_polls: dict[str, float] = {}  # poll message id -> its expiry (wall_clock), until it ends
        self._nonces: dict[tuple[str, str, str], tuple[str, float]] = {}  # (author, channel, nonce) -> (id, when)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
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
        self._runner = web.AppRunner(app, access_log=None)
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
        """A new id that, like Discord's, encodes its creation time (`wall_clock`), so `before`/`after` a time work."""
        stamp = (int(self.wall_clock() * 1000) - DISCORD_EPOCH_MS) << 22
        self._next_id = max(self._next_id + 1, stamp)
        return str(self._next_id)

    def ratelimit_next(self, method: str, prefix: str, *, retry_after: float = 0.05, is_global: bool = False) -> None:
        """Answer the next `method` request whose route starts with `prefix` with a 429 (once)."""
        self._ratelimits.append((method, prefix, retry_after, is_global))

    def sent(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests whose route fully matches the regex `pattern`."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.route)]

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages visible in a channel now (not deleted, not ephemeral), oldest first."""
        return sorted(
            (m for m in self.messages.values() if m["channel_id"] == channel_id and not m["flags"] & EPHEMERAL),
            key=lambda m: int(m["id"]),
        )

    def messages_created(self, channel_id: str) -> int:
        """How many messages were ever created in a channel (deleted ones included): duplicates show here."""
        return self.created[channel_id]

    async def until(self, condition: Callable[[], bool], *, within: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checked after every recorded request and gateway frame."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), within)

    async def wait_for(self, method: str, pattern: str, *, count: int = 1, within: float = 5.0) -> list[Recorded]:
        """Wait until at least `count` requests match; return all that do."""
        await self.until(lambda: len(self.sent(method, pattern)) >= count, within=within)
        return self.sent(method, pattern)

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: str | None = GUILD_ID, intent: int = 0
    ) -> None:
        """Send a DISPATCH to every valid session whose shard owns `guild_id` (all of them for None) and, when
        `intent` is given, that asked for it. A session whose bot is disconnected gets it on RESUME."""
        for session in list(self.sessions.values()):
            if session.valid and (guild_id is None or _owns(session, guild_id)) and session.intents & intent == intent:
                await self._emit(session, event, data)

    def replies(self, token: str) -> list[dict[str, Any]]:
        """The messages an interaction left (its response and follow-ups), as users now see them."""
        inter = next(i for i in self._interactions.values() if i.token == token)
        return [self.messages[m] for m in inter.replies if m in self.messages]

    async def reconnect(self) -> None:
        """Ask every connection to reconnect (op 7), as Discord does before moving a session."""
        for sock in list(self.sockets):
            await sock.ws.send_str(json.dumps({"op": 7, "d": None}))

    async def drop_connection(self) -> None:
        """Cut every gateway connection without a close frame (a network failure): discord.py RESUMEs, and what is
        dispatched meanwhile waits in the session and is replayed then."""
        for sock in list(self.sockets):
            self._detach(sock)
            if sock.request is not None and sock.request.transport is not None:
                sock.request.transport.abort()

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 Invalid Session on every connection. With `resumable=False` (Discord's usual) the sessions end:
        the bot IDENTIFYs afresh and whatever was dispatched to the old session is lost, as on Discord."""
        for sock in list(self.sockets):
            if sock.session is not None and not resumable:
                sock.session.valid = False
            await sock.ws.send_str(json.dumps({"op": 9, "d": resumable}))

    async def interact(self, data: dict[str, Any]) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE; the callback deadline starts now."""
        inter = _Interaction(data["token"], self.clock(), data["channel_id"])
        inter.message_id = (data.get("message") or {}).get("id")
        self._interactions[data["id"]] = inter
        await self.dispatch("INTERACTION_CREATE", data, guild_id=data.get("guild_id"))
        return data

    async def react(self, message_id: str, emoji: str, *, user_id: str = ALICE, add: bool = True, **extra: Any) -> None:
        """Dispatch MESSAGE_REACTION_ADD/REMOVE; `extra` may set `bot=True` (add only) or another `channel_id`."""
        data = payload("reaction_add")
        data.update(message_id=message_id, user_id=user_id, emoji={"id": None, "name": emoji})
        data["channel_id"] = extra.get("channel_id", PAPERS_CHANNEL)
        users = self.reactions.setdefault(message_id, {}).setdefault(emoji, [])
        if add:
            data["member"]["user"].update(id=user_id, bot=extra.get("bot", False))
            users += [] if user_id in users else [user_id]
        else:  # REMOVE carries no member and no author, like Discord's
            for key in ("member", "message_author_id", "burst_colors"):
                data.pop(key)
            if user_id in users:
                users.remove(user_id)
        await self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)

    async def dispatch_reaction_remove_all(self, channel_id: str, message_id: str) -> None:
        """A moderator cleared every reaction from a message: MESSAGE_REACTION_REMOVE_ALL, in the gateway's shape."""
        self.reactions.pop(message_id, None)
        data = {"channel_id": channel_id, "message_id": message_id, "guild_id": GUILD_ID}
        await self.dispatch("MESSAGE_REACTION_REMOVE_ALL", data)

    async def dispatch_reaction_remove_emoji(self, channel_id: str, message_id: str, emoji: str) -> None:
        """A moderator cleared one emoji from a message: MESSAGE_REACTION_REMOVE_EMOJI with a partial emoji."""
        self.reactions.get(message_id, {}).pop(emoji, None)
        data = {
            "channel_id": channel_id,
            "guild_id": GUILD_ID,
            "message_id": message_id,
            "emoji": {"id": None, "name": emoji},
        }
        await self.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", data)

    # -- people in the guild (test drivers) -------------------------------------------------------------------------

    async def say(
        self,
        channel_id: str,
        content: str = "",
        *,
        user_id: str = ALICE,
        bot: bool = False,
        poll: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Someone posts in a channel or thread (`bot=True`: another bot, `author.bot` true; `poll`: a
        PollCreateRequest, their own poll): MESSAGE_CREATE with `guild_id`, `author` and `member`, to sessions with
        GUILD_MESSAGES. A session without MESSAGE_CONTENT gets it with empty content and no poll (unless it mentions
        the bot), as Discord sends it. Returns the stored message."""
        if channel_id not in self._channel_ids():
            raise ValueError(f"no channel or thread {channel_id} in the fake guild")
        message = self._store({"content": content}, channel_id=channel_id, flags=0)
        message["author"] = _user(user_id, bot=bot)
        if poll is not None:
            self._attach_poll(message, poll)
        if f"<@{BOT_ID}>" in content:
            message["mentions"] = [payload("message")["author"]]
        self._joined(channel_id, user_id)
        created = copy.deepcopy(message) | {"guild_id": GUILD_ID, "member": _member()}
        await self._dispatch_message("MESSAGE_CREATE", created)
        return message

    async def delete_message(self, message_id: str) -> None:
        """Someone (its author or a moderator) deletes a message: MESSAGE_DELETE carrying only `id`, `channel_id` and
        `guild_id` (no author, as on Discord), to sessions with GUILD_MESSAGES."""
        await self._delete(self.messages[message_id])

    async def vote(self, message_id: str, answer_id: int, *, user_id: str = ALICE) -> None:
        """Someone votes for an answer of an open poll: MESSAGE_POLL_VOTE_ADD to sessions with GUILD_MESSAGE_POLLS.
        In a single-choice poll a vote for another answer is a changed vote: its VOTE_REMOVE comes first, as when a
        person removes their vote and votes again. Voting twice for the same answer changes nothing."""
        message, votes = self._open_poll(message_id, answer_id)
        if user_id in votes[answer_id]:
            return
        if not message["poll"]["allow_multiselect"]:
            for other, voters in votes.items():
                if user_id in voters:
                    voters.remove(user_id)
                    await self._poll_vote("REMOVE", message, other, user_id)
        votes[answer_id].append(user_id)
        await self._poll_vote("ADD", message, answer_id, user_id)

    async def unvote(self, message_id: str, answer_id: int, *, user_id: str = ALICE) -> None:
        """Someone removes their vote: MESSAGE_POLL_VOTE_REMOVE (nothing if they had not voted for that answer)."""
        message, votes = self._open_poll(message_id, answer_id)
        if user_id in votes[answer_id]:
            votes[answer_id].remove(user_id)
            await self._poll_vote("REMOVE", message, answer_id, user_id)

    async def end_poll(self, message_id: str) -> dict[str, Any]:
        """The poll's time is up now (whatever its duration): results finalized, MESSAGE_UPDATE, then the POLL_RESULT
        message (type 46) in its channel. Returns that result message."""
        message = self.messages[message_id]
        if message.get("poll") is None or message["poll"]["results"]["is_finalized"]:
            raise ValueError(f"message {message_id} has no open poll")
        return await self._end(message, expiry=self.wall_clock())

    async def expire_polls(self) -> list[str]:
        """End every open poll whose expiry has passed on `wall_clock` (a test moves its frozen clock, then calls this;
        every REST request checks it too). Returns the ids of the polls it ended."""
        ended = []
        for message_id, expiry in sorted(self._open_polls.items(), key=lambda item: int(item[0])):
            if expiry <= self.wall_clock():
                await self._end(self.messages[message_id], expiry=None)
                ended.append(message_id)
        return ended

    def thread_members(self, thread_id: str) -> set[str]:
        """Who is in a thread: its creator and everyone who posted in it."""
        return set(self._members.get(thread_id, ()))

    # -- gateway ----------------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sock = _Socket(ws, request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            await self._record(self.frames, frame)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None}))
            elif frame["op"] in (2, 6) and frame["d"].get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
            elif frame["op"] == 2 and int(frame["d"].get("intents") or 0) & MESSAGE_CONTENT:
                if not self.message_content_intent:  # a privileged intent the app was not granted
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                else:
                    await self._identify(sock, frame["d"])
            elif frame["op"] == 2:
                await self._identify(sock, frame["d"])
            elif frame["op"] == 6:
                await self._resume(sock, frame["d"])
            if frame["op"] in (2, 6):
                await self._record([], None)  # wake `until`: the sessions changed
        if sock.session is not None and sock.session.socket is sock and ws.close_code in (1000, 1001):
            sock.session.valid = False  # a clean close by the bot ends its session, as on Discord
        self._detach(sock)
        await self._record([], None)
        return ws

    def _detach(self, sock: _Socket) -> None:
        if sock in self.sockets:
            self.sockets.remove(sock)
        if sock.session is not None and sock.session.socket is sock:
            sock.session.socket = None

    async def _identify(self, sock: _Socket, data: dict[str, Any]) -> None:
        session_id = "fake-session" if not self.sessions else f"fake-session-{len(self.sessions) + 1}"
        session = Session(session_id, intents=int(data.get("intents") or 0))
        ready = payload("ready") | {"resume_gateway_url": self.gateway_url, "session_id": session_id}
        if "shard" in data:
            session.shard = (data["shard"][0], data["shard"][1])
            ready["shard"] = data["shard"]
        self.sessions[session_id] = session
        self._attach(sock, session)
        await self._emit(session, "READY", ready)
        if _owns(session, GUILD_ID):
            active = [copy.deepcopy(t) for t in self.threads.values() if not t["thread_metadata"]["archived"]]
            guild = payload("guild_create") | {"channels": self._guild_channels(), "threads": active}
            await self._emit(session, "GUILD_CREATE", guild)

    async def _resume(self, sock: _Socket, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid:
            await sock.ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        seq = int(data.get("seq") or 0)
        if seq > session.seq:  # a sequence Discord never sent: the session cannot be resumed
            session.valid = False
            await sock.ws.close(code=4007, message=b"Invalid seq.")
            return
        if session.socket is not None:  # the old connection is taken over
            self._detach(session.socket)
        while missed := [f for f in session.events if f["s"] > seq]:  # replayed in order, with their sequence numbers
            for frame in missed:  # (what is dispatched meanwhile joins the session and is sent in a next round)
                await _send_frame(sock.ws, frame)
                seq = frame["s"]
        self._attach(sock, session)  # caught up: from now on dispatches go straight to this connection
        await self._emit(session, "RESUMED", {})

    def _attach(self, sock: _Socket, session: Session) -> None:
        sock.session, session.socket = session, sock
        if sock not in self.sockets:
            self.sockets.append(sock)

    async def _emit(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        if session.socket is not None:
            await _send_frame(session.socket.ws, frame)

    async def _dispatch_message(self, event: str, data: dict[str, Any]) -> None:
        """MESSAGE_CREATE/UPDATE to the sessions with GUILD_MESSAGES, each seeing the content only if it may."""
        for session in list(self.sessions.values()):
            if session.valid and _owns(session, GUILD_ID) and session.intents & GUILD_MESSAGES:
                content = bool(session.intents & MESSAGE_CONTENT)
                await self._emit(session, event, data if content or _content_exempt(data) else _without_content(data))

    async def _record(self, into: list[Any], item: Any) -> None:
        async with self._changed:
            into.append(item)
            self._changed.notify_all()

    # -- REST -------------------------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        seen = Recorded(request.method, "/" + request.match_info["tail"], {**request.query}, body, {**request.headers})
        response = await self._answer(seen, raw)
        if response is None:  # a reset: no answer at all
            reset_connection(request)
            await self._record(self.requests, seen)
            raise asyncio.CancelledError  # aiohttp drops the handler quietly; the client sees its connection die
        seen.status = response.status
        if isinstance(response, web.Response) and response.body and response.content_type == "application/json":
            seen.answer = json.loads(response.body)  # type: ignore[arg-type]
        await self._record(self.requests, seen)  # after answering, so waiting tests see the status too
        return response

    async def _answer(self, seen: Recorded, raw: bytes) -> web.StreamResponse | None:
        await self.expire_polls()  # polls whose duration passed (on `wall_clock`) end before Discord answers
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
        bucket_id, bucket = self._bucket(seen.method, seen.route)
        now = self.clock()
        if now >= bucket.reset_at:
            bucket.reset_at, bucket.used = now + bucket.per, 0
        headers = _bucket_headers(bucket_id, bucket, now, self.wall_clock())
        if bucket.used >= bucket.limit:
            return self._too_many(bucket.reset_at - now, False, bucket=headers)
        bucket.used += 1
        headers = _bucket_headers(bucket_id, bucket, now, self.wall_clock())
        fault = self.faults.take(f"{seen.method} {seen.route}")
        if fault is not None:
            seen.fault = fault.mode
            if fault.mode == "slow":
                await asyncio.sleep(float(fault.param("delay", 1.0)))
            elif fault.mode != "lost":
                return _with(self._faulty(fault, headers), headers)
        response = _with(await self._route(seen), headers)
        if fault is not None and fault.mode == "lost":  # done on Discord; the bot never learns it
            lost = None if fault.param("answer", "5xx") == "reset" else _server_error(int(fault.param("status", 500)))
            return _with(lost, headers)
        return response

    async def _route(self, seen: Recorded) -> web.StreamResponse:
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, seen.route)
            if method == seen.method and match:
                interaction = seen.route.startswith(("/interactions/", "/webhooks/"))
                if not interaction and seen.headers.get("Authorization") != f"Bot {self.token}":
                    return _error(401, 0, "401: Unauthorized")
                return await handler(seen.json, *match.groups(), query=seen.query)
        return _error(404, 0, f"404: Not Found ({seen.method} {seen.route})")

    def _faulty(self, fault: Fault, headers: dict[str, str]) -> web.Response | None:
        if fault.mode == "reset":
            return None
        if fault.mode == "5xx":
            return _server_error(int(fault.param("status", 500)))
        if fault.mode == "429":
            is_global = bool(fault.param("global", fault.param("is_global", False)))  # `global` is a keyword
            scope = fault.param("scope", "global" if is_global else "user")
            retry_after = float(fault.param("retry_after", 0.05))
            return self._too_many(retry_after, is_global, bucket=headers, scope=scope)
        status, code, message = _ERRORS[fault.mode]
        errors = fault.param("errors", _too_long(2000, "content") if code == 50035 else None)
        return _error(status, code, message, errors)

    def _bucket(self, method: str, route: str) -> tuple[str, _Bucket]:
        """The rate-limit bucket a request counts against: its id (the X-RateLimit-Bucket hash) and its state."""
        template = re.sub(r"/\d{5,}", "/{id}", route)
        template = re.sub(r"/(interactions|webhooks)/\{id\}/[^/]+", r"/\1/{id}/{token}", template)
        major = re.match(r"/(?:channels|guilds|webhooks|interactions)/(\d+)(?:/([^/]+))?", route)
        scope = major.group(1) if major else ""
        if route.startswith(("/webhooks/", "/interactions/")) and major and major.group(2):
            scope += "+" + major.group(2)
        if method == "POST" and template == "/channels/{id}/messages":
            name, (limit, per) = "messages", self.message_bucket
        elif "/reactions" in template:
            name, (limit, per) = "reactions", self.reaction_bucket  # every reaction route shares one bucket
        else:
            name, (limit, per) = f"{method} {template}", self.route_bucket
        bucket_id = hashlib.sha1(name.encode()).hexdigest()[:32]
        bucket = self._buckets.setdefault((bucket_id, scope), _Bucket(limit, per))
        return bucket_id, bucket

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
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("GET", r"/channels/(\d+)/messages", self._list_messages),
            ("GET", r"/channels/(\d+)/messages/(\d+)", self._get_message),
            ("DELETE", r"/channels/(\d+)/messages/(\d+)", self._delete_message),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._start_thread),
            ("GET", r"/channels/(\d+)/polls/(\d+)/answers/(\d+)", self._poll_voters),
            ("POST", r"/channels/(\d+)/polls/(\d+)/expire", self._expire_poll),
            ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._add_own_reaction),
            ("DELETE", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._remove_own_reaction),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{APP_ID}/([^/]+)", self._followup),
            ("DELETE", rf"/webhooks/{APP_ID}/([^/]+)/messages/@original", self._delete_original),
        ]

    def _too_many(
        self, retry_after: float, is_global: bool, *, bucket: dict[str, str] | None = None, scope: str | None = None
    ) -> web.Response:
        """Discord's 429 (rate-limits.mdx): Retry-After, X-RateLimit-Scope (+ X-RateLimit-Global), the route's bucket
        headers unless global, and `Via` (without it discord.py takes the 429 for a Cloudflare ban)."""
        scope = scope or ("global" if is_global else "user")
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, -int(-retry_after // 1))), "X-RateLimit-Scope": scope}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers |= bucket or {}
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
            headers["X-RateLimit-Reset"] = f"{self.wall_clock() + retry_after:.3f}"
        message = "The resource is being rate limited." if scope == "shared" else "You are being rate limited."
        body = {"message": message, "retry_after": retry_after, "global": is_global, "code": 0}
        return _json(429, body, headers=headers)

    async def _canned(self, name: str, body: None, **_: Any) -> web.Response:
        return _json(200, payload(name))

    async def _gateway_bot(self, body: None, **_: Any) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json(200, {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit})

    async def _put_commands(self, body: Any, guild_id: str | None, **_: Any) -> web.Response:
        if not isinstance(body, list) or any(not re.fullmatch(r"[-_a-z0-9]{1,32}", c.get("name", "")) for c in body):
            return _error(400, 50035, "Invalid Form Body", {"_errors": [{"code": "APPLICATION_COMMANDS_INVALID"}]})
        defaults = {"type": 1, "description": "", "default_member_permissions": None}
        echoed = [
            defaults | c | {"id": self.snowflake(), "application_id": APP_ID, "version": self.snowflake()} for c in body
        ]
        for command in echoed:  # as Discord stores them: permissions as a string, install contexts filled in
            if command["default_member_permissions"] is not None:
                command["default_member_permissions"] = str(command["default_member_permissions"])
            if command.get("integration_types") is None:
                command["integration_types"] = [0]
            if guild_id:
                command["guild_id"] = guild_id
        self.commands[guild_id or "global"] = echoed
        return _json(200, echoed)

    def channels(self) -> dict[str, dict[str, Any]]:
        """The guild's text channels as GET /channels/{id} answers them, by id."""
        found = self._guild_channels()
        for channel in found:
            latest = self.channel_messages(channel["id"])
            channel["last_message_id"] = latest[-1]["id"] if latest else None
        return {c["id"]: c for c in found}

    def _channel_ids(self) -> set[str]:
        """Every channel messages can be posted in: the guild's text channels and its threads."""
        return {PAPERS_CHANNEL, GENERAL_CHANNEL, *self.extra_channels, *self.threads}

    def _guild_channels(self) -> list[dict[str, Any]]:
        channels = payload("guild_create")["channels"]
        more = enumerate(self.extra_channels)
        return channels + [channels[0] | {"id": cid, "name": f"papers-{n}", "position": n + 2} for n, cid in more]

    async def _get_channel(self, body: None, channel_id: str, **_: Any) -> web.Response:
        if channel_id in self.threads:
            return _json(200, copy.deepcopy(self.threads[channel_id]))
        channel = self.channels().get(channel_id)
        return _json(200, channel) if channel else _error(404, 10003, "Unknown Channel")

    async def _create_message(self, body: Any, channel_id: str, **_: Any) -> web.Response:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        body = body or {}
        errors = message_errors(body) or _nonce_errors(body) or _poll_errors(body)
        if errors:
            return _error(400, *errors)
        nonce = body.get("nonce")
        key = (BOT_ID, channel_id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get(key)
            if earlier and self.clock() - earlier[1] <= self.nonce_window and earlier[0] in self.messages:
                return _json(200, self._shown(self.messages[earlier[0]]) | {"nonce": nonce})  # no second message
        message = self._store(body, channel_id=channel_id, flags=0)
        if body.get("poll"):
            self._attach_poll(message, body["poll"])
        if nonce is not None:
            self._nonces[key] = (message["id"], self.clock())
        # The nonce is echoed in the answer and in MESSAGE_CREATE, and kept nowhere: fetched messages never show it.
        created = self._shown(message) | ({"nonce": nonce} if nonce is not None else {})
        await self._dispatch_message("MESSAGE_CREATE", created | {"guild_id": GUILD_ID})
        return _json(200, created)

    async def _list_messages(self, body: None, channel_id: str, *, query: dict[str, str]) -> web.Response:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        limit = query.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            problem = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "int value should be between 1 and 100."}]}
            return _error(400, 50035, "Invalid Form Body", {"limit": problem})
        anchors = [k for k in ("before", "after", "around") if k in query]
        if len(anchors) > 1 or any(not query[k].isdigit() for k in anchors):
            return _error(400, 50035, "Invalid Form Body", {anchors[-1]: {"_errors": [{"code": "BASE_TYPE_BAD"}]}})
        visible, count = self.channel_messages(channel_id), int(limit)  # oldest first
        if "before" in query:
            chosen = [m for m in visible if int(m["id"]) < int(query["before"])][-count:]
        elif "after" in query:
            chosen = [m for m in visible if int(m["id"]) > int(query["after"])][:count]
        elif "around" in query:
            pivot = int(query["around"])
            older = [m for m in visible if int(m["id"]) < pivot][-(count // 2) :] if count > 1 else []
            chosen = older + [m for m in visible if int(m["id"]) >= pivot][: count - len(older)]
        else:
            chosen = visible[-count:]
        return _json(200, [self._shown(m) for m in reversed(chosen)])  # newest first, as Discord answers

    async def _get_message(self, body: None, channel_id: str, message_id: str, **_: Any) -> web.Response:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id or message["flags"] & EPHEMERAL:
            return _error(404, 10008, "Unknown Message")
        return _json(200, self._shown(message))

    async def _delete_message(self, body: None, channel_id: str, message_id: str, **_: Any) -> web.StreamResponse:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        await self._delete(message)
        return web.Response(status=204)

    async def _delete(self, message: dict[str, Any]) -> None:
        self.deleted[message["id"]] = self.messages.pop(message["id"])
        self._open_polls.pop(message["id"], None)  # a deleted poll ends with no result message
        thread = self.threads.get(message["channel_id"])
        if thread is not None:
            thread["message_count"] = max(0, thread["message_count"] - 1)
        gone = {"id": message["id"], "channel_id": message["channel_id"], "guild_id": GUILD_ID}
        await self.dispatch("MESSAGE_DELETE", gone, intent=GUILD_MESSAGES)

    async def _start_thread(self, body: Any, channel_id: str, message_id: str, **_: Any) -> web.Response:
        """Start a public thread from a message (threads.mdx "Start Thread from Message"): 201 with the thread, whose
        id is the message's; THREAD_CREATE (newly_created) and the starter's MESSAGE_UPDATE follow."""
        body = body if isinstance(body, dict) else {}
        problems = _thread_errors(body)
        if problems:
            return _error(400, 50035, "Invalid Form Body", problems)
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        if channel_id in self.threads:
            return _error(400, 50024, "Cannot execute action on this channel type")
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id or message["flags"] & EPHEMERAL:
            return _error(404, 10008, "Unknown Message")
        if message_id in self.threads:
            return _error(400, 160004, "A thread has already been created for this message")
        now = datetime.fromtimestamp(self.wall_clock(), UTC).isoformat()
        metadata = {
            "archived": False,
            "archive_timestamp": now,
            "auto_archive_duration": body.get("auto_archive_duration") or 1440,  # discord.py's default too
            "locked": False,
            "create_timestamp": now,
        }
        thread = {
            "id": message_id,
            "type": PUBLIC_THREAD,
            "guild_id": GUILD_ID,
            "parent_id": channel_id,
            "owner_id": BOT_ID,
            "name": body["name"],
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "flags": 0,
            "message_count": 0,
            "member_count": 0,
            "total_message_sent": 0,
            "thread_metadata": metadata,
        }
        self.threads[message_id] = message["thread"] = thread  # the starter shows the thread's current state
        message["flags"] |= HAS_THREAD
        self._joined(message_id, BOT_ID)
        await self.dispatch("THREAD_CREATE", copy.deepcopy(thread) | {"newly_created": True}, intent=GUILDS)
        await self._dispatch_message("MESSAGE_UPDATE", self._shown(message) | {"guild_id": GUILD_ID})
        return _json(201, copy.deepcopy(thread))

    def _attach_poll(self, message: dict[str, Any], request: dict[str, Any]) -> None:
        """A PollCreateRequest as the message's PollResponse: answer ids from 1, expiry = now + duration hours."""
        expiry = self.wall_clock() + int(request.get("duration") or 24) * 3600
        answers = [
            {"answer_id": n, "poll_media": {k: v for k, v in a["poll_media"].items() if v is not None}}
            for n, a in enumerate(request["answers"], start=1)
        ]
        message["poll"] = {
            "question": {"text": request["question"]["text"]},
            "answers": answers,
            "expiry": datetime.fromtimestamp(expiry, UTC).isoformat(),
            "allow_multiselect": bool(request.get("allow_multiselect")),
            "layout_type": request.get("layout_type") or 1,
            "results": {"answer_counts": [], "is_finalized": False},
        }
        self.poll_votes[message["id"]] = {a["answer_id"]: [] for a in answers}
        self._open_polls[message["id"]] = expiry

    def _open_poll(self, message_id: str, answer_id: int) -> tuple[dict[str, Any], dict[int, list[str]]]:
        message = self.messages.get(message_id)
        if message is None or message.get("poll") is None:
            raise ValueError(f"message {message_id} has no poll")
        if message["poll"]["results"]["is_finalized"]:
            raise ValueError(f"the poll of {message_id} has ended: nobody can vote on it")
        votes = self.poll_votes[message_id]
        if answer_id not in votes:
            raise ValueError(f"the poll of {message_id} has no answer {answer_id}")
        return message, votes

    async def _poll_vote(self, kind: str, message: dict[str, Any], answer_id: int, user_id: str) -> None:
        data = {"user_id": user_id, "channel_id": message["channel_id"], "message_id": message["id"]}
        data |= {"guild_id": GUILD_ID, "answer_id": answer_id}
        await self.dispatch(f"MESSAGE_POLL_VOTE_{kind}", data, intent=GUILD_MESSAGE_POLLS)

    async def _end(self, message: dict[str, Any], *, expiry: float | None) -> dict[str, Any]:
        """End a poll: expiry (when ended early), finalized results, MESSAGE_UPDATE, and the POLL_RESULT message."""
        poll = message["poll"]
        if expiry is not None:
            poll["expiry"] = datetime.fromtimestamp(expiry, UTC).isoformat()
        poll["results"]["is_finalized"] = True  # Discord tallies in the background; the fake is done at once
        self._open_polls.pop(message["id"], None)
        await self._dispatch_message("MESSAGE_UPDATE", self._shown(message) | {"guild_id": GUILD_ID})
        votes = self.poll_votes[message["id"]]
        total, most = sum(len(v) for v in votes.values()), max((len(v) for v in votes.values()), default=0)
        winners = [a for a, v in votes.items() if most and len(v) == most]
        fields = [("poll_question_text", poll["question"]["text"]), ("victor_answer_votes", str(most))]
        fields += [("total_votes", str(total))]
        if len(winners) == 1:  # a tie, or no votes, names no victor
            victor = next(a for a in poll["answers"] if a["answer_id"] == winners[0])
            fields += [("victor_answer_id", str(winners[0])), ("victor_answer_text", victor["poll_media"]["text"])]
            emoji = victor["poll_media"].get("emoji") or {}
            fields += [(f"victor_answer_emoji_{k}", str(emoji[k])) for k in ("id", "name") if emoji.get(k)]
        embed = {"type": "poll_result", "fields": [{"name": k, "value": v, "inline": False} for k, v in fields]}
        result = self._store({"embeds": [embed]}, channel_id=message["channel_id"], flags=0)
        result.update(type=POLL_RESULT, author=copy.deepcopy(message["author"]))
        result["mentions"] = [copy.deepcopy(message["author"])]
        result["message_reference"] = {
            "type": 0,
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "guild_id": GUILD_ID,
        }
        await self._dispatch_message("MESSAGE_CREATE", self._shown(result) | {"guild_id": GUILD_ID})
        return result

    async def _poll_voters(
        self, body: None, channel_id: str, message_id: str, answer_id: str, *, query: dict[str, str]
    ) -> web.Response:
        """Get Answer Voters (poll.mdx): users by id, `after` a user id, `limit` 1-100 (default 25)."""
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id or message.get("poll") is None:
            return _error(404, 10008, "Unknown Message")
        limit, after = query.get("limit", "25"), query.get("after", "0")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            problem = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "int value should be between 1 and 100."}]}
            return _error(400, 50035, "Invalid Form Body", {"limit": problem})
        if not after.isdigit():
            return _error(400, 50035, "Invalid Form Body", {"after": {"_errors": [{"code": "NUMBER_TYPE_COERCE"}]}})
        voters = self.poll_votes[message_id].get(int(answer_id))
        if voters is None:
            problem = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Unknown answer."}]}
            return _error(400, 50035, "Invalid Form Body", {"answer_id": problem})
        chosen = sorted((u for u in voters if int(u) > int(after)), key=int)[: int(limit)]
        return _json(200, {"users": [_user(u) for u in chosen]})

    async def _expire_poll(self, body: None, channel_id: str, message_id: str, **_: Any) -> web.Response:
        """End Poll (poll.mdx): only the poll's author may; 200 with the message, MESSAGE_UPDATE follows."""
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        if message.get("poll") is None:
            return _error(400, 520006, "Cannot expire a non-poll message")
        if message["author"]["id"] != BOT_ID:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        if message["poll"]["results"]["is_finalized"]:
            return _error(400, 520001, "Poll expired")
        await self._end(message, expiry=self.wall_clock())
        return _json(200, self._shown(message))

    def _joined(self, channel_id: str, user_id: str) -> None:
        """Posting in a thread joins it (member_count counts up to 50, as Discord's approximation does)."""
        thread = self.threads.get(channel_id)
        members = self._members.setdefault(channel_id, []) if thread is not None else None
        if thread is not None and members is not None and user_id not in members:
            members.append(user_id)
            thread["member_count"] = min(50, len(members))

    async def _add_own_reaction(self, body: None, channel_id: str, message_id: str, emoji: str, **_: Any) -> Any:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        if self.messages.get(message_id, {}).get("channel_id") != channel_id:
            return _error(404, 10008, "Unknown Message")
        await self.react(message_id, emoji, user_id=BOT_ID, bot=True, channel_id=channel_id)  # Discord echoes it
        return web.Response(status=204)

    async def _remove_own_reaction(self, body: None, channel_id: str, message_id: str, emoji: str, **_: Any) -> Any:
        if channel_id not in self._channel_ids():
            return _error(404, 10003, "Unknown Channel")
        if self.messages.get(message_id, {}).get("channel_id") != channel_id:
            return _error(404, 10008, "Unknown Message")
        await self.react(message_id, emoji, user_id=BOT_ID, add=False, channel_id=channel_id)
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
        answered: dict[str, Any] = {"interaction": answer}
        if kind in (4, 5):
            loading = LOADING if kind == 5 else 0
            inter.original = self._store(data, channel_id=inter.channel_id, flags=data.get("flags", 0) | loading)
            inter.replies.append(inter.original["id"])
            answer["response_message_id"] = inter.original["id"]
            if kind == 4:  # the spec's resources: a created (4) or updated (7) message; none for a deferral
                answered["resource"] = {"type": 4, "message": self._shown(inter.original)}
        elif kind == 7 and inter.message_id in self.messages:
            message = self.messages[inter.message_id]
            for key in ("content", "embeds", "components"):
                if key in data:
                    message[key] = copy.deepcopy(data[key])
            _number_components(message["components"])
            message["edited_timestamp"] = datetime.fromtimestamp(self.wall_clock(), UTC).isoformat()
            answered["resource"] = {"type": 7, "message": self._shown(message)}
        return _json(200, answered)

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
        if inter is None or inter.original is None or inter.original["id"] not in self.messages:
            return _error(404, 10008, "Unknown Message")
        self.deleted[inter.original["id"]] = self.messages.pop(inter.original["id"])
        return web.Response(status=204)

    def _store(self, body: dict[str, Any], *, channel_id: str, flags: int, message_id: str | None = None) -> dict:
        message = payload("message")
        message.update(id=message_id or self.snowflake(), channel_id=channel_id, flags=flags)
        message["timestamp"] = _snowflake_time(message["id"])
        for key in ("content", "embeds", "components"):
            message[key] = copy.deepcopy(body.get(key) or message[key])
        for embed in message["embeds"]:
            embed.setdefault("type", "rich")
            for item in embed.get("fields") or []:
                item.setdefault("inline", False)
        _number_components(message["components"])
        if message_id is None:
            self.created[channel_id] += 1
            thread = self.threads.get(channel_id)
            if thread is not None:
                thread["message_count"] += 1
                thread["total_message_sent"] += 1
                thread["last_message_id"] = message["id"]
        self.messages[message["id"]] = message
        return message

    def _shown(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as Discord answers it: a copy, with its `reactions` when it has any, and someone else's content
        only if the app has the MESSAGE_CONTENT intent."""
        shown = copy.deepcopy(message)
        if "poll" in shown:  # answers without votes have no entry (poll.mdx); apps cannot vote: me_voted is false
            votes = self.poll_votes.get(message["id"], {})
            counts = [{"id": a, "count": len(users), "me_voted": False} for a, users in votes.items() if users]
            shown["poll"]["results"]["answer_counts"] = counts
        if not self.message_content_intent and not _content_exempt(shown):
            shown = _without_content(shown)
        counts = [(e, users) for e, users in self.reactions.get(message["id"], {}).items() if users]
        if counts:
            shown["reactions"] = [
                {
                    "emoji": {"id": None, "name": e},
                    "count": len(users),
                    "me": BOT_ID in users,
                    "me_burst": False,
                    "count_details": {"burst": 0, "normal": len(users)},
                    "burst_colors": [],
                }
                for e, users in counts
            ]
        return shown


def _user(user_id: str, *, bot: bool = False) -> dict[str, Any]:
    """A person's (or another bot's) user object, as in a message's `author`."""
    user = payload("message")["author"]
    user.update(id=user_id, username=USERNAMES.get(user_id, f"user{user_id[-4:]}"), bot=bot)
    return user


def _member() -> dict[str, Any]:
    """The partial guild member a guild MESSAGE_CREATE carries (its user is the `author`)."""
    return {"roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": False, "mute": False, "flags": 0}


def _content_exempt(message: dict[str, Any]) -> bool:
    """Discord shows content without MESSAGE_CONTENT for the app's own messages and those that mention it."""
    return message["author"]["id"] == BOT_ID or any(m.get("id") == BOT_ID for m in message.get("mentions") or [])


def _without_content(message: dict[str, Any]) -> dict[str, Any]:
    """What a session without MESSAGE_CONTENT sees: content, embeds, attachments and components empty, no poll."""
    blank = {"content": "", "embeds": [], "attachments": [], "components": []}
    return {k: v for k, v in message.items() if k != "poll"} | blank


def _poll_errors(body: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
    """PollCreateRequest (poll.mdx): question text 1-300, 1-10 answers of text 1-55, duration 1-768 whole hours
    (default 24), allow_multiselect a boolean, layout_type 1."""
    poll = body.get("poll")
    if poll is None:
        return None
    problems: dict[str, Any] = {}
    if not isinstance(poll, dict):
        return 50035, "Invalid Form Body", {"poll": {"_errors": [{"code": "DICT_TYPE_CONVERT"}]}}
    question = (poll.get("question") or {}).get("text") if isinstance(poll.get("question"), dict) else None
    if not isinstance(question, str) or not 1 <= len(question) <= 300:
        problems["poll.question.text"] = _length(1, 300)
    answers = poll.get("answers")
    if not isinstance(answers, list) or not 1 <= len(answers) <= 10:
        problems["poll.answers"] = {
            "_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 10 in length."}]
        }
    for n, answer in enumerate(answers if isinstance(answers, list) else []):
        media = answer.get("poll_media") if isinstance(answer, dict) else None
        text = media.get("text") if isinstance(media, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= 55:
            problems[f"poll.answers.{n}.poll_media.text"] = _length(1, 55)
    hours = poll.get("duration")
    whole = isinstance(hours, int | float) and not isinstance(hours, bool) and float(hours).is_integer()
    if hours is not None and not (whole and 1 <= hours <= 768):
        problems["poll.duration"] = {
            "_errors": [{"code": "NUMBER_TYPE_MAX", "message": "int value should be between 1 and 768."}]
        }
    if poll.get("allow_multiselect") not in (None, True, False):
        problems["poll.allow_multiselect"] = {"_errors": [{"code": "BASE_TYPE_BAD"}]}
    if poll.get("layout_type") not in (None, 1):
        problems["poll.layout_type"] = {
            "_errors": [{"code": "BASE_TYPE_CHOICES", "message": "Value must be one of {1}."}]
        }
    return (50035, "Invalid Form Body", problems) if problems else None


def _length(low: int, high: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": f"Must be between {low} and {high} in length."}]}


def _thread_errors(body: dict[str, Any]) -> dict[str, Any] | None:
    """CreateTextThreadWithMessageRequest: name 1-100, auto_archive_duration one of 60/1440/4320/10080 (or null),
    rate_limit_per_user 0-21600."""
    problems: dict[str, Any] = {}
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        code = "BASE_TYPE_REQUIRED" if name is None else "BASE_TYPE_BAD_LENGTH"
        problems["name"] = {"_errors": [{"code": code, "message": "Must be between 1 and 100 in length."}]}
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_DURATIONS:
        choices = "Value must be one of {60, 1440, 4320, 10080}."
        problems["auto_archive_duration"] = {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": choices}]}
    slowmode = body.get("rate_limit_per_user")
    if slowmode is not None and not (isinstance(slowmode, int) and 0 <= slowmode <= 21600):
        bound = "int value should be between 0 and 21600."
        problems["rate_limit_per_user"] = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": bound}]}
    return problems or None


def _owns(session: Session | _Socket, guild_id: str) -> bool:
    return session.shard is None or (int(guild_id) >> 22) % session.shard[1] == session.shard[0]


async def _send_frame(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionResetError, RuntimeError):  # the bot went away meanwhile: RESUME replays it
        await ws.send_str(json.dumps(frame))


def _bucket_headers(bucket_id: str, bucket: _Bucket, now: float, epoch: float) -> dict[str, str]:
    reset_after = math.ceil(max(0.0, bucket.reset_at - now) * 1000) / 1000  # rounded up: a client never wakes early
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
        "X-RateLimit-Reset": f"{epoch + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket_id,
    }


def _with(response: web.StreamResponse | None, headers: dict[str, str]) -> web.StreamResponse | None:
    """Every REST answer carries its route's bucket headers (a 429 already has its own)."""
    if response is not None and response.status != 429:
        response.headers.update(headers)
    return response


def _server_error(status: int) -> web.Response:
    return _error(status, 0, _5XX.get(status, f"{status}: Server Error"))


def _snowflake_time(snowflake: str) -> str:
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC).isoformat()


def _nonce_errors(body: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
    """`nonce`: an int64 or a string of at most 25 characters (message.mdx: "up to 25 characters")."""
    nonce = body.get("nonce")
    if nonce is None or (isinstance(nonce, str) and len(nonce) <= 25):
        return None
    if isinstance(nonce, int) and not isinstance(nonce, bool) and -(2**63) <= nonce < 2**63:
        return None
    code = "BASE_TYPE_BAD_LENGTH" if isinstance(nonce, str) else "BASE_TYPE_BAD_INT"
    return 50035, "Invalid Form Body", {"nonce": {"_errors": [{"code": code, "message": "Invalid nonce."}]}}


def _number_components(components: list[dict[str, Any]], start: int = 0) -> int:
    """Discord gives every component without one an `id`, counting depth-first from 1."""
    for component in components:
        start += 1
        component.setdefault("id", start)
        start = _number_components(component.get("components") or [], start)
    return start


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
    filled = body.get("content") or embeds or rows or body.get("poll")
    return None if filled else (50006, "Cannot send an empty message", None)


def _row_ok(row: dict[str, Any]) -> bool:
    buttons = row.get("components") or []
    for button in buttons:
        link = button.get("style") == 5
        if len(button.get("label") or "") > 80 or link != bool(button.get("url")):
            return False
        if not link and not 1 <= len(button.get("custom_id") or "") <= 100:
            return False
    return row.get("type") == 1 and 1 <= len(buttons) <= 5


def _too_long(limit: int, key: str | None = None) -> dict[str, Any]:
    error = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}
    return {key: error} if key else error
