"""Polls in the fake Discord, driven by the real discord.py: a poll created with `discord.Poll`, people voting and
changing their vote (MESSAGE_POLL_VOTE_ADD / REMOVE with the poll intent), the voters of an answer page by page, and
the end of a poll (`Message.end_poll`, or its duration passing on the fake's clock) with finalized results and the
POLL_RESULT message, in the shapes of Discord's published spec."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import discord
import pytest
from discord.http import Route

from tests.adapters.discord.support import PlainClient
from tests.fakes.discord_server import ALICE, BOB, BOT_ID, GUILD_ID, PAPERS_CHANNEL, FakeDiscord
from tests.fakes.spec import discord_errors, discord_unknown_fields

Connect = Callable[..., Awaitable[discord.Client]]
CAROL = "4000000000000000003"
PAPERS = ("Attention is all you need", "An image is worth 16x16 words", "Deep residual learning")


def poll_intents() -> discord.Intents:
    """Guilds, guild messages and guild polls (1 << 24): what a bot counting live votes asks for."""
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.guild_polls = True
    return intents


@pytest.fixture
def connect(plain_client: PlainClient) -> Connect:
    """A plain discord.Client on the fake, with poll intents intents unless told otherwise."""

    def start(intents: discord.Intents | None = None) -> Awaitable[discord.Client]:
        return plain_client(intents or poll_intents())

    return start


def journal_club(*, hours: int = 24, multiple: bool = False) -> discord.Poll:
    poll = discord.Poll(question="This week's journal club?", duration=timedelta(hours=hours), multiple=multiple)
    for title in PAPERS:
        poll.add_answer(text=title)
    return poll


async def post_poll(client: discord.Client, **kwargs: Any) -> discord.Message:
    channel = client.get_channel(int(PAPERS_CHANNEL))
    assert isinstance(channel, discord.TextChannel)
    return await channel.send("Vote for Friday's paper", poll=journal_club(**kwargs))


class Frames:
    """The dispatches one session received, by event name."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def of(self, event: str) -> list[dict[str, Any]]:
        return [f["d"] for s in self.fake.sessions.values() for f in s.events if f["t"] == event]


async def test_a_poll_is_created_with_its_answers_duration_and_empty_results(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    message = await post_poll(client)
    poll = message.poll
    assert poll is not None and poll.question == "This week's journal club?"
    assert [(a.id, a.text) for a in poll.answers] == [(1, PAPERS[0]), (2, PAPERS[1]), (3, PAPERS[2])]
    assert (
        poll.duration == timedelta(hours=24)
        and not poll.multiple
        and poll.layout_type is discord.PollLayoutType.default
    )
    assert not poll.is_finalised() and poll.total_votes == 0
    stored = fake.messages[str(message.id)]["poll"]
    assert stored["results"] == {"answer_counts": [], "is_finalized": False}
    (created,) = [d for d in Frames(fake).of("MESSAGE_CREATE") if d["id"] == str(message.id)]
    assert created["poll"]["question"]["text"] == "This week's journal club?"  # the app's own poll keeps its content


@pytest.mark.parametrize(
    ("poll", "field"),
    [
        ({"answers": [{"poll_media": {"text": "a"}}]}, "poll.question.text"),
        ({"question": {"text": "q" * 301}, "answers": [{"poll_media": {"text": "a"}}]}, "poll.question.text"),
        ({"question": {"text": "q"}, "answers": []}, "poll.answers"),
        ({"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}] * 11}, "poll.answers"),
        (
            {"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a" * 56}}]},
            "poll.answers.0.poll_media.text",
        ),
        ({"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}], "duration": 769}, "poll.duration"),
        ({"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}], "duration": 0}, "poll.duration"),
        ({"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}], "duration": 1.5}, "poll.duration"),
        ({"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}], "layout_type": 2}, "poll.layout_type"),
    ],
)
async def test_a_poll_breaking_discords_limits_is_an_invalid_form_body_naming_the_field(
    fake: FakeDiscord, connect: Connect, poll: dict[str, Any], field: str
) -> None:
    client = await connect()
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=PAPERS_CHANNEL)
    with pytest.raises(discord.HTTPException) as caught:
        await client.http.request(route, json={"poll": poll})
    assert (caught.value.status, caught.value.code) == (400, 50035) and f"In {field}: " in str(caught.value)
    assert fake.messages_created(PAPERS_CHANNEL) == 0
    at_the_limits = {
        "question": {"text": "q" * 300},
        "answers": [{"poll_media": {"text": "a" * 55}}] * 10,
        "duration": 768,
    }
    answered = await client.http.request(route, json={"poll": at_the_limits})  # a poll alone is not an empty message
    assert len(answered["poll"]["answers"]) == 10 and answered["content"] == ""


async def test_votes_reach_the_bot_with_the_poll_intent_and_a_changed_vote_is_a_remove_then_an_add(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    message = await post_poll(client)
    seen: list[tuple[str, int, int]] = []
    done = asyncio.Event()

    async def on_raw_poll_vote_add(event: discord.RawPollVoteActionEvent) -> None:
        seen.append(("add", event.user_id, event.answer_id))
        done.set() if len(seen) == 4 else None

    async def on_raw_poll_vote_remove(event: discord.RawPollVoteActionEvent) -> None:
        seen.append(("remove", event.user_id, event.answer_id))

    client.event(on_raw_poll_vote_add)
    client.event(on_raw_poll_vote_remove)
    await fake.vote(str(message.id), 1, user_id=ALICE)
    await fake.vote(str(message.id), 2, user_id=BOB)
    await fake.vote(str(message.id), 2, user_id=ALICE)  # Alice changes her mind
    await fake.vote(str(message.id), 2, user_id=ALICE)  # the same vote again: nothing happens
    await asyncio.wait_for(done.wait(), 5)
    assert seen == [("add", int(ALICE), 1), ("add", int(BOB), 2), ("remove", int(ALICE), 1), ("add", int(ALICE), 2)]
    (first, *_) = Frames(fake).of("MESSAGE_POLL_VOTE_ADD")
    assert first == {
        "user_id": ALICE,
        "channel_id": PAPERS_CHANNEL,
        "message_id": str(message.id),
        "guild_id": GUILD_ID,
        "answer_id": 1,
    }
    fetched = await message.channel.fetch_message(message.id)
    assert [a.vote_count for a in fetched.poll.answers] == [0, 2, 0] and fetched.poll.total_votes == 2  # type: ignore[union-attr]
    raw = fake.messages[str(message.id)]
    assert fake._shown(raw)["poll"]["results"]["answer_counts"] == [{"id": 2, "count": 2, "me_voted": False}]
    await fake.unvote(str(message.id), 2, user_id=BOB)
    assert [a.vote_count for a in (await message.channel.fetch_message(message.id)).poll.answers] == [0, 1, 0]  # type: ignore[union-attr]
    without = await connect(discord.Intents(guilds=True, guild_messages=True))  # no poll intent: no vote events
    await fake.vote(str(message.id), 3, user_id=CAROL)
    (session,) = [s for s in fake.sessions.values() if not s.intents & (1 << 24)]
    assert not [f for f in session.events if f["t"].startswith("MESSAGE_POLL_VOTE")] and without.is_ready()


async def test_a_multiple_choice_poll_keeps_every_answer_a_person_picks(fake: FakeDiscord, connect: Connect) -> None:
    client = await connect()
    message = await post_poll(client, multiple=True)
    for answer in (1, 3):
        await fake.vote(str(message.id), answer, user_id=ALICE)
    assert fake.poll_votes[str(message.id)] == {1: [ALICE], 2: [], 3: [ALICE]}
    assert not Frames(fake).of("MESSAGE_POLL_VOTE_REMOVE")


async def test_voters_of_an_answer_come_by_user_id_after_and_limit_and_discord_py_pages_through_them(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    message = await post_poll(client)
    people = [str(4000000000000000100 + n) for n in range(30)]
    for person in reversed(people):
        await fake.vote(str(message.id), 1, user_id=person)
    fetched = await message.channel.fetch_message(message.id)
    answer = fetched.poll.get_answer(1)  # type: ignore[union-attr]
    assert answer is not None  # discord.py yields each page it fetched in reverse: one page of 30, highest id first
    assert [u.id async for u in answer.voters()] == [int(p) for p in reversed(people)]
    page = await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 1, after=int(people[9]), limit=5)
    assert [u["id"] for u in page["users"]] == people[10:15] and page["users"][0]["bot"] is False
    default = await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 1)
    assert len(default["users"]) == 25
    assert (await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 2))["users"] == []
    for bad in ({"limit": 0}, {"limit": 101}):
        with pytest.raises(discord.HTTPException) as caught:
            await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 1, **bad)
        assert caught.value.code == 50035
    plain = await message.channel.send("no poll here")
    with pytest.raises(discord.NotFound):
        await client.http.get_poll_answer_voters(PAPERS_CHANNEL, plain.id, 1)


async def test_end_poll_finalizes_the_results_and_posts_the_poll_result_message_with_the_victor(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    message = await post_poll(client)
    for person, answer in ((ALICE, 2), (BOB, 2), (CAROL, 1)):
        await fake.vote(str(message.id), answer, user_id=person)
    result_message = asyncio.ensure_future(
        client.wait_for("message", check=lambda m: m.type is discord.MessageType.poll_result, timeout=5)
    )
    await asyncio.sleep(0)
    ended = await message.end_poll()
    assert (
        ended.poll is not None and ended.poll.is_finalised() and [a.vote_count for a in ended.poll.answers] == [1, 2, 0]
    )
    assert ended.poll.expires_at is not None and ended.poll.expires_at <= discord.utils.utcnow()
    result = await result_message
    assert result.reference is not None and result.reference.message_id == message.id
    assert result.author.id == int(BOT_ID) and "has closed" in result.system_content
    fields = {f.name: f.value for f in result.embeds[0].fields}
    assert fields == {
        "poll_question_text": "This week's journal club?",
        "victor_answer_votes": "2",
        "total_votes": "3",
        "victor_answer_id": "2",
        "victor_answer_text": PAPERS[1],
    }
    (update,) = [d for d in Frames(fake).of("MESSAGE_UPDATE") if d["id"] == str(message.id)]
    assert update["poll"]["results"]["is_finalized"] is True
    with pytest.raises(discord.HTTPException) as again:
        await message.end_poll()
    assert (again.value.status, again.value.code) == (400, 520001)
    with pytest.raises(ValueError, match="ended"):
        await fake.vote(str(message.id), 1, user_id=BOB)  # nobody votes on an ended poll
    plain = await message.channel.send("no poll here")
    with pytest.raises(discord.HTTPException) as not_a_poll:
        await client.http.end_poll(PAPERS_CHANNEL, plain.id)
    assert not_a_poll.value.code == 520006


async def test_a_tie_or_no_votes_names_no_victor_and_only_the_author_may_end_a_poll(
    fake: FakeDiscord, connect: Connect
) -> None:
    client = await connect()
    tied = await post_poll(client)
    await fake.vote(str(tied.id), 1, user_id=ALICE)
    await fake.vote(str(tied.id), 3, user_id=BOB)
    result = await fake.end_poll(str(tied.id))
    fields = {f["name"]: f["value"] for f in result["embeds"][0]["fields"]}
    assert fields == {"poll_question_text": "This week's journal club?", "victor_answer_votes": "1", "total_votes": "2"}
    empty = await post_poll(client)
    result = await fake.end_poll(str(empty.id))
    assert {f["name"]: f["value"] for f in result["embeds"][0]["fields"]}["total_votes"] == "0"
    theirs = await fake.say(
        PAPERS_CHANNEL,
        "",
        user_id=ALICE,
        poll={"question": {"text": "Lunch?"}, "answers": [{"poll_media": {"text": "Yes"}}]},
    )
    with pytest.raises(discord.Forbidden) as caught:
        await client.http.end_poll(PAPERS_CHANNEL, theirs["id"])
    assert caught.value.code == 50005


async def test_a_poll_ends_when_its_duration_passes_on_the_fakes_clock_never_by_sleeping(
    fake: FakeDiscord, connect: Connect
) -> None:
    now = [fake.wall_clock()]
    fake.wall_clock = lambda: now[0]
    client = await connect()
    message = await post_poll(client, hours=1)
    await fake.vote(str(message.id), 3, user_id=ALICE)
    now[0] += 3599
    assert await fake.expire_polls() == [] and not fake.messages[str(message.id)]["poll"]["results"]["is_finalized"]
    now[0] += 1
    fetched = await message.channel.fetch_message(message.id)  # any request sees the poll ended
    assert fetched.poll is not None and fetched.poll.is_finalised() and fetched.poll.victor_answer_id is None
    (result,) = [m for m in fake.channel_messages(PAPERS_CHANNEL) if m["type"] == 46]
    assert {f["name"]: f["value"] for f in result["embeds"][0]["fields"]}["victor_answer_id"] == "3"
    assert await fake.expire_polls() == []  # ended once


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("missing_access", 403, 50001), ("unknown_message", 404, 10008), ("5xx", 503, 0)],
)
async def test_the_poll_routes_fail_in_each_fault_mode(
    fake: FakeDiscord, connect: Connect, mode: str, status: int, code: int
) -> None:
    client = await connect()
    client.http.max_ratelimit_timeout = 60.0
    message = await post_poll(client)
    params = {"status": 503} if mode == "5xx" else {}
    for route in (r"GET /channels/\d+/polls/\d+/answers/\d+", r"POST /channels/\d+/polls/\d+/expire"):
        fake.faults.inject(route, mode, **params)
    with pytest.raises(discord.HTTPException) as voters:
        await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 1)
    with pytest.raises(discord.HTTPException) as ending:
        await message.end_poll()
    assert {(e.value.status, e.value.code) for e in (voters, ending)} == {(status, code)}
    assert not fake.messages[str(message.id)]["poll"]["results"]["is_finalized"]
    fake.faults.inject(r"POST /channels/\d+/polls/\d+/expire", "429", retry_after=90.0)
    with pytest.raises(discord.RateLimited):
        await message.end_poll()
    assert (await message.end_poll()).poll.is_finalised()  # type: ignore[union-attr]


async def test_poll_answers_fit_discords_published_spec(fake: FakeDiscord, connect: Connect) -> None:
    client = await connect()
    message = await post_poll(client)
    await fake.vote(str(message.id), 1, user_id=ALICE)
    await client.http.get_poll_answer_voters(PAPERS_CHANNEL, message.id, 1)
    await client.http.get_message(PAPERS_CHANNEL, message.id)
    await message.end_poll()
    with pytest.raises(discord.HTTPException):
        await message.end_poll()
    result = next(m for m in fake.channel_messages(PAPERS_CHANNEL) if m["type"] == 46)
    await client.http.get_message(PAPERS_CHANNEL, result["id"])
    schemas = {
        r"GET /channels/\d+/polls/\d+/answers/\d+": "PollAnswerDetailsResponse",
        r"POST /channels/\d+/polls/\d+/expire": "MessageResponse",
        r"POST /channels/\d+/messages": "MessageResponse",
        r"GET /channels/\d+/messages/\d+": "MessageResponse",
    }
    problems, covered = [], set()
    for seen in fake.requests:
        pattern = next((p for p in schemas if re.fullmatch(p, f"{seen.method} {seen.route}")), None)
        if pattern is None:
            continue
        covered.add(pattern)
        name = "ErrorResponse" if seen.status >= 400 else schemas[pattern]
        problems += [f"{seen.route}: {p}" for p in discord_errors(name, False, seen.answer)]
        problems += discord_unknown_fields(name, False, seen.answer) if seen.status < 400 else []
    frames = [d for d in Frames(fake).of("MESSAGE_CREATE") + Frames(fake).of("MESSAGE_UPDATE")]
    for frame in frames:  # the gateway's messages are MessageResponse plus guild_id (and member for people)
        shown = {k: v for k, v in frame.items() if k not in ("guild_id", "member", "nonce")}
        problems += [f"gateway {frame['id']}: {p}" for p in discord_errors("MessageResponse", False, shown)]
    assert not problems, "\n".join(problems)
    assert covered == set(schemas) and any(f.get("type") == 46 for f in frames)
