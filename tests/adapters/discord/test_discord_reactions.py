"""Reactions as Discord sends them: two of one sign from one user, custom emoji, and a moderator clearing them."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from adapters.discord.client import HotPapersBot
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, VoteTally
from tests.adapters.discord.support import StartBot, WatchedService
from tests.fakes.discord_server import ALICE, BOB, GUILD_ID, PAPERS_CHANNEL, FakeDiscord, payload

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
PARTY = {"id": "5000000000000000001", "name": "partyparrot"}


class ClearWatch(WatchedService):
    """Also waits for clear_reactions, which a moderator's REMOVE_ALL / REMOVE_EMOJI end in."""

    def __init__(self, service: Any) -> None:
        super().__init__(service)
        self.cleared: list[tuple[str, str | None, VoteTally | None]] = []

    async def clear_reactions(self, channel: ChannelRef, message_id: str, reaction: str | None = None) -> Any:
        result = await self._service.clear_reactions(channel, message_id, reaction)
        async with self._changed:
            self.cleared.append((message_id, reaction, result))
            self._changed.notify_all()
        return result

    async def wait_cleared(self, count: int) -> list[tuple[str, str | None, VoteTally | None]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.cleared) >= count), 5)
        return self.cleared


async def first_post(fake: FakeDiscord, bot: HotPapersBot, service: Any, day: date) -> tuple[str, str]:
    """Post the digest; return the first paper's message id and paper id."""
    await service.post_digest(HERE, day, bot.publisher)
    message = next(m for m in fake.messages.values() if m["embeds"])
    return message["id"], message["embeds"][0]["url"].rsplit("/", 1)[-1]


async def tally(service: HotPapers, paper_id: str) -> VoteTally:
    return (await service.paper(paper_id, HERE)).votes


async def custom(fake: FakeDiscord, message_id: str, *, user_id: str, add: bool = True) -> None:
    data = payload("reaction_add") | {"message_id": message_id, "user_id": user_id, "emoji": PARTY}
    if add:
        data["member"]["user"]["id"] = user_id
    else:
        for key in ("member", "message_author_id", "burst_colors"):
            data.pop(key)
    await fake.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)


async def test_thumbs_up_then_fire_then_removing_fire_keeps_the_vote(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched)
    message_id, paper_id = await first_post(fake, bot, watched, sample_day)
    await fake.react(message_id, "👍", user_id=ALICE)
    await fake.react(message_id, "🔥", user_id=ALICE)
    await fake.react(message_id, "🔥", user_id=ALICE, add=False)
    votes = await watched.wait_votes(3)
    assert [e.reaction for e, _ in votes] == ["👍", "🔥", "🔥"]
    assert [counted for _, counted in votes] == [True] * 3
    assert await tally(hotpapers, paper_id) == VoteTally(1, 0)  # 👍 is still on the message: still one vote
    assert await tally(hotpapers, paper_id) == VoteTally(1, 0)
    await fake.react(message_id, "👍", user_id=ALICE, add=False)
    await watched.wait_votes(4)
    assert await tally(hotpapers, paper_id) == VoteTally(0, 0)


async def test_two_skin_tones_are_two_reactions_and_a_custom_emoji_is_known_by_its_id(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched, up_emoji=("👍", "<:partyparrot:5000000000000000001>"))
    message_id, paper_id = await first_post(fake, bot, watched, sample_day)
    await fake.react(message_id, "👍🏽", user_id=ALICE)
    await fake.react(message_id, "👍", user_id=ALICE)
    await fake.react(message_id, "👍🏽", user_id=ALICE, add=False)
    await custom(fake, message_id, user_id=BOB)
    votes = await watched.wait_votes(4)
    assert [e.reaction for e, _ in votes if e.user_id == BOB] == ["custom:5000000000000000001"]
    assert await tally(hotpapers, paper_id) == VoteTally(2, 0)
    await custom(fake, message_id, user_id=BOB, add=False)
    await watched.wait_votes(5)
    assert await tally(hotpapers, paper_id) == VoteTally(1, 0)


async def test_a_moderator_removing_one_emoji_removes_only_the_votes_it_held(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = ClearWatch(hotpapers)
    bot = await start_bot(watched)
    message_id, paper_id = await first_post(fake, bot, watched, sample_day)
    await fake.react(message_id, "🔥", user_id=ALICE)
    await fake.react(message_id, "👍", user_id=ALICE)
    await fake.react(message_id, "🔥", user_id=BOB)
    await watched.wait_votes(3)
    assert await tally(hotpapers, paper_id) == VoteTally(2, 0)
    data = {
        "channel_id": PAPERS_CHANNEL,
        "guild_id": GUILD_ID,
        "message_id": message_id,
        "emoji": {"id": None, "name": "🔥"},
    }
    await fake.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", data)
    ((_, reaction, after),) = await watched.wait_cleared(1)
    assert reaction == "🔥" and after == VoteTally(1, 0)  # Bob's 🔥 is gone; Alice keeps her 👍
    assert await tally(hotpapers, paper_id) == VoteTally(1, 0)


async def test_a_moderator_removing_all_reactions_removes_the_reaction_votes_but_not_the_button_ones(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = ClearWatch(hotpapers)
    bot = await start_bot(watched)
    message_id, paper_id = await first_post(fake, bot, watched, sample_day)
    await fake.react(message_id, "👍", user_id=ALICE)
    await fake.react(message_id, "👎", user_id=BOB)
    await watched.wait_votes(2)
    await fake.dispatch(
        "MESSAGE_REACTION_REMOVE_ALL", {"channel_id": PAPERS_CHANNEL, "guild_id": GUILD_ID, "message_id": message_id}
    )
    ((_, reaction, after),) = await watched.wait_cleared(1)
    assert reaction is None and after == VoteTally(0, 0)
    assert await tally(hotpapers, paper_id) == VoteTally(0, 0)
    await fake.dispatch(
        "MESSAGE_REACTION_REMOVE_ALL",
        {"channel_id": PAPERS_CHANNEL, "guild_id": GUILD_ID, "message_id": "1399999999999999999"},
    )
    assert (await watched.wait_cleared(2))[-1] == ("1399999999999999999", None, None)  # not our post: ignored
