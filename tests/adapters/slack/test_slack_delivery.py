"""Answers Slack refuses (a used-up or expired response_url, an expired trigger_id) are noticed and the user is told;
`/hot` of twenty hostile cards stays one message Slack accepts. Real bolt, fake Slack, fake clock: no sleeping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.slack import render
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, PaperCard
from tests.adapters.slack.support import CHANNEL, USER, Harness, Watched, card, serving
from tests.fakes.slack_server import RESPONSE_URL_LIFETIME, RESPONSE_URL_USES, FakeSlack, block_errors

HOSTILE_TITLE = "<!channel> \u202eevil\u202c *bold* </paper:1> " + "&<>" * 200
NOW = [1000.0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    NOW[0] = 1000.0
    async with FakeSlack(clock=lambda: NOW[0]) as fake:
        yield fake


class Hostile(Watched):
    """The engine, except that `top` answers twenty cards of hostile, overlong text."""

    async def top(self, channel: ChannelRef, days: int = 7, *, limit: int = 10) -> list[PaperCard]:
        why = ("HF 41", "follows: " + "<@U1> " * 400)
        authors = tuple(f"<!here> Author {n} " * 20 for n in range(40))
        return [card(title=HOSTILE_TITLE * 3, authors=authors, why=why) for _ in range(20)]


@pytest.fixture
async def bot(hotpapers: HotPapers, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with serving(Hostile(hotpapers), fake, hot_limit=20) as harness:
        yield harness


async def test_an_answer_to_a_used_up_response_url_is_replaced_by_a_private_note(bot: Harness) -> None:
    url = bot.fake.response_url("used")
    bot.fake.hooks["used"] = (NOW[0], RESPONSE_URL_USES)  # the five answers this URL takes are spent
    await bot.slack.command("/paper", "2010.00577", response_url=url)
    (note,) = await bot.fake.wait_for_calls("chat.postEphemeral")
    assert note.ok and (note.args["channel"], note.args["user"]) == (CHANNEL, USER)
    assert note.args["text"] == "hotpapers could not deliver its answer here (Slack said: used_url). Please try again."
    assert [r.status for r in bot.fake.responses] == [404, 404]  # the card, then the short text: both refused


async def test_an_answer_after_thirty_minutes_is_replaced_by_a_private_note(bot: Harness) -> None:
    url = bot.fake.response_url("late")
    NOW[0] += RESPONSE_URL_LIFETIME + 1
    await bot.slack.command("/hot", "7", response_url=url)
    (note,) = await bot.fake.wait_for_calls("chat.postEphemeral")
    assert "Slack said: expired_url" in note.args["text"]


async def test_summarize_tells_the_user_when_the_trigger_id_expired_before_the_form_opened(bot: Harness) -> None:
    trigger = bot.fake.trigger_id()
    NOW[0] += 3.5  # Slack gives 3 s to open a modal
    await bot.slack.command("/summarize", "2010.00577", response_url=bot.fake.response_url("s"), trigger_id=trigger)
    (opened,) = await bot.fake.wait_for_calls("views.open")
    assert opened.response == {"ok": False, "error": "expired_trigger_id"}
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.status == 200 and answer.body["response_type"] == "ephemeral"
    assert answer.body["text"].startswith("The summary form could not be opened (Slack said: expired_trigger_id).")


async def test_a_trigger_id_used_in_time_opens_the_form(bot: Harness) -> None:
    trigger = bot.fake.trigger_id()
    NOW[0] += 2.5
    await bot.slack.command("/summarize", "2010.00577", response_url=bot.fake.response_url("s"), trigger_id=trigger)
    (opened,) = await bot.fake.wait_for_calls("views.open")
    assert opened.ok


def text_size(blocks: list[dict[str, Any]]) -> int:
    """Characters of text in the blocks (what Slack's msg_blocks_too_long counts)."""
    total = 0
    for block in blocks:
        objects = [block.get("text"), *(block.get("elements") or []), *(block.get("fields") or [])]
        total += sum(len(o.get("text", "")) for o in objects if isinstance(o, dict))
    return total


async def test_hot_with_twenty_hostile_cards_is_one_message_slack_accepts(bot: Harness) -> None:
    await bot.slack.command("/hot", "7", response_url=bot.fake.response_url("hot"))
    (answer,) = await bot.fake.wait_for_responses(1)
    blocks = answer.body["blocks"]
    assert answer.status == 200 and block_errors(blocks) == []
    assert len(blocks) == 41 and text_size(blocks) <= render.MESSAGE_LIMIT
    assert "<!channel>" not in json.dumps(blocks) and "<!here>" not in json.dumps(blocks)
    assert "\u202e" not in json.dumps(blocks, ensure_ascii=False)
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(s["text"]["verbatim"] is True for s in sections)
    assert sections[-1]["text"]["text"].startswith("*20.* <https://arxiv.org/abs/2010.00577|")
    assert bot.fake.calls_to("chat.postEphemeral") == []
