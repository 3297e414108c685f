"""The journal club on Slack, end to end: slack-bolt's app, the fake Slack (buttons, chat.update, threads), the real
engine. A poll from `/journalclub start` to its winner with a changed vote and live counts, a tie, who may start
one, and a poll closed by another replica while the one that started it was down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapters.slack.events import BOT_EVENTS
from bot.app.service import HotPapers
from bot.domain.clock import FrozenClock
from bot.domain.model import ChannelRef
from tests.adapters.slack.support import CHANNEL, SECRET, TEAM, USER, Harness, serving, with_roles
from tests.conftest import MakeApp
from tests.fakes.slack_server import FakeSlack

HERE = ChannelRef("slack", TEAM, CHANNEL, "#ml-papers")
VOTE = "hp_poll_vote_{}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        with_roles(fake)
        yield fake


@pytest.fixture
async def bot(hotpapers: HotPapers, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with served(hotpapers, fake) as harness:
        yield harness


@asynccontextmanager
async def served(service: HotPapers, fake: FakeSlack) -> AsyncIterator[Harness]:
    """The app, with the fake sending its button clicks to the app's request URL (as the manifest sets it)."""
    async with serving(service, fake) as harness:
        fake.subscribe_app(BOT_EVENTS, request_url=harness.slack.url, signing_secret=SECRET)
        yield harness


async def journalclub(bot: Harness, text: str, *, user: str = "UADMIN") -> str:
    hook = f"jc-{len(bot.fake.hooks)}"
    await bot.slack.command("/journalclub", text, response_url=bot.fake.response_url(hook), user_id=user)
    await bot.fake.wait_for(lambda: any(a.hook == hook for a in bot.fake.responses))
    (answer,) = [a for a in bot.fake.responses if a.hook == hook]
    assert answer.body["response_type"] == "ephemeral"
    return str(answer.body["text"])


def keyed(fake: FakeSlack, part: str) -> list[dict[str, Any]]:
    """The channel's messages whose metadata key ends with `part` (`poll` or `win`)."""
    return [
        m
        for m in fake.channel_messages(CHANNEL)
        if str(((m.get("metadata") or {}).get("event_payload") or {}).get("key", "")).endswith(part)
    ]


def shown(message: dict[str, Any]) -> str:
    return " ".join(str(b.get("text", {}).get("text", "")) for b in message.get("blocks") or [])


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def click(bot: Harness, ts: str, answer: int, user: str) -> str:
    """A click on answer `answer` (from 0); returns the private receipt."""
    before = len(bot.fake.responses)
    await bot.fake.click(CHANNEL, ts, VOTE.format(answer), user=user)
    (receipt,) = (await bot.fake.wait_for_responses(before + 1))[before:]
    return str(receipt.body["text"])


async def test_a_poll_from_start_to_winner_with_a_changed_vote_and_live_counts(
    bot: Harness, hotpapers: HotPapers
) -> None:
    said = await journalclub(bot, "start candidates=3 closes=24h")
    assert said.startswith("Started journal-club poll #1")
    (poll,) = keyed(bot.fake, "jc1poll")
    assert buttons(poll) == [VOTE.format(n) for n in range(3)]
    draft = await hotpapers.journal_club_poll(HERE)
    assert draft is not None
    for option in draft.options:  # every full title, as a link
        assert f"<{option.url}|" in shown(poll)
    assert "Your vote for 1." in await click(bot, poll["ts"], 0, USER)
    assert "(changed from 1)" in await click(bot, poll["ts"], 1, USER)
    await click(bot, poll["ts"], 1, "UMAKER")
    (poll,) = keyed(bot.fake, "jc1poll")  # updated in place with chat.update
    assert "— 0 votes" in shown(poll) and "— 2 votes" in shown(poll)
    assert (await journalclub(bot, "close")) == "Closed: the winner is announced in the channel."
    (poll,) = keyed(bot.fake, "jc1poll")
    assert buttons(poll) == [] and "Poll #1 is closed (2 votes in all)." in str(poll["blocks"])
    (announced,) = keyed(bot.fake, "jc1win")
    winner = draft.options[1]
    assert f"(arXiv:{winner.paper_id}), chosen with 2 of 2 votes." in shown(announced)
    (opener,) = bot.fake.thread(CHANNEL, announced["ts"])  # the winner's discussion thread
    assert f"Discuss “{winner.title}”" in opener["text"]
    history = await journalclub(bot, "history", user=USER)
    assert f"arXiv:{winner.paper_id}" in history and "2 of 2 votes" in history


async def test_a_tie_is_broken_by_hotness_and_said_so_and_members_cannot_start_a_poll(bot: Harness) -> None:
    refused = await journalclub(bot, "start", user=USER)
    assert "can't start or close a journal-club poll here" in refused and keyed(bot.fake, "poll") == []
    await journalclub(bot, "start candidates=2", user="UMAKER")  # the channel's creator may
    (poll,) = keyed(bot.fake, "jc1poll")
    await click(bot, poll["ts"], 0, USER)
    await click(bot, poll["ts"], 1, "UADMIN")
    await journalclub(bot, "close")
    (announced,) = keyed(bot.fake, "jc1win")
    assert "2 papers tied at 1 vote: the tie was broken by hotness" in shown(announced)


async def test_a_poll_due_while_its_replica_was_down_is_closed_by_another(
    fake: FakeSlack, make_app: MakeApp, clock: FrozenClock
) -> None:
    first = await make_app(sample=True)
    async with served(first.service, fake) as bot:
        await journalclub(bot, "start candidates=3 closes=1h")
        (poll,) = keyed(fake, "jc1poll")
        await click(bot, poll["ts"], 2, USER)
    clock.advance(hours=2)  # the first replica is gone when the poll is due
    second = await make_app()
    async with served(second.service, fake) as other:
        (closed,) = await second.service.close_due_polls(lambda _: other.server.publisher)
        assert closed.state == "closed" and closed.outcome is not None and closed.outcome.counts == (0, 0, 1)
        assert await second.service.close_due_polls(lambda _: other.server.publisher) == []
    (announced,) = keyed(fake, "jc1win")
    assert "chosen with 1 of 1 vote." in shown(announced)
    (poll,) = keyed(fake, "jc1poll")
    assert buttons(poll) == []
