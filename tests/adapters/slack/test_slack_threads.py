"""Discussion threads on Slack with the real slack-bolt against the fake (issue 18): Discuss starts the card's thread
with the bot's short reply (`thread_ts`), people's replies (`message` events with `thread_ts`) count once each, bots
never, and a deleted reply (`message_deleted`) counts no more."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from adapters.slack.publisher import THREAD_EVENT_TYPE
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, VoteEvent
from bot.runtime.bootstrap import App
from tests.adapters.slack.support import CHANNEL, SECRET, TEAM, Harness, Watched, serving
from tests.conftest import SAMPLE_NOW
from tests.fakes.slack_server import FakeSlack

HERE = ChannelRef("slack", TEAM, CHANNEL)
OTHER = ChannelRef("slack", TEAM, "C999")
EVENTS = {"message.channels", "message.groups", "reaction_added", "reaction_removed"}


@pytest.fixture
async def bot(watched: Watched, fake: FakeSlack) -> AsyncIterator[Harness]:
    """The adapter served over HTTP, subscribed (as its manifest says) to message events in channels."""
    async with serving(watched, fake) as harness:
        fake.subscribe_app(EVENTS, request_url=harness.slack.url, signing_secret=SECRET)
        yield harness


async def cards(bot: Harness, hotpapers: HotPapers, day: date, channel: ChannelRef = HERE) -> list[str]:
    """Post the digest; the ts of each card, in rank order."""
    await hotpapers.post_digest(channel, day, bot.server.publisher)
    posts = [
        c
        for c in bot.fake.calls_to("chat.postMessage")
        if c.args.get("blocks") and c.args["channel"] == channel.channel
    ]
    return [str(call.response["ts"]) for call in posts]


async def discuss(bot: Harness, watched: Watched, ts: str, count: int) -> str:
    await bot.fake.click(CHANNEL, ts, "hp_discuss")
    await watched.wait_finished("discuss", count)
    (answer,) = (await bot.fake.wait_for_responses(count))[count - 1 : count]
    return str(answer.body["text"])


async def test_discuss_starts_the_thread_once_and_replies_count_their_people(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    card = (await cards(bot, hotpapers, sample_day))[4]
    answer = await discuss(bot, watched, card, 1)
    assert answer.startswith("Opened a thread on arXiv:")
    (opener,) = bot.fake.thread(CHANNEL, card)
    assert "Replies count as 💬" in opener["text"] and opener["metadata"]["event_type"] == THREAD_EVENT_TYPE
    again = await discuss(bot, watched, card, 2)
    assert again.startswith("The thread on arXiv:") and len(bot.fake.thread(CHANNEL, card)) == 1

    first = await bot.fake.say(CHANNEL, "I liked §3", thread_ts=card, user="U1")
    await bot.fake.say(CHANNEL, "and §4", thread_ts=card, user="U1")
    await bot.fake.say(CHANNEL, "beep", thread_ts=card, bot_id="B999")  # another bot: never counted
    await bot.fake.say(CHANNEL, "not in a thread", user="U2")
    second = await bot.fake.say(CHANNEL, "Same", thread_ts=card, user="U2")
    await watched.wait_finished("record_reply", 3)  # the two U1 replies and U2's: the others never reach it
    paper_id = bot.fake.calls_to("chat.postMessage")[5].args["blocks"][-1]["elements"][0]["value"]
    assert (await hotpapers.paper(paper_id, HERE)).discussed[0].people == 2

    await bot.fake.delete(CHANNEL, second["ts"])
    await bot.fake.delete(CHANNEL, first["ts"])  # U1's other reply still counts them
    await watched.wait_finished("remove_reply", 2)
    shown = await hotpapers.paper(paper_id, HERE)
    assert shown.discussed[0].people == 1 and "💬 1 here" in shown.why


async def test_replies_move_the_paper_up_in_that_channels_next_digest_and_not_in_another(
    bot: Harness, adapter_app: App, watched: Watched, sample_day: date
) -> None:
    hotpapers = adapter_app.service
    here = await cards(bot, hotpapers, sample_day)
    await hotpapers.post_digest(OTHER, sample_day, bot.server.publisher)
    await discuss(bot, watched, here[4], 1)
    await bot.fake.say(CHANNEL, "a", thread_ts=here[4], user="U1")
    await bot.fake.say(CHANNEL, "b", thread_ts=here[4], user="U2")
    await watched.wait_finished("record_reply", 2)
    ids = (await _posted_ids(hotpapers, sample_day))[3:5]  # ranked 4th and 5th; the 5th was discussed here
    papers = [(await hotpapers.paper(paper_id)).paper for paper_id in ids]
    later = SAMPLE_NOW - timedelta(hours=1)  # arXiv announces v2 of both: they come back as updates
    await adapter_app.operations.store_papers([dataclasses.replace(p, version=2, updated=later) for p in papers])
    ranked_here = [e.card.paper.id for e in (await hotpapers.digest(HERE, sample_day)).entries]
    ranked_there = [e.card.paper.id for e in (await hotpapers.digest(OTHER, sample_day)).entries]
    assert ranked_here.index(ids[1]) < ranked_here.index(ids[0])
    assert ranked_there.index(ids[0]) < ranked_there.index(ids[1])


async def _posted_ids(hotpapers: HotPapers, day: date) -> list[str]:
    """The papers of the day's digest in a fresh channel: the ranks they were posted with everywhere."""
    return [e.card.paper.id for e in (await hotpapers.digest(ChannelRef("slack", TEAM, "CFRESH"), day)).entries]


async def test_opening_a_thread_twice_on_the_platform_posts_one_opener(
    bot: Harness, hotpapers: HotPapers, sample_day: date
) -> None:
    card = (await cards(bot, hotpapers, sample_day))[0]
    publisher = bot.server.publisher
    first = await publisher.open_thread(HERE, card, name="A paper", opener="Discuss it here")
    again = await publisher.open_thread(HERE, card, name="A paper", opener="Discuss it here")
    assert first == again == card and len(bot.fake.thread(CHANNEL, card)) == 1  # found by its metadata


async def test_two_people_pressing_discuss_at_once_open_one_thread_with_one_opener(
    bot: Harness, hotpapers: HotPapers, sample_day: date
) -> None:
    card = (await cards(bot, hotpapers, sample_day))[2]
    publisher = bot.server.publisher
    bot.fake.faults.inject("chat.postMessage", "slow", times=2, delay=0.3)  # the other looks while one posts
    first, second = await asyncio.gather(*(hotpapers.discuss(HERE, card, publisher) for _ in range(2)))
    assert first.thread_id == second.thread_id == card and len(bot.fake.thread(CHANNEL, card)) == 1
    assert sorted((first.created, second.created)) == [False, True]  # one opened it, the other found it


async def _liked(bot: Harness, hotpapers: HotPapers, day: date) -> list[str]:
    """Post the digest and have two people like the 2nd and 4th cards: the week's roundup has both."""
    posted = await cards(bot, hotpapers, day)
    liked = [posted[1], posted[3]]
    for user, ts in zip(("U1", "U2"), liked, strict=True):
        await hotpapers.record_vote(VoteEvent(HERE, user, ts, 1))
    return liked


def _roundup_text(bot: Harness) -> str:
    (posted,) = [c for c in bot.fake.calls_to("chat.postMessage") if c.args["text"].startswith("📚 The week in")]
    return str(posted.args["text"])


async def test_the_roundup_links_each_paper_to_its_post_with_the_workspaces_own_permalink(
    bot: Harness, hotpapers: HotPapers, sample_day: date
) -> None:
    token = next(iter(bot.fake.workspaces))
    bot.fake.workspaces[token] = dataclasses.replace(bot.fake.workspaces[token], domain="ml-lab")
    liked = await _liked(bot, hotpapers, sample_day)

    result = await hotpapers.post_roundup(HERE, bot.server.publisher, sample_day)
    assert result.state == "posted" and len(result.roundup.entries) == 2
    text = _roundup_text(bot)
    for ts in liked:
        assert f"original post: https://ml-lab.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}\n" in text + "\n"
    asked = bot.fake.calls_to("chat.getPermalink")
    assert sorted(c.args["message_ts"] for c in asked) == sorted(liked) and all(c.ok for c in asked)
    assert {c.response["permalink"] for c in asked} <= set(text.split())  # the very links Slack gave
    again = await bot.server.publisher.permalink(HERE, liked[0])
    assert again.startswith("https://ml-lab.slack.com/") and len(bot.fake.calls_to("chat.getPermalink")) == 2


async def test_a_failing_permalink_still_posts_the_roundup_naming_the_message_and_is_asked_again_later(
    bot: Harness, hotpapers: HotPapers, sample_day: date
) -> None:
    liked = await _liked(bot, hotpapers, sample_day)
    bot.fake.faults.inject("chat.getPermalink", "message_not_found", times=None)

    result = await hotpapers.post_roundup(HERE, bot.server.publisher, sample_day)
    assert result.state == "posted"
    text = _roundup_text(bot)
    assert all(f"original post: message {ts}" in text for ts in liked) and "slack.com" not in text
    assert len(bot.fake.calls_to("chat.getPermalink")) == 2

    bot.fake.faults.clear()  # a failure is not remembered: the next ask gets the link
    link = await bot.server.publisher.permalink(HERE, liked[0])
    assert link == f"https://testteam.slack.com/archives/{CHANNEL}/p{liked[0].replace('.', '')}"
