"""Community summaries: votes pick the winner, reports hide a bad one, an LLM summary can be regenerated."""

from __future__ import annotations

import pytest

from bot.domain.config import LLM_KEY_ENV
from bot.domain.errors import BadInput, NotFound
from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from tests.conftest import MakeApp
from tests.fakes.llm_server import API_KEY, FakeLLM

CHANNEL = ChannelRef("discord", "G1", "C1")
PAPER = "2011.02803"


async def test_the_most_upvoted_community_summary_is_shown(app: App) -> None:
    first = await app.service.add_summary(PAPER, CHANNEL, author="ada", text="First take.")
    second = await app.service.add_summary(PAPER, CHANNEL, author="alan", text="Second take.")
    assert (await app.service.paper(PAPER, CHANNEL)).summary.id == first.id  # a tie: the oldest
    assert second.id is not None
    await app.service.vote_summary(CHANNEL, "grace", second.id, 1)
    voted = await app.service.vote_summary(CHANNEL, "grace", second.id, 1)  # one vote per person
    assert voted.votes == 1
    assert (await app.service.paper(PAPER, CHANNEL)).summary.id == second.id
    assert (await app.service.vote_summary(CHANNEL, "grace", second.id, -1)).votes == -1


async def test_only_community_summaries_take_votes(app: App) -> None:
    with pytest.raises(NotFound):
        await app.service.vote_summary(CHANNEL, "u", 999_999, 1)


async def test_three_reports_from_different_people_hide_a_summary(app: App) -> None:
    await app.service.add_summary(PAPER, CHANNEL, author="troll", text="Spam spam spam.")
    for user in ("a", "a", "b"):
        card = await app.service.report_summary(PAPER, CHANNEL, user_id=user)
        assert card.summary.source == "community"  # two distinct reports so far
    card = await app.service.report_summary(PAPER, CHANNEL, user_id="c")
    assert card.summary.source == "extractive"
    with pytest.raises(BadInput, match="nothing to report"):
        await app.service.report_summary(PAPER, CHANNEL, user_id="d")


async def test_regenerate_needs_an_llm(app: App) -> None:
    with pytest.raises(BadInput, match="no LLM is configured"):
        await app.service.regenerate_summary(PAPER, CHANNEL)


async def test_an_llm_summary_is_labelled_cached_and_regenerated(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeLLM() as llm:
        monkeypatch.setenv(LLM_KEY_ENV, API_KEY)
        signals_off = {name: {"enabled": False} for name in ("hf", "hn", "bluesky", "s2")}
        config = {
            "llm": {"enabled": True, "base_url": llm.url, "model": "tiny-1", "timeout": 2},
            "signals": signals_off,
        }
        app = await make_app(sample=True, offline=False, config=config)
        card = await app.service.paper(PAPER, CHANNEL)
        assert card.summary.source == "llm" and card.summary.provenance == "LLM summary (tiny-1, 2020-11-07)"
        await app.service.paper(PAPER, CHANNEL)
        assert len(llm.requests) == 1  # cached per (paper, version, model)
        llm.reply = "A better summary."
        assert (await app.service.regenerate_summary(PAPER, CHANNEL)).summary.text == "A better summary."
        assert len(llm.requests) == 2
        llm.fail("5xx")
        await app.service.regenerate_summary(PAPER, CHANNEL)  # the LLM fails: the next source, silently
        assert (await app.service.paper(PAPER, CHANNEL)).summary.source == "extractive"
