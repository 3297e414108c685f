"""Discussion threads on Discord with the real discord.py against the fake (issue 18): the Discuss button opens a
public thread on the card, people's replies (MESSAGE_CREATE in the thread, no message content) count once each,
bots never, and a deleted reply (MESSAGE_DELETE, no author) counts no more."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta
from typing import Any

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, Discussion, ReplyEvent, VoteEvent
from bot.runtime.bootstrap import App
from tests.adapters.discord.support import StartBot, WatchedService, button_press
from tests.conftest import SAMPLE_NOW
from tests.fakes.discord_server import (
    ALICE,
    APP_ID,
    BOB,
    GENERAL_CHANNEL,
    GUILD_ID,
    OTHER_BOT,
    PAPERS_CHANNEL,
    FakeDiscord,
)

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
ELSEWHERE = ChannelRef("discord", GUILD_ID, GENERAL_CHANNEL, "#general")
THREADS = r"/channels/\d+/messages/\d+/threads"


class ReplyWatch(WatchedService):
    """The engine, with every reply and removal the adapter hands it observable (tests wait, never sleep)."""

    def __init__(self, service: Any) -> None:
        super().__init__(service)
        self.replies: list[tuple[ReplyEvent, Discussion | None]] = []
        self.removed: list[tuple[str, Discussion | None]] = []

    async def record_reply(self, event: ReplyEvent) -> Discussion | None:
        result = await self._service.record_reply(event)
        async with self._changed:
            self.replies.append((event, result))
            self._changed.notify_all()
        return result

    async def remove_reply(self, channel: ChannelRef, message_id: str) -> Discussion | None:
        result = await self._service.remove_reply(channel, message_id)
        async with self._changed:
            self.removed.append((message_id, result))
            self._changed.notify_all()
        return result

    async def settled(self, replies: int, removed: int = 0) -> None:
        async with self._changed:
            done = lambda: len(self.replies) >= replies and len(self.removed) >= removed  # noqa: E731
            await asyncio.wait_for(self._changed.wait_for(done), 5)


def cards(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The digest's card messages in #papers, in rank order."""
    return [m for m in fake.messages.values() if m["embeds"] and m["channel_id"] == PAPERS_CHANNEL]


async def discuss(fake: FakeDiscord, card: dict[str, Any], *, user_id: str = ALICE) -> str:
    """Press Discuss on a card; the bot's private answer."""
    press = button_press(fake, card, "hp:discuss", user_id=user_id)
    await fake.interact(press)
    (followup,) = await fake.wait_for("POST", rf"/webhooks/{APP_ID}/{press['token']}")
    return str(followup.json["content"])


async def test_discuss_opens_one_public_thread_on_the_card_and_replies_count_their_people(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = ReplyWatch(hotpapers)
    bot = await start_bot(watched, seed_reactions=False)
    await watched.post_digest(HERE, sample_day, bot.publisher)
    card = cards(fake)[4]
    buttons = [c for row in card["components"] for c in row["components"]]
    assert [b.get("custom_id") for b in buttons] == [None, "hp:discuss"]  # PDF (a link), Discuss

    answer = await discuss(fake, card)
    assert answer.startswith("Opened a thread on arXiv:") and answer.endswith(f"<#{card['id']}>")
    thread = fake.threads[card["id"]]
    assert thread["parent_id"] == PAPERS_CHANNEL and thread["type"] == 11  # a public thread, id = the card's
    assert "Replies count as 💬" in next(m for m in fake.messages.values() if m["channel_id"] == card["id"])["content"]
    again = await discuss(fake, card, user_id=BOB)
    assert again.startswith("The thread on arXiv:") and len(fake.sent("POST", THREADS)) == 1

    first = await fake.say(card["id"], "", user_id=ALICE)
    await fake.say(card["id"], "", user_id=ALICE)  # a second reply of one person
    await fake.say(card["id"], "", user_id=OTHER_BOT, bot=True)  # never reaches the engine
    await fake.say(PAPERS_CHANNEL, "", user_id=BOB)  # not in a thread: not a reply
    bobs = await fake.say(card["id"], "", user_id=BOB)
    await watched.settled(3)
    assert sorted(event.user_id for event, _ in watched.replies) == [ALICE, ALICE, BOB]  # not the other bot
    paper_id = card["embeds"][0]["url"].rsplit("/", 1)[-1]
    assert (await hotpapers.paper(paper_id, HERE)).discussed[0].people == 2  # events race: only the end is sure
    assert all(not event.by_bot and event.channel == HERE for event, _ in watched.replies)

    await fake.delete_message(bobs["id"])
    await fake.delete_message(first["id"])  # Alice's second reply still counts her
    await watched.settled(3, removed=2)
    assert [result is not None for _, result in watched.removed] == [True, True]
    shown = await hotpapers.paper(paper_id, HERE)
    assert "💬 1 here" in shown.why and shown.discussed[0].people == 1


async def test_replies_move_the_paper_up_in_that_channels_next_digest_and_not_in_another(
    fake: FakeDiscord, start_bot: StartBot, adapter_app: App, sample_day: date
) -> None:
    hotpapers = adapter_app.service
    watched = ReplyWatch(hotpapers)
    bot = await start_bot(watched, seed_reactions=False)
    await watched.post_digest(HERE, sample_day, bot.publisher)
    await watched.post_digest(ELSEWHERE, sample_day, bot.publisher)
    fourth, fifth = cards(fake)[3], cards(fake)[4]
    await discuss(fake, fifth)
    await fake.say(fifth["id"], "", user_id=ALICE)
    await fake.say(fifth["id"], "", user_id=BOB)
    await watched.settled(2)

    ids = [card["embeds"][0]["url"].rsplit("/", 1)[-1] for card in (fourth, fifth)]
    papers = [(await hotpapers.paper(paper_id)).paper for paper_id in ids]
    later = SAMPLE_NOW - timedelta(hours=1)  # arXiv announces v2 of both: they come back as updates
    await adapter_app.operations.store_papers([dataclasses.replace(p, version=2, updated=later) for p in papers])
    here = [e.card.paper.id for e in (await hotpapers.digest(HERE, sample_day)).entries]
    there = [e.card.paper.id for e in (await hotpapers.digest(ELSEWHERE, sample_day)).entries]
    assert here.index(ids[1]) < here.index(ids[0]) and there.index(ids[0]) < there.index(ids[1])


async def test_threads_always_opens_one_per_card_as_it_is_posted_and_off_shows_no_button(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    await hotpapers.subscribe(HERE, {"threads": "always"})
    await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    assert sorted(fake.threads) == sorted(card["id"] for card in cards(fake))
    first = cards(fake)[0]["id"]  # a repeat finds the thread (Discord answers 160004) and posts no second opener
    assert await bot.publisher.open_thread(HERE, first, name="again", opener="again") == first
    assert not [m for m in fake.messages.values() if m["content"] == "again"]

    await hotpapers.subscribe(ELSEWHERE, {"threads": "off"})
    await hotpapers.post_digest(ELSEWHERE, sample_day, bot.publisher)
    elsewhere = [m for m in fake.messages.values() if m["embeds"] and m["channel_id"] == GENERAL_CHANNEL]
    assert elsewhere and all("hp:discuss" not in str(row) for card in elsewhere for row in card.get("components", []))


async def test_the_roundup_links_each_paper_to_its_card_by_the_jump_url_without_asking_discord(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    liked = [cards(fake)[i]["id"] for i in (1, 3)]
    for user, message_id in zip((ALICE, BOB), liked, strict=True):
        await hotpapers.record_vote(VoteEvent(HERE, user, message_id, 1))
    asked = len(fake.requests)
    links = [await bot.publisher.permalink(HERE, message_id) for message_id in liked]
    assert links == [f"https://discord.com/channels/{GUILD_ID}/{PAPERS_CHANNEL}/{m}" for m in liked]
    assert await bot.publisher.permalink(HERE, "lost") == "message lost"  # no snowflake: the plain reference
    assert len(fake.requests) == asked  # made from the ids: no request

    result = await hotpapers.post_roundup(HERE, bot.publisher, sample_day)
    assert result.state == "posted" and len(result.roundup.entries) == 2
    (roundup,) = [m for m in fake.messages.values() if m["content"].startswith("📚 The week in")]
    assert all(f"original post: {link}" in roundup["content"] for link in links)
