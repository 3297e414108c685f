"""/hotpapers subscribe | unsubscribe | settings: who may change a channel, and what reaches the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef
from tests.adapters.slack.support import CHANNEL, TEAM, USER, Harness, serving, with_roles
from tests.fakes.slack_server import FakeSlack

HERE = ChannelRef("slack", TEAM, CHANNEL)
OPTIONS = 'categories=cs.LG,cs.CL keywords="diffusion, rl" time=07:30 tz=Europe/Berlin top=3 weekdays=mon-fri'


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        with_roles(fake)
        yield fake


@pytest.fixture
async def bot(hotpapers: HotPapers, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with serving(hotpapers, fake) as harness:
        yield harness


async def test_a_workspace_admin_subscribes_with_options_and_the_bot_joins_the_channel(
    bot: Harness, hotpapers: HotPapers
) -> None:
    reply = await bot.slack.command(
        "/hotpapers", f"subscribe {OPTIONS}", response_url=bot.fake.response_url(1), user_id="UADMIN", user_name="root"
    )
    assert reply.status == 200
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "in_channel" and "root subscribed" in answer.body["text"]
    settings = await hotpapers.settings(HERE)
    assert settings.subscribed and settings.categories == ("cs.LG", "cs.CL")
    assert settings.keywords == ("diffusion", "rl")
    assert (settings.post_time, settings.timezone, settings.top_n, settings.weekdays) == (
        "07:30",
        "Europe/Berlin",
        3,
        (0, 1, 2, 3, 4),
    )
    assert [call.args["channel"] for call in bot.fake.calls_to("conversations.join")] == [CHANNEL]


async def test_the_channels_creator_may_change_settings_but_an_ordinary_member_may_not(
    bot: Harness, hotpapers: HotPapers
) -> None:
    await hotpapers.subscribe(HERE)
    await bot.slack.command(
        "/hotpapers", "settings top=2", response_url=bot.fake.response_url("maker"), user_id="UMAKER"
    )
    await bot.slack.command("/hotpapers", "settings top=9", response_url=bot.fake.response_url("alice"), user_id=USER)
    answers = {a.hook: a.body for a in await bot.fake.wait_for_responses(2)}
    assert answers["alice"]["response_type"] == "ephemeral" and "can't change" in answers["alice"]["text"]
    assert (await hotpapers.settings(HERE)).top_n == 2
    assert sorted(call.args["user"] for call in bot.fake.calls_to("users.info")) == [USER, "UMAKER"]


async def test_a_bad_option_is_named_back_to_the_admin_and_nothing_changes(bot: Harness, hotpapers: HotPapers) -> None:
    await bot.slack.command(
        "/hotpapers", "subscribe tz=Mars/Olympus", response_url=bot.fake.response_url(1), user_id="UADMIN"
    )
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral" and "timezone" in answer.body["text"]
    assert not (await hotpapers.settings(HERE)).subscribed


async def test_settings_without_options_shows_them_to_anyone_and_unsubscribe_stops_the_digest(
    bot: Harness, hotpapers: HotPapers
) -> None:
    await hotpapers.subscribe(HERE, {"keywords": "R&D, graphs"})
    await bot.slack.command("/hotpapers", "settings", response_url=bot.fake.response_url("show"), user_id=USER)
    (shown,) = await bot.fake.wait_for_responses(1)
    assert shown.body["response_type"] == "ephemeral"
    shown_text = str(shown.body["blocks"])
    assert "*Subscribed:* yes" in shown_text and "*Keywords:* R&amp;D, graphs" in shown_text
    await bot.slack.command("/hotpapers", "unsubscribe", response_url=bot.fake.response_url("bye"), user_id="UADMIN")
    await bot.fake.wait_for_responses(2)
    assert not (await hotpapers.settings(HERE)).subscribed


async def test_an_unknown_subcommand_gets_the_help_text(bot: Harness) -> None:
    await bot.slack.command("/hotpapers", "dance", response_url=bot.fake.response_url(1))
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral" and "/hotpapers subscribe" in answer.body["text"]
    assert bot.fake.calls_to("users.info") == []


async def test_settings_with_options_does_not_quietly_subscribe_a_channel(bot: Harness, hotpapers: HotPapers) -> None:
    await bot.slack.command("/hotpapers", "settings top=2", response_url=bot.fake.response_url(1), user_id="UADMIN")
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral" and "/hotpapers subscribe" in answer.body["text"]
    assert not (await hotpapers.settings(HERE)).subscribed


async def test_the_admin_who_subscribed_hears_by_dm_when_slack_refuses_the_channel_and_subscribing_resumes_it(
    bot: Harness, hotpapers: HotPapers, sample_day: object
) -> None:
    await bot.slack.command("/hotpapers", "subscribe", response_url=bot.fake.response_url(1), user_id="UADMIN")
    await bot.fake.wait_for_responses(1)
    bot.fake.faults.inject("chat.postMessage", "not_in_channel", times=2)  # the header, then the notice in #ml-papers
    result = await hotpapers.post_digest(HERE, sample_day, bot.server.publisher)  # type: ignore[arg-type]
    assert result.state == "paused"
    (dm,) = [call for call in bot.fake.calls_to("chat.postMessage") if call.args.get("channel") == "UADMIN"]
    assert "not a member of" in dm.args["text"] and "/invite @hotpapers" in dm.args["text"]
    settings_reply = await bot.slack.command(
        "/hotpapers", "settings", response_url=bot.fake.response_url(2), user_id="UADMIN"
    )
    assert settings_reply.status == 200
    (shown,) = [a.body for a in await bot.fake.wait_for_responses(2) if a.hook == "2"]
    shown_text = " ".join(block["text"]["text"] for block in shown["blocks"])
    assert "*Paused:* hotpapers is not a member of" in shown_text and "to fix it: invite @hotpapers" in shown_text
    await bot.slack.command("/hotpapers", "subscribe", response_url=bot.fake.response_url(3), user_id="UADMIN")
    await bot.fake.wait_for_responses(3)
    assert (await hotpapers.settings(HERE)).paused is None
