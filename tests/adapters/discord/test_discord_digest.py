"""The daily digest through DiscordPublisher, and reactions on its posts as votes that the next digest feels."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from adapters.discord.client import HotPapersBot
from bot.app.service import HotPapers
from bot.domain.errors import Undeliverable
from bot.domain.model import ChannelRef, DigestEntry, VoteTally
from tests.adapters.discord.support import StartBot, WatchedService, card
from tests.fakes.discord_server import ALICE, BOB, BOT_ID, GUILD_ID, OTHER_BOT, PAPERS_CHANNEL, FakeDiscord, Recorded

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
CAROL = "4000000000000000003"
EARLIER_DAY = date(2020, 10, 30)
POSTS = rf"/channels/{PAPERS_CHANNEL}/messages"


async def post_digest(fake: FakeDiscord, bot: HotPapersBot, service: Any, day: date) -> list[Recorded]:
    """Post the day's digest in #papers; return the recorded posts (header first)."""
    result = await service.post_digest(HERE, day, bot.publisher)
    assert (result.state, result.posted) == ("posted", len(result.digest.entries))
    posts = fake.sent("POST", POSTS)
    assert len(posts) == 1 + result.posted and all(p.status == 200 for p in posts)
    return posts


def message_id(fake: FakeDiscord, post: Recorded) -> str:
    """The id the fake gave the message posted by `post` (matched on the embed it carried)."""
    return next(m["id"] for m in fake.messages.values() if m["embeds"] and m["embeds"] == post.json["embeds"])


async def test_the_digest_is_a_header_then_one_embed_per_paper_with_the_vote_reactions_seeded(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers)
    header, *papers = await post_digest(fake, bot, hotpapers, sample_day)
    assert header.json["content"] == "🔥 Hot papers for Friday 2020-11-06 — top 5\n-# hp-20201106-0"
    assert not header.json.get("embeds")
    titles = [p.json["embeds"][0]["title"] for p in papers]
    assert [t.split(". ", 1)[0] for t in titles] == ["1", "2", "3", "4", "5"]
    assert titles[0] == "1. Physics-Informed Neural Network Super Resolution for Advection-Diffusion Models"
    for post in [header, *papers]:
        assert post.json["allowed_mentions"] == {"parse": []} and post.headers["Authorization"] == f"Bot {fake.token}"
    assert [b["label"] for p in papers for b in p.json["components"][0]["components"]] == ["PDF", "Discuss"] * 5
    footer = papers[0].json["embeds"][0]["footer"]["text"]
    assert footer.endswith("· arXiv:2011.02519v1 · vote with 👍 🔥 or 👎 · hp-20201106-1-2011.02519v1")
    nonces = [p.json["nonce"] for p in [header, *papers]]  # the same for a repeat from any replica
    assert len(set(nonces)) == 6 and all(len(n) <= 25 for n in nonces)
    assert all(p.json["enforce_nonce"] is True for p in [header, *papers])
    seeded = fake.sent("PUT", rf"{POSTS}/\d+/reactions/.+/@me")
    assert sorted(r.route.split("/")[-2] for r in seeded) == sorted(["👍", "👎"] * 5)


async def test_reactions_become_votes_and_change_the_order_of_the_next_digest(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched)
    before = [e.card.paper.id for e in (await hotpapers.digest(HERE, sample_day)).entries]
    _, *papers = await post_digest(fake, bot, watched, EARLIER_DAY)
    expected = 0
    for post in papers:  # the channel dislikes computer vision and likes the rest
        vision = "cs.CV" in post.json["embeds"][0]["fields"][1]["value"]
        for user in (ALICE, BOB, CAROL):
            await fake.react(message_id(fake, post), "👎" if vision else ("🔥" if user == BOB else "👍"), user_id=user)
            expected += 1
    await fake.react(message_id(fake, papers[0]), "👍", user_id=OTHER_BOT, bot=True)  # another bot: ignored
    await fake.react(message_id(fake, papers[0]), "🎉", user_id=ALICE)  # not a vote emoji: never reaches the engine
    votes = await watched.wait_votes(expected + 1)
    assert all(counted is True for event, counted in votes if not event.by_bot)
    assert [event.user_id for event, _ in votes if event.by_bot] == [OTHER_BOT]
    assert BOT_ID not in {event.user_id for event, _ in votes}  # its own seeded reactions never got that far
    after = await hotpapers.digest(HERE, sample_day)
    assert [e.card.paper.id for e in after.entries] != before
    assert after.entries[0].card.paper.id == before[1] and after.entries[1].card.paper.id == before[0]
    assert "taste -" in after.entries[1].card.why_line and "cs.CV" in after.entries[1].card.why_line


async def test_removing_a_reaction_removes_the_vote_and_a_thumbs_down_with_a_skin_tone_counts(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    watched = WatchedService(hotpapers)
    bot = await start_bot(watched)
    _, first, *_ = await post_digest(fake, bot, watched, sample_day)
    paper_id = first.json["embeds"][0]["url"].rsplit("/", 1)[-1]
    await fake.react(message_id(fake, first), "👍", user_id=ALICE)
    await fake.react(message_id(fake, first), "👍", user_id=ALICE, add=False)
    await fake.react(message_id(fake, first), "👎🏽", user_id=BOB)
    votes = await watched.wait_votes(3)
    assert sorted((e.user_id, e.value, e.removed) for e, _ in votes) == [
        (ALICE, 1, False),
        (ALICE, 1, True),
        (BOB, -1, False),
    ]
    assert (await hotpapers.paper(paper_id, HERE)).votes == VoteTally(up=0, down=1)


async def test_a_reaction_on_a_message_the_bot_did_not_post_is_ignored(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    watched = WatchedService(hotpapers)
    await start_bot(watched)
    await fake.react("1399999999999999999", "👍", user_id=ALICE)
    ((event, counted),) = await watched.wait_votes(1)
    assert event.message_id == "1399999999999999999" and counted is False


async def test_a_rate_limited_post_is_retried_by_discord_py_and_lands(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers)
    fake.ratelimit_next("POST", POSTS, retry_after=0.05)
    posted = await bot.publisher.publish(HERE, DigestEntry(rank=1, card=card(title="@everyone " * 40)))
    attempts = fake.sent("POST", POSTS)
    assert [a.status for a in attempts] == [429, 200] and attempts[0].json == attempts[1].json
    assert fake.messages[posted.message_id]["embeds"][0]["title"].startswith("1. @\u200beveryone")


async def test_posting_in_a_channel_that_is_gone_is_a_permanent_refusal_of_that_channel(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers)
    with pytest.raises(Undeliverable, match="#old no longer exists") as caught:
        await bot.publisher.say(ChannelRef("discord", GUILD_ID, "3999999999999999999", "#old"), "hello")
    assert caught.value.scope == "channel" and caught.value.fix == "subscribe another channel"
    assert fake.sent("GET", "/channels/3999999999999999999")[0].status == 404


async def test_digests_posted_at_once_in_many_channels_stay_under_discords_global_limit(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    channels = [ChannelRef("discord", GUILD_ID, str(3_000_000_000_000_000_100 + n), f"#lab-{n}") for n in range(3)]
    fake.extra_channels, fake.global_limit = tuple(c.channel for c in channels), 8
    bot = await start_bot(hotpapers, seed_reactions=False, global_rate_limit=8)
    fake.accepted.clear()
    results = await asyncio.gather(*(hotpapers.post_digest(c, sample_day, bot.publisher) for c in channels))
    assert [(r.state, r.posted) for r in results] == [("posted", 5)] * 3
    assert fake.globally_limited == 0  # 18 posts at once, and Discord never had to say 429
    starts = fake.accepted
    assert len(starts) == 18 and starts[-1] - starts[0] >= 2.0  # 8 + 8 + 2: paced over three windows
