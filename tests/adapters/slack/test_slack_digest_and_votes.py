"""The daily digest through SlackPublisher, and votes from reactions and buttons, end to end over loopback."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, DigestEntry
from tests.adapters.slack.support import BOT_USER, CHANNEL, TEAM, Harness, Watched, button, reaction

HERE = ChannelRef("slack", TEAM, CHANNEL)


async def post_digest(bot: Harness, hotpapers: HotPapers, day: date) -> list[str]:
    """Post the day's digest and return the ts of each paper message (the header excluded)."""
    await hotpapers.subscribe(HERE, {"top_n": "3"})
    result = await hotpapers.post_digest(HERE, day, bot.server.publisher)
    assert result.state == "posted" and result.posted == 3
    return [call.response["ts"] for call in bot.fake.calls_to("chat.postMessage")[1:]]


async def tally(hotpapers: HotPapers, ts_paper: str) -> tuple[int, int]:
    card = await hotpapers.paper(ts_paper, HERE)
    return card.votes.up, card.votes.down


async def test_the_digest_is_a_header_then_one_valid_block_kit_message_per_paper(
    bot: Harness, hotpapers: HotPapers, sample_day: date
) -> None:
    await post_digest(bot, hotpapers, sample_day)
    header, *papers = bot.fake.calls_to("chat.postMessage")
    assert all(call.ok for call in bot.fake.calls_to("chat.postMessage"))
    assert header.args["text"].startswith("🔥 Hot papers for") and "blocks" not in header.args
    assert [call.args["blocks"][0]["text"]["text"][:5] for call in papers] == ["#1 · ", "#2 · ", "#3 · "]
    assert all(call.args["channel"] == CHANNEL and call.token == "xoxb-T111" for call in papers)
    assert all(call.args["text"] and call.args["unfurl_links"] is False for call in papers)


async def test_thumbs_up_with_any_skin_tone_counts_once_even_when_slack_retries_the_event(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    first, *_ = await post_digest(bot, hotpapers, sample_day)
    paper_id = bot.fake.calls_to("chat.postMessage")[1].args["blocks"][-1]["elements"][0]["value"]
    assert (await bot.slack.event(reaction("+1::skin-tone-3", ts=first, event_id="Ev1"))).status == 200
    assert (await bot.slack.event(reaction("+1::skin-tone-3", ts=first, event_id="Ev1"), retry_num=1)).status == 200
    assert (await bot.slack.event(reaction("fire", ts=first, event_id="Ev2", user="U333"))).status == 200
    await watched.wait_finished("record_reaction", 3)
    assert await tally(hotpapers, paper_id) == (2, 0)


async def test_removing_a_reaction_removes_the_vote_and_thumbsdown_demotes(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    first, *_ = await post_digest(bot, hotpapers, sample_day)
    paper_id = bot.fake.calls_to("chat.postMessage")[1].args["blocks"][-1]["elements"][0]["value"]
    await bot.slack.event(reaction("thumbsup", ts=first, event_id="Ev1"))
    await watched.wait_finished("record_reaction", 1)
    assert await tally(hotpapers, paper_id) == (1, 0)
    await bot.slack.event(reaction("thumbsup", ts=first, event_id="Ev2", removed=True))
    await bot.slack.event(reaction("-1", ts=first, event_id="Ev3", user="U333"))
    await watched.wait_finished("record_reaction", 3)
    assert await tally(hotpapers, paper_id) == (0, 1)


async def test_thumbs_up_then_fire_then_removing_fire_keeps_the_vote_until_the_last_reaction_goes(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    first, *_ = await post_digest(bot, hotpapers, sample_day)
    paper_id = bot.fake.calls_to("chat.postMessage")[1].args["blocks"][-1]["elements"][0]["value"]
    await bot.slack.event(reaction("+1::skin-tone-2", ts=first, event_id="Ev1"))
    await watched.wait_finished("record_reaction", 1)
    await bot.slack.event(reaction("fire", ts=first, event_id="Ev2"))
    await watched.wait_finished("record_reaction", 2)
    await bot.slack.event(reaction("fire", ts=first, event_id="Ev3", removed=True))
    await watched.wait_finished("record_reaction", 3)
    assert await tally(hotpapers, paper_id) == (1, 0)  # 👍 is still on the message
    await bot.slack.event(reaction("+1", ts=first, event_id="Ev4", removed=True))  # Slack may drop the tone here
    await watched.wait_finished("record_reaction", 4)
    assert await tally(hotpapers, paper_id) == (0, 0)


async def test_the_bots_own_reactions_and_reactions_on_other_messages_are_ignored(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    first, *_ = await post_digest(bot, hotpapers, sample_day)
    paper_id = bot.fake.calls_to("chat.postMessage")[1].args["blocks"][-1]["elements"][0]["value"]
    await bot.slack.event(reaction("+1", ts=first, event_id="Ev1", user=BOT_USER))
    await bot.slack.event(reaction("+1", ts="1234567890.000001", event_id="Ev2"))
    await bot.slack.event(reaction("eyes", ts=first, event_id="Ev3"))
    await bot.slack.event(reaction("+1", ts=first, event_id="Ev4", user="U333"))  # the one that counts
    await watched.wait_finished("record_reaction", 2)  # the unknown message and U333's: the others never get that far
    assert await tally(hotpapers, paper_id) == (1, 0)
    assert watched.called.count("record_reaction") == 2


async def test_a_vote_button_counts_for_the_paper_on_the_card_and_confirms_privately(
    bot: Harness, hotpapers: HotPapers
) -> None:
    ack = await bot.slack.interaction(button("hp_vote_down", "2010.00577", response_url=bot.fake.response_url("b1")))
    assert (ack.status, ack.text) == (200, "")
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral" and answer.body["replace_original"] is False
    assert "now 👍 0 · 👎 1 here" in answer.body["text"]
    assert await tally(hotpapers, "2010.00577") == (0, 1)


async def test_hot_lists_the_channels_most_voted_papers(
    bot: Harness, hotpapers: HotPapers, watched: Watched, sample_day: date
) -> None:
    first, second, _ = await post_digest(bot, hotpapers, sample_day)
    for n, user in enumerate(["U1", "U2"]):
        await bot.slack.event(reaction("+1", ts=second, event_id=f"Ev{n}", user=user))
    await bot.slack.event(reaction("+1", ts=first, event_id="Ev9", user="U3"))
    second_id = bot.fake.calls_to("chat.postMessage")[2].args["blocks"][-1]["elements"][0]["value"]
    await watched.wait_finished("record_reaction", 3)
    await bot.slack.command("/hot", "7", response_url=bot.fake.response_url("h"))
    (answer,) = await bot.fake.wait_for_responses(1)
    sections = [b["text"]["text"] for b in answer.body["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and f"abs/{second_id}|" in sections[0] and "👍 2 · 👎 0" in sections[0]


async def test_a_rate_limited_post_is_retried_after_retry_after_and_succeeds(
    bot: Harness, hotpapers: HotPapers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slack_sdk.http_retry.builtin_async_handlers as handlers

    monkeypatch.setattr(handlers.random, "random", lambda: 0.0)  # Retry-After 0 + no jitter: no real wait
    bot.fake.throttle("chat.postMessage", times=2, retry_after=0)
    posted = await bot.server.publisher.say(HERE, "hello")
    calls = bot.fake.calls_to("chat.postMessage")
    assert [call.status for call in calls] == [429, 429, 200]
    assert posted.message_id == calls[-1].response["ts"]


async def test_a_paper_with_a_ten_kilobyte_abstract_is_accepted_by_slack(bot: Harness, hotpapers: HotPapers) -> None:
    card = await hotpapers.paper("2010.00577", HERE)
    huge = dataclasses.replace(card.paper, abstract="Hostile <!channel> & long. " * 400, title="T" * 400)
    entry = DigestEntry(1, dataclasses.replace(card, paper=huge))
    posted = await bot.server.publisher.publish(HERE, entry)
    (call,) = bot.fake.calls_to("chat.postMessage")
    assert call.ok and posted.message_id == call.response["ts"]
    assert "<!channel>" not in str(call.args["blocks"])
