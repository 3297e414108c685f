"""Threads in the fake Discord, driven by the real discord.py: a public thread started from a message (its id is the
message's, THREAD_CREATE follows), the bot posting in it, people (and other bots) replying and deleting their
replies, as Discord's gateway carries them without the privileged MESSAGE_CONTENT intent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest

from tests.adapters.discord.support import PlainClient
from tests.fakes.discord_server import (
    ALICE,
    BOB,
    BOT_ID,
    GUILD_ID,
    OTHER_BOT,
    PAPERS_CHANNEL,
    FakeDiscord,
)
from tests.fakes.spec import discord_errors, discord_unknown_fields

Connect = Callable[..., Awaitable[discord.Client]]
THREADS = r"POST /channels/\d+/messages/\d+/threads"


def guild_messages() -> discord.Intents:
    """What a bot counting replies asks for: guilds and guild messages, nothing privileged."""
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = True
    return intents


@pytest.fixture
def connect(plain_client: PlainClient) -> Connect:
    """A plain discord.Client on the fake, with guild messages intents unless told otherwise."""

    def start(intents: discord.Intents | None = None) -> Awaitable[discord.Client]:
        return plain_client(intents or guild_messages())

    return start


async def papers(client: discord.Client) -> discord.TextChannel:
    channel = client.get_channel(int(PAPERS_CHANNEL))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def next_event(client: discord.Client, event: str, action: Awaitable[Any]) -> Any:
    """Run `action` and return what discord.py dispatched for `event` because of it."""
    waiting = asyncio.ensure_future(client.wait_for(event, timeout=5))
    await asyncio.sleep(0)  # the waiter is registered before the action runs
    await action
    return await waiting


async def test_a_thread_started_from_a_message_has_its_id_its_parent_and_reaches_the_bot_as_thread_create(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    card = await (await papers(client)).send("A paper")
    created = asyncio.ensure_future(client.wait_for("thread_create", timeout=5))
    await asyncio.sleep(0)
    thread = await card.create_thread(name="Discuss: A paper", auto_archive_duration=4320)
    assert (thread.id, thread.parent_id, thread.owner_id) == (card.id, int(PAPERS_CHANNEL), int(BOT_ID))
    assert thread.type is discord.ChannelType.public_thread and thread.auto_archive_duration == 4320
    assert (await created).id == card.id and client.get_guild(int(GUILD_ID)).get_thread(card.id) is not None  # type: ignore[union-attr]
    (request,) = fake.sent("POST", r"/channels/\d+/messages/\d+/threads")
    assert request.status == 201 and request.answer["type"] == 11
    fetched = await client.http.get_message(PAPERS_CHANNEL, card.id)
    assert fetched["thread"]["id"] == str(card.id) and fetched["flags"] & (1 << 5)  # HAS_THREAD
    reply = await thread.send("What do you all think?")
    assert [m["id"] for m in fake.channel_messages(str(thread.id))] == [str(reply.id)]
    channel = await client.http.get_channel(thread.id)
    assert (channel["message_count"], channel["total_message_sent"], channel["last_message_id"]) == (
        1,
        1,
        str(reply.id),
    )
    assert [m["id"] for m in await client.http.logs_from(thread.id, 10)] == [str(reply.id)]


async def test_starting_a_second_thread_an_unknown_message_or_a_bad_body_is_refused_as_discord_refuses_it(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    channel = await papers(client)
    card = await channel.send("A paper")
    thread = await card.create_thread(name="Discuss")
    with pytest.raises(discord.HTTPException) as again:
        await card.create_thread(name="Discuss again")
    assert (again.value.status, again.value.code) == (400, 160004)
    assert again.value.text == "A thread has already been created for this message"
    with pytest.raises(discord.NotFound) as unknown:
        await client.http.start_thread_with_message(PAPERS_CHANNEL, 1, name="x", auto_archive_duration=60)
    assert unknown.value.code == 10008
    gone = await channel.send("soon deleted")
    await gone.delete()
    with pytest.raises(discord.NotFound):
        await gone.create_thread(name="too late")
    inner = await thread.send("in the thread")
    with pytest.raises(discord.HTTPException) as nested:  # no thread from a message inside a thread
        await client.http.start_thread_with_message(thread.id, inner.id, name="x", auto_archive_duration=60)
    assert nested.value.code == 50024
    other = await channel.send("another")
    bad = [
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"auto_archive_duration": 30}, "auto_archive_duration"),
    ]
    for body, field in bad:
        with pytest.raises(discord.HTTPException) as invalid:
            await client.http.start_thread_with_message(
                PAPERS_CHANNEL, other.id, **{"name": "ok", "auto_archive_duration": 60} | body
            )
        assert (invalid.value.status, invalid.value.code) == (400, 50035)
        assert f"In {field}: " in str(invalid.value)  # discord.py names the field Discord's `errors` object names
    assert str(other.id) not in fake.threads  # nothing was created by the refused requests


@pytest.mark.parametrize(
    ("mode", "params", "status", "code"),
    [
        ("missing_access", {}, 403, 50001),
        ("missing_permissions", {}, 403, 50013),
        ("unknown_message", {}, 404, 10008),
        ("5xx", {"status": 503}, 503, 0),
        ("429", {"retry_after": 90.0}, 429, None),
    ],
)
async def test_the_thread_route_fails_in_each_fault_mode_and_the_thread_is_not_created(
    fake: FakeDiscord, connect: Connect, mode: str, params: dict[str, Any], status: int, code: int | None
) -> None:
    client = await connect()
    client.http.max_ratelimit_timeout = 60.0  # a 429 of 90 s raises RateLimited instead of waiting
    card = await (await papers(client)).send("A paper")
    fake.faults.inject(THREADS, mode, **params)
    with pytest.raises((discord.HTTPException, discord.RateLimited)) as caught:
        await card.create_thread(name="Discuss")
    if code is None:
        assert isinstance(caught.value, discord.RateLimited) and caught.value.retry_after == 90.0
    else:
        assert isinstance(caught.value, discord.HTTPException)
        assert (caught.value.status, caught.value.code) == (status, code)
    assert not fake.threads
    fake.faults.inject(THREADS, "429", retry_after=0.01)  # a short one: discord.py waits and asks again
    assert (await card.create_thread(name="Discuss")).id == card.id


async def test_people_replying_in_a_thread_reach_the_bot_with_author_and_thread_but_no_content_without_the_intent(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    card = await (await papers(client)).send("A paper")
    thread = await card.create_thread(name="Discuss")
    said = await next_event(client, "message", fake.say(str(thread.id), "I loved section 3", user_id=ALICE))
    assert (said.author.id, said.author.bot, said.channel.id, said.guild.id) == (
        int(ALICE),
        False,
        thread.id,
        int(GUILD_ID),
    )
    assert said.content == "" and isinstance(said.channel, discord.Thread)  # MESSAGE_CONTENT is privileged
    robot = await next_event(client, "message", fake.say(str(thread.id), "beep", user_id=OTHER_BOT, bot=True))
    assert robot.author.bot is True and robot.author.id == int(OTHER_BOT)
    mention = await next_event(client, "message", fake.say(str(thread.id), f"<@{BOT_ID}> thoughts?", user_id=BOB))
    assert mention.content == f"<@{BOT_ID}> thoughts?"  # a message mentioning the app shows its content anyway
    frames = [f for f in fake.sessions["fake-session"].events if f["t"] == "MESSAGE_CREATE"]
    first = frames[-3]["d"]
    assert (first["channel_id"], first["guild_id"], first["author"]["id"], first["content"]) == (
        str(thread.id),
        GUILD_ID,
        ALICE,
        "",
    )
    assert "member" in first and first["author"]["bot"] is False
    assert (await client.http.get_message(thread.id, said.id))["content"] == ""  # REST hides it too
    assert fake.thread_members(str(thread.id)) == {BOT_ID, ALICE, OTHER_BOT, BOB}
    assert (await client.http.get_channel(thread.id))["member_count"] == 4


async def test_with_the_message_content_intent_granted_and_asked_for_people_s_text_arrives(
    fake: FakeDiscord, connect: Connect
) -> None:
    intents = guild_messages()
    intents.message_content = True
    with pytest.raises(discord.PrivilegedIntentsRequired):  # not enabled in the developer portal: close 4014
        await connect(intents)
    fake.message_content_intent = True
    client = await connect(intents)
    said = await next_event(client, "message", fake.say(PAPERS_CHANNEL, "hello", user_id=ALICE))
    assert said.content == "hello" and (await client.http.get_message(PAPERS_CHANNEL, said.id))["content"] == "hello"


async def test_a_deleted_reply_is_message_delete_with_ids_only_and_the_thread_counts_follow(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    card = await (await papers(client)).send("A paper")
    thread = await card.create_thread(name="Discuss")
    reply = await fake.say(str(thread.id), "first!", user_id=ALICE)
    deleted = await next_event(client, "raw_message_delete", fake.delete_message(reply["id"]))
    assert (deleted.message_id, deleted.channel_id, deleted.guild_id) == (int(reply["id"]), thread.id, int(GUILD_ID))
    (frame,) = [f for f in fake.sessions["fake-session"].events if f["t"] == "MESSAGE_DELETE"]
    assert frame["d"] == {"id": reply["id"], "channel_id": str(thread.id), "guild_id": GUILD_ID}  # no author
    assert reply["id"] in fake.deleted and not fake.channel_messages(str(thread.id))
    channel = await client.http.get_channel(thread.id)
    assert (channel["message_count"], channel["total_message_sent"]) == (0, 1)
    with pytest.raises(discord.NotFound):
        await client.http.get_message(thread.id, reply["id"])


async def test_a_session_that_connects_later_sees_the_active_threads_in_guild_create(
    fake: FakeDiscord, connect: Connect
) -> None:
    first = await connect()
    card = await (await papers(first)).send("A paper")
    await card.create_thread(name="Discuss")
    second = await connect()
    thread = second.get_guild(int(GUILD_ID)).get_thread(card.id)  # type: ignore[union-attr]
    assert thread is not None and thread.name == "Discuss" and thread.parent_id == int(PAPERS_CHANNEL)


async def test_thread_answers_fit_discords_published_spec(fake: FakeDiscord, connect: Connect) -> None:
    client = await connect()
    card = await (await papers(client)).send("A paper")
    thread = await card.create_thread(name="Discuss")
    await thread.send("in the thread")
    await client.http.get_channel(thread.id)
    await client.http.get_message(PAPERS_CHANNEL, card.id)
    with pytest.raises(discord.HTTPException):
        await card.create_thread(name="again")
    schemas = {
        "POST /channels/\\d+/messages/\\d+/threads": "ThreadResponse",
        f"GET /channels/{thread.id}": "ThreadResponse",
        "GET /channels/\\d+/messages/\\d+": "MessageResponse",
        "POST /channels/\\d+/messages": "MessageResponse",
    }
    problems, covered = [], set()
    for seen in fake.requests:
        pattern = next((p for p in schemas if re.fullmatch(p, f"{seen.method} {seen.route}")), None)
        if pattern is None:  # logging in: checked by test_discord_fake_shapes.py
            continue
        covered.add(pattern)
        name = "ErrorResponse" if seen.status >= 400 else schemas[pattern]
        problems += [f"{seen.route}: {p}" for p in discord_errors(name, False, seen.answer)]
        problems += discord_unknown_fields(name, False, seen.answer) if seen.status < 400 else []
    assert not problems, "\n".join(problems)
    assert covered == set(schemas) and {r.status for r in fake.requests} >= {200, 201, 400}
