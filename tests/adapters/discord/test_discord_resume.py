"""The real discord.py bot against the fake gateway and REST: votes across a disconnect (RESUME replay, op 9), history
paging, the reaction-clear events."""

from __future__ import annotations

import asyncio
from datetime import date

import discord

from adapters.discord.client import HotPapersBot
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, VoteTally
from tests.adapters.discord.support import StartBot, WatchedService
from tests.fakes.discord_server import ALICE, BOB, GUILD_ID, PAPERS_CHANNEL, FakeDiscord

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
POSTS = rf"/channels/{PAPERS_CHANNEL}/messages"


async def first_card(fake: FakeDiscord, bot_service: WatchedService, bot: HotPapersBot, day: date) -> tuple[str, str]:
    """Post the day's digest; return the first paper card's message id and paper id."""
    result = await bot_service.post_digest(HERE, day, bot.publisher)
    assert result.state == "posted"
    card = fake.sent("POST", POSTS)[1]
    message_id = next(m["id"] for m in fake.channel_messages(PAPERS_CHANNEL) if m["embeds"] == card.json["embeds"])
    return message_id, card.json["embeds"][0]["url"].rsplit("/", 1)[-1]


def frames(fake: FakeDiscord, op: int) -> int:
    return sum(1 for frame in fake.frames if frame["op"] == op)


async def test_a_vote_cast_while_the_bot_is_disconnected_is_counted_after_it_resumes(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched)
    message_id, paper_id = await first_card(fake, watched, bot, sample_day)
    await fake.drop_connection()  # the network drops; the session stays resumable
    await fake.react(message_id, "👍", user_id=ALICE)  # cast while the bot is away: kept for the session
    assert not fake.sockets and not watched.votes
    await fake.until(lambda: frames(fake, 6) == 1 and len(fake.sockets) == 1)  # discord.py RESUMEs by itself
    ((event, counted),) = await watched.wait_votes(1)
    assert (event.user_id, event.message_id, event.value, event.removed) == (ALICE, message_id, 1, False)
    assert counted is True and (await hotpapers.paper(paper_id, HERE)).votes == VoteTally(up=1, down=0)
    assert frames(fake, 2) == 1  # resumed, not identified afresh
    (resume,) = [f["d"] for f in fake.frames if f["op"] == 6]
    assert resume["session_id"] == "fake-session"


async def test_after_an_invalid_session_the_bot_identifies_afresh_and_counts_the_votes_that_follow(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched)
    message_id, paper_id = await first_card(fake, watched, bot, sample_day)

    async def identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before identifying again (the identify rate); the test need not."""

    bot.before_identify_hook = identify_at_once  # type: ignore[method-assign]
    await fake.invalidate_session()
    await fake.until(lambda: frames(fake, 2) == 2 and any(s.valid and s.socket for s in fake.sessions.values()))
    await fake.react(message_id, "👎", user_id=BOB)
    ((event, _),) = await watched.wait_votes(1)
    assert (event.user_id, event.value) == (BOB, -1)
    assert (await hotpapers.paper(paper_id, HERE)).votes == VoteTally(up=0, down=1)
    assert [s.session_id for s in fake.sessions.values() if s.valid] == ["fake-session-2"]


async def test_discord_pys_channel_history_pages_through_the_fake_in_both_directions(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers)
    channel = bot.get_channel(int(PAPERS_CHANNEL))
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"#{n}") for n in range(5)]
    newest = [m.content async for m in channel.history(limit=None)]
    oldest = [m.content async for m in channel.history(limit=3, after=sent[0], oldest_first=True)]
    before = [m.content async for m in channel.history(limit=2, before=sent[3])]
    assert (newest, oldest, before) == (["#4", "#3", "#2", "#1", "#0"], ["#1", "#2", "#3"], ["#2", "#1"])
    await sent[2].delete()
    assert [m.content async for m in channel.history(limit=None)] == ["#4", "#3", "#1", "#0"]
    assert fake.messages_created(PAPERS_CHANNEL) == 5


async def test_discord_py_reads_the_fakes_reaction_clear_events(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers)
    cleared = asyncio.ensure_future(bot.wait_for("raw_reaction_clear", timeout=5))
    one_emoji = asyncio.ensure_future(bot.wait_for("raw_reaction_clear_emoji", timeout=5))
    await fake.dispatch_reaction_remove_all(PAPERS_CHANNEL, "1300000000000000001")
    await fake.dispatch_reaction_remove_emoji(PAPERS_CHANNEL, "1300000000000000002", "🔥")
    everything, fire = await cleared, await one_emoji
    assert (everything.message_id, everything.channel_id, everything.guild_id) == (
        1300000000000000001,
        int(PAPERS_CHANNEL),
        int(GUILD_ID),
    )
    assert (fire.message_id, str(fire.emoji)) == (1300000000000000002, "🔥")
