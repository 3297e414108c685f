"""The fake Discord is only worth its tests if it fails as Discord does: each fault mode, the rate-limit buckets, the
nonce idempotency and the gateway's RESUME, checked with the real discord.py HTTP client (or raw aiohttp where the
wire itself is the point)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import Route

from tests.fakes.discord_server import (
    GENERAL_CHANNEL,
    GUILD_ID,
    PAPERS_CHANNEL,
    REALISTIC_MESSAGE_BUCKET,
    TOKEN,
    FakeDiscord,
)
from tests.fakes.faults import ManualClock

POSTS = r"POST /channels/\d+/messages"


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[discord.http.HTTPClient]:
    """discord.py's own HTTP client, logged in to the fake; a 429 above 60 s raises RateLimited instead of waiting."""
    client = discord.http.HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=60.0)
    await client.static_login(TOKEN)
    yield client
    await client.close()


def post(http: discord.http.HTTPClient, channel: str = PAPERS_CHANNEL, **body: Any) -> Any:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel)
    return http.request(route, json={"content": "hello"} | body)


async def raw(fake: FakeDiscord, method: str, route: str, body: Any = None) -> tuple[int, Any, Any]:
    """One request on the wire, without discord.py's rate-limit handling: (status, headers, JSON body or None)."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + route, json=body, headers=headers) as response,
    ):
        data = await response.json(content_type=None) if response.status != 204 else None
        return response.status, response.headers, data


# -- fault modes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "error", "status", "code"),
    [
        ("missing_access", discord.Forbidden, 403, 50001),
        ("missing_permissions", discord.Forbidden, 403, 50013),
        ("unknown_channel", discord.NotFound, 404, 10003),
        ("unknown_message", discord.NotFound, 404, 10008),
        ("invalid_form_body", discord.HTTPException, 400, 50035),
        ("unauthorized", discord.HTTPException, 401, 0),
    ],
)
async def test_each_error_mode_is_discords_status_and_code_as_discord_py_raises_it(
    fake: FakeDiscord, http: discord.http.HTTPClient, mode: str, error: type[Exception], status: int, code: int
) -> None:
    fault = fake.faults.inject(POSTS, mode)
    with pytest.raises(error) as caught:
        await post(http)
    assert (caught.value.status, caught.value.code) == (status, code)  # type: ignore[attr-defined]
    assert fault.hits == 1 and fake.sent("POST", r"/channels/\d+/messages")[-1].fault == mode
    if mode == "invalid_form_body":
        assert "content" in str(caught.value)  # discord.py flattens the `errors` object into its message
    assert fake.messages_created(PAPERS_CHANNEL) == 0
    await post(http)  # times=1: the next request goes through
    assert fake.messages_created(PAPERS_CHANNEL) == 1


async def test_a_503_is_a_server_error_and_a_500_is_retried_by_discord_py_and_lands(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    fake.faults.inject(POSTS, "5xx", status=503)
    with pytest.raises(discord.DiscordServerError) as caught:
        await post(http)
    assert caught.value.status == 503 and caught.value.text == "503: Service Unavailable"
    fake.faults.inject(POSTS, "5xx")  # 500: discord.py sleeps 1 s and tries again
    await post(http)
    assert [r.status for r in fake.sent("POST", r"/channels/\d+/messages")] == [503, 500, 200]
    assert fake.messages_created(PAPERS_CHANNEL) == 1


async def test_a_429_beyond_max_ratelimit_timeout_raises_rate_limited_with_discords_headers(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    fake.faults.inject(POSTS, "429", retry_after=90.0)
    with pytest.raises(discord.RateLimited) as caught:
        await post(http)
    assert caught.value.retry_after == 90.0
    fake.faults.inject(POSTS, "429", retry_after=90.0, is_global=True)
    status, headers, body = await raw(fake, "POST", f"/channels/{PAPERS_CHANNEL}/messages", {"content": "x"})
    assert (status, body["global"], body["retry_after"]) == (429, True, 90.0)
    assert headers["Via"] and headers["Retry-After"] == "90" and headers["X-RateLimit-Scope"] == "global"
    assert headers["X-RateLimit-Global"] == "true" and "X-RateLimit-Bucket" not in headers
    fake.faults.inject(POSTS, "429", retry_after=0.01)  # a short one: discord.py waits and retries
    await post(http)
    assert fake.messages_created(PAPERS_CHANNEL) == 1


async def test_a_reset_closes_the_connection_without_an_answer(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    fake.faults.inject(POSTS, "reset")
    with pytest.raises(aiohttp.ClientError):
        await post(http)
    assert fake.sent("POST", r"/channels/\d+/messages")[0].status == 0
    assert fake.messages_created(PAPERS_CHANNEL) == 0
    await post(http)  # the fake (and the client's session) carry on
    assert fake.messages_created(PAPERS_CHANNEL) == 1


async def test_a_slow_answer_trips_a_client_timeout_and_otherwise_arrives(fake: FakeDiscord) -> None:
    fake.faults.inject(r"GET /channels/\d+", "slow", delay=0.5, times=2)
    timeout = aiohttp.ClientTimeout(total=0.05)
    async with aiohttp.ClientSession(timeout=timeout, headers={"Authorization": f"Bot {fake.token}"}) as session:
        with pytest.raises(TimeoutError):
            await session.get(f"{fake.api_base}/channels/{PAPERS_CHANNEL}")
    status, _, body = await raw(fake, "GET", f"/channels/{PAPERS_CHANNEL}")
    assert status == 200 and body["name"] == "papers"


@pytest.mark.parametrize("answer", ["5xx", "reset"])
async def test_lost_creates_the_message_but_the_bot_never_learns_it_unless_the_nonce_finds_it(
    fake: FakeDiscord, http: discord.http.HTTPClient, answer: str
) -> None:
    fake.faults.inject(POSTS, "lost", answer=answer, status=503)
    with pytest.raises((discord.DiscordServerError, aiohttp.ClientError)):
        await post(http, content="card 1", nonce="hp-abc", enforce_nonce=True)
    assert [m["content"] for m in fake.channel_messages(PAPERS_CHANNEL)] == ["card 1"]  # it exists on Discord
    again = await post(http, content="card 1", nonce="hp-abc", enforce_nonce=True)  # the retry with the same nonce
    assert again["id"] == fake.channel_messages(PAPERS_CHANNEL)[0]["id"] and fake.messages_created(PAPERS_CHANNEL) == 1
    await post(http, content="card 1")  # without a nonce, a retry is a duplicate
    assert fake.messages_created(PAPERS_CHANNEL) == 2


async def test_faults_respect_after_and_times_none_until_cleared(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    fault = fake.faults.inject(POSTS, "missing_permissions", after=2, times=None)
    await post(http)
    await post(http)
    for _ in range(3):
        with pytest.raises(discord.Forbidden):
            await post(http)
    fake.faults.clear()
    await post(http)
    assert fault.hits == 3 and fake.messages_created(PAPERS_CHANNEL) == 3


# -- rate-limit buckets ----------------------------------------------------------------------------------------------


async def test_every_answer_carries_its_routes_bucket_headers(fake: FakeDiscord) -> None:
    answers = [
        await raw(fake, "GET", f"/channels/{PAPERS_CHANNEL}"),
        await raw(fake, "GET", "/channels/3999999999999999999"),
        await raw(fake, "POST", f"/channels/{PAPERS_CHANNEL}/messages", {"content": "x"}),
        await raw(fake, "GET", f"/channels/{PAPERS_CHANNEL}/messages/1"),
    ]
    assert [status for status, _, _ in answers] == [200, 404, 200, 404]
    for _, headers, _ in answers:
        assert {
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "X-RateLimit-Reset-After",
            "X-RateLimit-Bucket",
        } <= set(headers)
    assert answers[0][1]["X-RateLimit-Bucket"] != answers[2][1]["X-RateLimit-Bucket"]  # one bucket per route
    message_id = answers[2][2]["id"]
    status, headers, _ = await raw(fake, "DELETE", f"/channels/{PAPERS_CHANNEL}/messages/{message_id}")
    assert status == 204 and "X-RateLimit-Remaining" in headers


async def test_the_realistic_message_bucket_allows_five_per_channel_then_answers_429_until_it_resets(
    fake: FakeDiscord,
) -> None:
    clock = ManualClock()
    fake.clock, fake.message_bucket = clock, REALISTIC_MESSAGE_BUCKET
    answers = [await raw(fake, "POST", f"/channels/{PAPERS_CHANNEL}/messages", {"content": "x"}) for _ in range(6)]
    assert [a[0] for a in answers] == [200] * 5 + [429]
    assert [a[1]["X-RateLimit-Remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert {a[1]["X-RateLimit-Limit"] for a in answers} == {"5"} and answers[0][1]["X-RateLimit-Reset-After"] == "5.000"
    _, headers, body = answers[5]
    assert (
        headers["X-RateLimit-Scope"] == "user"
        and headers["Via"]
        and body == {"message": "You are being rate limited.", "retry_after": 5.0, "global": False, "code": 0}
    )
    assert (await raw(fake, "POST", f"/channels/{GENERAL_CHANNEL}/messages", {"content": "x"}))[0] == 200
    clock.now += 5.0
    assert (await raw(fake, "POST", f"/channels/{PAPERS_CHANNEL}/messages", {"content": "x"}))[0] == 200


async def test_discord_py_waits_on_the_bucket_headers_so_a_tight_bucket_never_answers_429(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    fake.message_bucket = fake.reaction_bucket = (2, 0.2)
    posted = [await post(http, content=f"#{n}") for n in range(5)]
    for emoji in ("👍", "👎", "🔥"):
        await http.add_reaction(PAPERS_CHANNEL, posted[0]["id"], emoji)
    assert {r.status for r in fake.requests if r.method != "GET"} == {200, 204}  # never a 429: discord.py waited
    assert fake.messages_created(PAPERS_CHANNEL) == 5


# -- nonce + enforce_nonce -------------------------------------------------------------------------------------------


async def test_enforce_nonce_returns_the_existing_message_within_the_window_and_the_nonce_is_never_stored(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    clock = ManualClock()
    fake.clock = clock
    first = await post(http, content="card", nonce="hp-2020-11-06-1", enforce_nonce=True)
    again = await post(http, content="card", nonce="hp-2020-11-06-1", enforce_nonce=True)
    assert again["id"] == first["id"] and first["nonce"] == again["nonce"] == "hp-2020-11-06-1"
    assert fake.messages_created(PAPERS_CHANNEL) == 1
    fetched = await http.get_message(PAPERS_CHANNEL, first["id"])
    listed = await http.logs_from(PAPERS_CHANNEL, 10)
    assert "nonce" not in fetched and all("nonce" not in m for m in listed)  # Discord keeps no nonce
    await post(http, content="card", nonce="hp-2020-11-06-1", enforce_nonce=True, channel=GENERAL_CHANNEL)
    await post(http, content="card", nonce="hp-2020-11-06-1")  # without enforce_nonce: a second message
    assert (fake.messages_created(PAPERS_CHANNEL), fake.messages_created(GENERAL_CHANNEL)) == (2, 1)
    clock.now += 301  # outside the window ("the past few minutes"): a new message
    later = await post(http, content="card", nonce="hp-2020-11-06-1", enforce_nonce=True)
    assert later["id"] != first["id"] and fake.messages_created(PAPERS_CHANNEL) == 3
    numeric = await post(http, nonce=12345, enforce_nonce=True)
    assert (await post(http, nonce=12345, enforce_nonce=True))["id"] == numeric["id"]


async def test_a_nonce_longer_than_25_characters_is_an_invalid_form_body(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await post(http, nonce="x" * 26, enforce_nonce=True)
    assert (caught.value.status, caught.value.code) == (400, 50035) and "nonce" in str(caught.value)


# -- message and channel routes --------------------------------------------------------------------------------------


async def test_channel_history_is_newest_first_with_limit_before_after_and_around(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    ids = [(await post(http, content=f"#{n}"))["id"] for n in range(7)]
    await post(http, channel=GENERAL_CHANNEL)  # another channel's message never shows
    contents = lambda ms: [m["content"] for m in ms]  # noqa: E731
    assert contents(await http.logs_from(PAPERS_CHANNEL, 3)) == ["#6", "#5", "#4"]
    assert contents(await http.logs_from(PAPERS_CHANNEL, 50)) == [f"#{n}" for n in range(6, -1, -1)]
    assert contents(await http.logs_from(PAPERS_CHANNEL, 2, before=ids[3])) == ["#2", "#1"]
    assert contents(await http.logs_from(PAPERS_CHANNEL, 2, after=ids[3])) == ["#5", "#4"]
    assert contents(await http.logs_from(PAPERS_CHANNEL, 3, around=ids[3])) == ["#4", "#3", "#2"]
    for limit in (0, 101):
        with pytest.raises(discord.HTTPException) as caught:
            await http.logs_from(PAPERS_CHANNEL, limit)
        assert caught.value.code == 50035
    with pytest.raises(discord.NotFound) as missing:
        await http.logs_from(3999999999999999999, 10)
    assert missing.value.code == 10003


async def test_a_deleted_message_is_gone_from_history_and_lookups_but_still_counted_as_created(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    keep, gone = [await post(http, content=c) for c in ("keep", "gone")]
    await http.delete_message(PAPERS_CHANNEL, gone["id"])
    with pytest.raises(discord.NotFound) as caught:
        await http.get_message(PAPERS_CHANNEL, gone["id"])
    assert caught.value.code == 10008
    with pytest.raises(discord.NotFound):
        await http.delete_message(PAPERS_CHANNEL, gone["id"])
    with pytest.raises(discord.NotFound):  # a message is only found in its own channel
        await http.get_message(GENERAL_CHANNEL, keep["id"])
    assert [m["id"] for m in fake.channel_messages(PAPERS_CHANNEL)] == [keep["id"]]
    assert [m["id"] for m in await http.logs_from(PAPERS_CHANNEL, 10)] == [keep["id"]]
    assert fake.messages_created(PAPERS_CHANNEL) == 2 and gone["id"] in fake.deleted


async def test_get_channel_answers_the_channel_or_unknown_channel(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    message = await post(http)
    channel = await http.get_channel(PAPERS_CHANNEL)
    assert (channel["id"], channel["guild_id"], channel["type"]) == (PAPERS_CHANNEL, GUILD_ID, 0)
    assert channel["last_message_id"] == message["id"]
    with pytest.raises(discord.NotFound) as caught:
        await http.get_channel(3999999999999999999)
    assert caught.value.code == 10003


async def test_messages_carry_component_ids_and_their_reactions(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    button = {"type": 2, "style": 5, "label": "PDF", "url": "https://arxiv.org/pdf/2010.00577"}
    message = await post(http, components=[{"type": 1, "components": [button, button | {"label": "HTML"}]}])
    assert [message["components"][0]["id"]] + [b["id"] for b in message["components"][0]["components"]] == [1, 2, 3]
    await http.add_reaction(PAPERS_CHANNEL, message["id"], "👍")
    await fake.react(message["id"], "👍")
    (reaction,) = (await http.get_message(PAPERS_CHANNEL, message["id"]))["reactions"]
    assert (reaction["emoji"]["name"], reaction["count"], reaction["me"]) == ("👍", 2, True)


# -- gateway ---------------------------------------------------------------------------------------------------------


class Gateway:
    """A hand-driven gateway client, to see the frames themselves."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def frame(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive(), 5)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    async def dispatches(self, count: int) -> list[tuple[str, int]]:
        return [((f := await self.frame())["t"], f["s"]) for _ in range(count)]

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))


async def connect(session: aiohttp.ClientSession, fake: FakeDiscord) -> Gateway:
    gateway = Gateway(await session.ws_connect(fake.gateway_url))
    assert (await gateway.frame())["op"] == 10  # HELLO
    return gateway


async def test_resume_replays_what_was_dispatched_while_the_bot_was_away_in_order(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        first = await connect(session, fake)
        await first.send(2, {"token": TOKEN, "intents": 0, "properties": {}})
        ready = await first.frame()
        assert (ready["t"], ready["s"]) == ("READY", 1) and (await first.frame())["t"] == "GUILD_CREATE"
        await fake.react("1300000000000000001", "👍")
        assert await first.dispatches(1) == [("MESSAGE_REACTION_ADD", 3)]
        await fake.drop_connection()
        assert (await first.ws.receive()).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await fake.react("1300000000000000001", "👎")  # the bot is away: kept for the session
        await fake.dispatch_reaction_remove_emoji(PAPERS_CHANNEL, "1300000000000000001", "👍")
        second = await connect(session, fake)
        await second.send(6, {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 3})
        assert await second.dispatches(3) == [
            ("MESSAGE_REACTION_ADD", 4),
            ("MESSAGE_REACTION_REMOVE_EMOJI", 5),
            ("RESUMED", 6),
        ]
        await fake.dispatch_reaction_remove_all(PAPERS_CHANNEL, "1300000000000000001")
        cleared = await second.frame()
        assert (cleared["t"], cleared["s"], cleared["d"]) == (
            "MESSAGE_REACTION_REMOVE_ALL",
            7,
            {"channel_id": PAPERS_CHANNEL, "message_id": "1300000000000000001", "guild_id": GUILD_ID},
        )
        third = await connect(session, fake)  # resuming from an older sequence replays from there
        await third.send(6, {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 5})
        assert await third.dispatches(3) == [("RESUMED", 6), ("MESSAGE_REACTION_REMOVE_ALL", 7), ("RESUMED", 8)]


async def test_a_resume_of_an_unknown_invalidated_or_cleanly_closed_session_gets_op_9(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        stranger = await connect(session, fake)
        await stranger.send(6, {"token": TOKEN, "session_id": "not-a-session", "seq": 1})
        assert await stranger.frame() == {"op": 9, "d": False}
        bot = await connect(session, fake)
        await bot.send(2, {"token": TOKEN, "intents": 0, "properties": {}})
        session_id = (await bot.frame())["d"]["session_id"]
        await bot.frame()
        await fake.invalidate_session()
        assert await bot.frame() == {"op": 9, "d": False}
        await fake.react("1300000000000000001", "👍")  # dispatched to nobody: the session is over
        again = await connect(session, fake)
        await again.send(6, {"token": TOKEN, "session_id": session_id, "seq": 2})
        assert await again.frame() == {"op": 9, "d": False}
        fresh = await connect(session, fake)
        await fresh.send(2, {"token": TOKEN, "intents": 0, "properties": {}})
        ready = await fresh.frame()
        assert ready["d"]["session_id"] not in ("fake-session", session_id)
        await fresh.frame()
        await fresh.ws.close(code=1000)  # a clean close by the bot ends its session too
        await fake.until(lambda: fake.sessions[ready["d"]["session_id"]].socket is None)
        last = await connect(session, fake)
        await last.send(6, {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 2})
        assert await last.frame() == {"op": 9, "d": False}


async def test_a_resume_with_a_sequence_discord_never_sent_is_closed_with_4007(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        bot = await connect(session, fake)
        await bot.send(2, {"token": TOKEN, "intents": 0, "properties": {}})
        session_id = (await bot.frame())["d"]["session_id"]
        await fake.drop_connection()
        back = await connect(session, fake)
        await back.send(6, {"token": TOKEN, "session_id": session_id, "seq": 99})
        closed = await back.ws.receive()
        assert (closed.type, back.ws.close_code) == (aiohttp.WSMsgType.CLOSE, 4007)


async def test_message_create_and_delete_reach_sessions_with_the_guild_messages_intent_with_the_nonce(
    fake: FakeDiscord, http: discord.http.HTTPClient
) -> None:
    async with aiohttp.ClientSession() as session:
        bot = await connect(session, fake)
        await bot.send(2, {"token": TOKEN, "intents": 1 << 9, "properties": {}})
        await bot.dispatches(2)
        message = await post(http, nonce="hp-1", enforce_nonce=True)
        await post(http, nonce="hp-1", enforce_nonce=True)  # returned, not created: no second event
        await http.delete_message(PAPERS_CHANNEL, message["id"])
        created, deleted = await bot.frame(), await bot.frame()
        assert (created["t"], created["d"]["id"], created["d"]["nonce"]) == ("MESSAGE_CREATE", message["id"], "hp-1")
        assert (deleted["t"], deleted["d"]) == (
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": PAPERS_CHANNEL, "guild_id": GUILD_ID},
        )
