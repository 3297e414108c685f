"""Slash commands through the real AsyncApp, served over loopback HTTP, against the fake Slack Web API."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef
from tests.adapters.slack.support import CHANNEL, TEAM, Harness, Watched, serving, submission
from tests.fakes.slack_server import FakeSlack

HERE = ChannelRef("slack", TEAM, CHANNEL)


async def test_paper_is_acknowledged_while_the_lookup_is_still_running_then_answered_with_a_card(
    bot: Harness, watched: Watched
) -> None:
    watched.gates["paper"] = asyncio.Event()
    reply = await bot.slack.command("/paper", "arXiv:2010.00577", response_url=bot.fake.response_url("p1"))
    assert (reply.status, reply.text) == (200, "")
    assert watched.called == ["paper"] and bot.fake.responses == []
    watched.gates["paper"].set()
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.status == 200 and answer.hook == "p1"
    assert answer.body["response_type"] == "in_channel"
    header = answer.body["blocks"][0]
    assert header["text"]["text"] == "Interpreting Graph Neural Networks for NLP With Differentiable Edge Masking"
    assert "https://arxiv.org/abs/2010.00577" in answer.body["text"]
    actions = answer.body["blocks"][-1]["elements"]
    assert {(b["action_id"], b["value"]) for b in actions} == {
        ("hp_vote_up", "2010.00577"),
        ("hp_vote_down", "2010.00577"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [("not-a-paper", "is not an arXiv id or URL"), ("2101.99999", "no paper 2101.99999 in the local store")],
)
async def test_a_bad_or_unknown_reference_gets_an_ephemeral_explanation(bot: Harness, text: str, message: str) -> None:
    reply = await bot.slack.command("/paper", text, response_url=bot.fake.response_url("p2"))
    assert reply.status == 200
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral" and message in answer.body["text"]


async def test_a_forged_signature_is_refused_with_401_and_never_reaches_the_engine(
    bot: Harness, watched: Watched
) -> None:
    forged = bot.slack.__class__(bot.http, bot.slack.url, secret="not-the-signing-secret")
    reply = await forged.command("/paper", "2010.00577", response_url=bot.fake.response_url("x"))
    assert reply.status == 401
    assert watched.called == [] and bot.fake.calls == []


async def test_a_replayed_request_with_a_stale_timestamp_is_refused_with_401(bot: Harness, watched: Watched) -> None:
    stale = int(time.time()) - 301
    body = "token=x&team_id=T111&channel_id=C111&user_id=U222&command=%2Fhot&text=&response_url=x&trigger_id=1"
    reply = await bot.slack.post(body, content_type="application/x-www-form-urlencoded", timestamp=stale)
    assert reply.status == 401 and watched.called == []


async def test_the_url_verification_challenge_is_echoed(bot: Harness) -> None:
    reply = await bot.slack.event({"type": "url_verification", "challenge": "abc123", "token": "x"})
    assert reply.status == 200 and reply.json() == {"challenge": "abc123"}


async def test_hot_without_votes_says_so_and_refuses_a_silly_number_of_days(bot: Harness) -> None:
    await bot.slack.command("/hot", "", response_url=bot.fake.response_url("h1"))
    await bot.slack.command("/hot", "9999", response_url=bot.fake.response_url("h2"))
    await bot.slack.command("/hot", "²", response_url=bot.fake.response_url("h3"))
    answers = {a.hook: a.body for a in await bot.fake.wait_for_responses(3)}
    assert "Nobody has voted" in json.dumps(answers["h1"]["blocks"])
    assert answers["h2"]["response_type"] == "ephemeral" and "1 to 365" in answers["h2"]["text"]
    assert answers["h3"]["response_type"] == "ephemeral" and "1 to 365 (got '²')" in answers["h3"]["text"]


async def test_summarize_opens_a_modal_and_its_submission_becomes_the_community_summary(
    bot: Harness, hotpapers: HotPapers
) -> None:
    reply = await bot.slack.command("/summarize", "2010.00577", response_url=bot.fake.response_url("s1"))
    assert reply.status == 200
    (opened,) = await bot.fake.wait_for_calls("views.open")
    assert opened.ok and opened.token == bot.server.app.client.token
    view = opened.args["view"]
    assert view["callback_id"] == "hp_summarize" and opened.args["trigger_id"]
    text = "It shows <!channel> that *scale* & data matter."
    ack = await bot.slack.interaction(submission(view["private_metadata"], text))
    assert (ack.status, ack.text) == (200, "")
    (thanks,) = await bot.fake.wait_for_responses(1)
    assert thanks.hook == "s1" and "is saved" in thanks.body["text"]
    card = await hotpapers.paper("2010.00577", HERE)
    assert card.summary.text == text and card.summary.provenance == "Community summary by alice"
    assert await hotpapers.forget_user("slack", "U222") == 1  # stored under the Slack user, so it can be erased


async def test_an_empty_summary_is_refused_inside_the_modal(bot: Harness) -> None:
    await bot.slack.command("/summarize", "2010.00577", response_url=bot.fake.response_url("s2"))
    (opened,) = await bot.fake.wait_for_calls("views.open")
    ack = await bot.slack.interaction(submission(opened.args["view"]["private_metadata"], "   "))
    assert ack.status == 200
    assert ack.json()["response_action"] == "errors" and "empty" in ack.json()["errors"]["hp_summary"]


async def test_summarize_with_a_bad_reference_answers_in_the_ack_and_opens_nothing(bot: Harness) -> None:
    reply = await bot.slack.command("/summarize", "<!channel>", response_url=bot.fake.response_url("s3"))
    assert reply.status == 200 and "is not an arXiv id" in reply.json()["text"]
    assert "<!channel>" not in reply.text and bot.fake.calls_to("views.open") == []


async def test_health_answers_ok(bot: Harness) -> None:
    async with bot.http.get(bot.server.url + "/healthz") as response:
        assert response.status == 200 and await response.json() == {
            "ok": True,
            "mode": "http",
            "socket_connected": None,
        }


async def test_a_slow_summary_save_is_acknowledged_in_time_and_confirmed_when_done(
    watched: Watched, fake: FakeSlack
) -> None:
    watched.gates["add_summary"] = asyncio.Event()
    async with serving(watched, fake, summary_wait_seconds=0.05) as bot:
        await bot.slack.command("/summarize", "2010.00577", response_url=fake.response_url("slow"))
        (opened,) = await fake.wait_for_calls("views.open")
        ack = await bot.slack.interaction(submission(opened.args["view"]["private_metadata"], "Worth reading."))
        assert (ack.status, ack.text) == (200, "") and fake.responses == []  # closed the modal, still saving
        watched.gates["add_summary"].set()
        (thanks,) = await fake.wait_for_responses(1)
        assert thanks.hook == "slow" and "is saved" in thanks.body["text"]
