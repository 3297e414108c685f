"""Reporting a card's summary and regenerating an LLM summary, through the real AsyncApp against the fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app.service import HotPapers
from tests.adapters.slack.support import USER, Harness, Watched, button, serving, with_roles
from tests.fakes.llm_server import FakeLLM
from tests.fakes.slack_server import FakeSlack, ResponseUrlPost

COMMUNITY, PLAIN = "1611.03530", "2010.00577"  # a sample paper with a ShortScience summary, and one without
REPORTED = "Thanks — reported. The card now shows: "
NO_LLM = "no LLM is configured ([llm] enabled = true); there is nothing to regenerate"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        with_roles(fake)
        yield fake


async def answer(bot: Harness, hook: str) -> ResponseUrlPost:
    """The one post the app made to the response URL `hook` (waiting for it)."""
    await bot.fake.wait_for(lambda: any(r.hook == hook for r in bot.fake.responses))
    (posted,) = [r for r in bot.fake.responses if r.hook == hook]
    assert posted.status == 200  # the fake accepted it: valid blocks within Slack's limits
    return posted


async def show(bot: Harness, ref: str, hook: str) -> dict[str, Any]:
    await bot.slack.command("/paper", ref, response_url=bot.fake.response_url(hook))
    return (await answer(bot, hook)).body


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    actions = [block for block in message["blocks"] if block["type"] == "actions"]
    return [(element["action_id"], element["value"]) for block in actions for element in block["elements"]]


def provenance(message: dict[str, Any]) -> str:
    lines = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    (line,) = [text for text in lines if text.startswith("Summary: ")]
    return line


async def report(bot: Harness, paper_id: str, *, user: str, hook: str) -> ResponseUrlPost:
    press = button("hp_report", paper_id, response_url=bot.fake.response_url(hook))
    press["user"] |= {"id": user, "name": user.lower(), "username": user.lower()}
    ack = await bot.slack.interaction(press)
    assert (ack.status, ack.text) == (200, "")
    return await answer(bot, hook)


async def test_the_report_button_is_on_a_card_only_when_its_summary_can_be_reported(bot: Harness) -> None:
    community, plain = await show(bot, COMMUNITY, "c"), await show(bot, PLAIN, "p")
    assert provenance(community) == "Summary: Community summary by ShortScience"
    assert buttons(community) == [("hp_vote_up", COMMUNITY), ("hp_vote_down", COMMUNITY), ("hp_report", COMMUNITY)]
    assert provenance(plain) == "Summary: Key sentences from the abstract"
    assert buttons(plain) == [("hp_vote_up", PLAIN), ("hp_vote_down", PLAIN)]


async def test_a_report_is_acknowledged_before_the_engine_answers_then_confirmed_privately(
    bot: Harness, watched: Watched
) -> None:
    watched.gates["report_summary"] = asyncio.Event()
    press = button("hp_report", COMMUNITY, response_url=bot.fake.response_url("r"))
    ack = await bot.slack.interaction(press)
    assert (ack.status, ack.text) == (200, "") and bot.fake.responses == []
    watched.gates["report_summary"].set()
    confirmed = await answer(bot, "r")
    assert confirmed.body["response_type"] == "ephemeral" and confirmed.body["replace_original"] is False
    assert confirmed.body["text"] == REPORTED + "Community summary by ShortScience"


async def test_three_people_reporting_a_summary_hide_it_and_the_card_falls_back_to_the_next_source(
    bot: Harness,
) -> None:
    presses = [("U1", "r1"), ("U1", "r2"), ("U2", "r3"), ("U3", "r4")]  # U1 twice: still one report
    texts = [(await report(bot, COMMUNITY, user=user, hook=hook)).body["text"] for user, hook in presses]
    before, after = REPORTED + "Community summary by ShortScience", REPORTED + "Key sentences from the abstract"
    assert texts == [before, before, before, after]
    again = await show(bot, COMMUNITY, "again")
    assert provenance(again) == "Summary: Key sentences from the abstract"
    assert ("hp_report", COMMUNITY) not in buttons(again)
    stale = await report(bot, COMMUNITY, user="U4", hook="stale")  # the old card's button, after the fallback
    assert stale.body["response_type"] == "ephemeral"
    assert stale.body["text"] == "the summary shown is computed from the abstract; there is nothing to report"


@pytest.mark.parametrize("user", ["UADMIN", "UMAKER"])
async def test_regenerate_without_an_llm_tells_a_manager_privately_that_none_is_configured(
    bot: Harness, watched: Watched, user: str
) -> None:
    await bot.slack.command("/hotpapers", f"regenerate {PLAIN}", response_url=bot.fake.response_url("g"), user_id=user)
    answered = await answer(bot, "g")
    assert answered.body == {"text": NO_LLM, "response_type": "ephemeral"}
    assert watched.called == ["regenerate_summary"]


async def test_regenerate_is_refused_to_a_member_who_may_not_manage_the_channel(bot: Harness, watched: Watched) -> None:
    await bot.slack.command("/hotpapers", f"regenerate {PLAIN}", response_url=bot.fake.response_url("m"), user_id=USER)
    refused = await answer(bot, "m")
    assert refused.body["response_type"] == "ephemeral"
    assert refused.body["text"].startswith("You can't regenerate summaries here. Only workspace admins and owners")
    assert watched.called == []


async def test_regenerate_asks_the_llm_again_and_shows_the_manager_the_new_card_privately(
    fake: FakeSlack, llm_hotpapers: tuple[HotPapers, FakeLLM]
) -> None:
    service, llm = llm_hotpapers
    async with serving(service, fake) as bot:
        first = await show(bot, PLAIN, "first")
        assert provenance(first) == "Summary: LLM summary (tiny-1, 2020-11-07)"
        assert ("hp_report", PLAIN) in buttons(first)  # a stored LLM summary can be reported
        llm.reply = "A better summary: <!channel> edge masks explain GNNs."
        text = f"regenerate arXiv:{PLAIN}"
        await bot.slack.command("/hotpapers", text, response_url=fake.response_url("g"), user_id="UADMIN")
        regenerated = (await answer(bot, "g")).body
    assert regenerated["response_type"] == "ephemeral"
    note = "Asked the LLM again. The card now shows: LLM summary (tiny-1, 2020-11-07)"
    assert regenerated["text"] == note and regenerated["blocks"][0]["text"]["text"] == note
    sections = [b["text"]["text"] for b in regenerated["blocks"] if b["type"] == "section"]
    assert any(s.startswith("*Summary*\nA better summary: &lt;!channel&gt; edge masks explain GNNs.") for s in sections)
    assert len(llm.requests) == 2
