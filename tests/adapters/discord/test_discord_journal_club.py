"""The journal club on Discord, end to end: real discord.py, the fake Discord (native polls, votes, expiry), the real
engine. A poll from `/journalclub start` to its winner, a changed vote, a tie, and a poll that expired while the
bot was down, closed by another replica."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app.service import HotPapers
from bot.domain.clock import FrozenClock
from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from tests.adapters.discord.support import StartBot, command
from tests.conftest import MakeApp
from tests.fakes.discord_server import ALICE, APP_ID, BOB, BOT_ID, EPHEMERAL, GUILD_ID, PAPERS_CHANNEL, FakeDiscord

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
CAROL = "4000000000000000003"


class Watched:
    """The real engine with its poll-vote calls observable: tests wait for the live votes instead of sleeping."""

    def __init__(self, service: HotPapers) -> None:
        self._service = service
        self.calls = 0
        self._changed = asyncio.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def poll_vote(self, *args: Any) -> Any:
        try:
            return await self._service.poll_vote(*args)
        finally:
            await self._called()

    async def poll_unvote(self, *args: Any) -> Any:
        try:
            return await self._service.poll_unvote(*args)
        finally:
            await self._called()

    async def _called(self) -> None:
        async with self._changed:
            self.calls += 1
            self._changed.notify_all()

    async def wait_calls(self, count: int) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.calls >= count), 5)


async def run(fake: FakeDiscord, payload: dict[str, Any]) -> str:
    """Dispatch a command and return the text of its private answer."""
    await fake.interact(payload)
    (answer,) = await fake.wait_for("POST", rf"/webhooks/{APP_ID}/{payload['token']}")
    assert answer.json["flags"] & EPHEMERAL
    return str(answer.json["content"])


def polls(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(PAPERS_CHANNEL) if m.get("poll")]


def announcements(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(PAPERS_CHANNEL) if "Journal club (poll #" in (m.get("content") or "")]


async def test_a_poll_from_start_to_winner_with_a_changed_vote(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    watched = Watched(hotpapers)
    bot = await start_bot(watched)
    assert bot.intents.guild_polls and not (bot.intents.message_content or bot.intents.members or bot.intents.presences)
    said = await run(fake, command(fake, "start", {"candidates": 3, "closes": "24h"}, group="journalclub", admin=True))
    assert said.startswith("Started journal-club poll #1")
    (message,) = polls(fake)
    poll = message["poll"]
    draft = await hotpapers.journal_club_poll(HERE)
    assert draft is not None
    assert [a["poll_media"]["text"] for a in poll["answers"]] == [o.label for o in draft.options]
    assert all(len(a["poll_media"]["text"]) <= 55 for a in poll["answers"]) and poll["allow_multiselect"] is False
    for n, option in enumerate(draft.options, 1):  # the full titles and links above the poll
        assert f"{n}. " in message["content"] and option.url in message["content"]
    assert message["content"].endswith("-# hp-20201107-0-jc1poll")
    await fake.vote(message["id"], 1, user_id=ALICE)
    await fake.vote(message["id"], 2, user_id=BOB)
    await fake.vote(message["id"], 2, user_id=ALICE)  # Alice changes her mind
    await fake.vote(message["id"], 3, user_id=CAROL)
    await fake.unvote(message["id"], 3, user_id=CAROL)  # and Carol takes hers back
    await watched.wait_calls(6)  # live: add, add, remove + add (a changed vote), add, remove
    live = await hotpapers.journal_club_poll(HERE)
    assert live is not None and live.counts == (0, 2, 0)
    said = await run(fake, command(fake, "close", group="journalclub", admin=True))
    assert said == "Closed: the winner is announced in the channel."
    assert fake.messages[message["id"]]["poll"]["results"]["is_finalized"]
    (announced,) = announcements(fake)
    winner = draft.options[1]
    assert f"(arXiv:{winner.paper_id}), chosen with 2 of 2 votes." in announced["content"]
    assert announced["embeds"][0]["url"] == f"https://arxiv.org/abs/{winner.paper_id}"
    assert announced["id"] in fake.threads  # the winner's discussion thread, on the announcement
    listed = await run(fake, command(fake, "history", group="journalclub"))
    assert f"arXiv:{winner.paper_id}" in listed and "2 of 2 votes" in listed


async def test_a_tie_on_discords_counts_is_broken_by_hotness_and_the_announcement_says_so(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    await run(fake, command(fake, "start", {"candidates": 2}, group="journalclub", admin=True))
    (message,) = polls(fake)
    await fake.vote(message["id"], 1, user_id=ALICE)
    await fake.vote(message["id"], 2, user_id=BOB)
    await run(fake, command(fake, "close", group="journalclub", admin=True))
    (announced,) = announcements(fake)
    assert "2 papers tied at 1 vote: the tie was broken by hotness" in announced["content"]


async def test_only_channel_admins_start_or_close_a_poll(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "start", group="journalclub")
    await fake.interact(payload)
    (refusal,) = await fake.wait_for("POST", rf"/interactions/{payload['id']}/{payload['token']}/callback")
    assert "Manage Channels" in refusal.json["data"]["content"] and polls(fake) == []


async def test_a_poll_that_expired_while_the_bot_was_down_is_closed_by_another_replica(
    fake: FakeDiscord, start_bot: StartBot, make_app: MakeApp, clock: FrozenClock
) -> None:
    first: App = await make_app(sample=True)
    bot = await start_bot(first.service)
    await run(fake, command(fake, "start", {"candidates": 3, "closes": "2h"}, group="journalclub", admin=True))
    (message,) = polls(fake)
    await fake.vote(message["id"], 3, user_id=ALICE)
    await fake.vote(message["id"], 3, user_id=BOB)
    await fake.vote(message["id"], 1, user_id=CAROL)
    await bot.close()  # the replica that started it is gone
    now = [fake.wall_clock() + 3 * 3600]
    fake.wall_clock = lambda: now[0]
    assert await fake.expire_polls() == [message["id"]]  # Discord ended the poll at its time
    clock.advance(hours=3)
    second: App = await make_app()
    other = await start_bot(second.service)
    (closed,) = await second.service.close_due_polls(lambda _: other.publisher)
    assert closed.state == "closed" and closed.outcome is not None and closed.outcome.counts == (1, 0, 2)
    (announced,) = announcements(fake)
    assert "chosen with 2 of 3 votes" in announced["content"] and announced["author"]["id"] == BOT_ID
    assert await second.service.close_due_polls(lambda _: other.publisher) == []  # once
