"""Discord as it really fails, with the real discord.py against the hostile fake: what a digest does in each mode.

Transient failures (5xx bursts, resets, lost answers, a long 429, slow answers) end with every entry on the channel
exactly once; permanent ones skip one entry (50035), pause the channel (50001, 50013, 10003) or the whole bot (401).
The engine's clock is frozen, so its backoff waits take no time.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, PostKey
from tests.adapters.discord.support import StartBot
from tests.fakes.discord_server import GUILD_ID, PAPERS_CHANNEL, FakeDiscord

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
POSTS = rf"POST /channels/{PAPERS_CHANNEL}/messages"
REACTIONS = rf"PUT /channels/{PAPERS_CHANNEL}/messages/\d+/reactions/.+/@me"


def shown_keys(fake: FakeDiscord) -> Counter[PostKey | None]:
    """How many visible messages in #papers carry each idempotency key."""
    found: Counter[PostKey | None] = Counter()
    for message in fake.channel_messages(PAPERS_CHANNEL):
        texts = [e.get("footer", {}).get("text", "") for e in message.get("embeds", [])] + [message.get("content", "")]
        found[next((k for k in map(PostKey.search, texts) if k), None)] += 1
    return found


async def posted_once(fake: FakeDiscord, hotpapers: HotPapers, sample_day: date, bot: Any) -> None:
    result = await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    assert result.state == "posted" and result.posted == 5, result
    keys = shown_keys(fake)
    assert len(keys) == 6 and set(keys.values()) == {1} and None not in keys, keys


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("5xx", {"status": 503}),  # a burst longer than anything discord.py retries by itself
        ("reset", {}),  # the connection drops before an answer
        ("lost", {"answer": "reset"}),  # Discord took the message, the bot never heard
        ("lost", {"answer": "5xx", "status": 503}),
        ("429", {"retry_after": 90.0}),  # longer than max_ratelimit_timeout: discord.RateLimited
        ("slow", {"delay": 0.3}),
    ],
)
async def test_a_transient_failure_mid_digest_is_retried_and_every_entry_appears_once(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date, mode: str, params: dict[str, Any]
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    fault = fake.faults.inject(POSTS, mode, times=3, after=2, **params)
    await posted_once(fake, hotpapers, sample_day, bot)
    assert fault.hits == 3


async def test_a_long_429_or_a_reset_on_the_seed_reactions_never_reposts_the_card(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers)
    limited = fake.faults.inject(REACTIONS, "429", times=1, after=1, retry_after=120.0)
    reset = fake.faults.inject(REACTIONS, "reset", times=1, after=3)
    await posted_once(fake, hotpapers, sample_day, bot)
    assert limited.hits == 1 and reset.hits == 1
    assert len(fake.sent("POST", rf"/channels/{PAPERS_CHANNEL}/messages")) == 6


async def test_one_entry_discord_refuses_as_an_invalid_body_is_skipped_and_the_rest_goes_on(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    fake.faults.inject(POSTS, "invalid_form_body", times=1, after=2)  # the second paper
    result = await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    assert result.state == "posted" and result.posted == 4
    assert sorted(k.rank for k in shown_keys(fake) if k) == [0, 1, 3, 4, 5]
    assert (await hotpapers.settings(HERE)).paused is None


@pytest.mark.parametrize(
    ("mode", "reason", "fix"),
    [
        ("missing_access", "hotpapers cannot see #papers (Missing Access)", "View Channel in #papers"),
        ("missing_permissions", "lacks a permission in #papers (Missing Permissions)", "Embed Links"),
        ("unknown_channel", "#papers no longer exists (Unknown Channel)", "subscribe another channel"),
    ],
)
async def test_a_channel_discord_refuses_is_paused_with_the_fix_and_not_hammered(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date, mode: str, reason: str, fix: str
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    await hotpapers.subscribe(HERE, {})
    refusing = fake.faults.inject(POSTS, mode, times=None, after=1)  # the header went out, then access went away
    result = await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    assert result.state == "paused" and result.pause is not None
    settings = await hotpapers.settings(HERE)
    assert settings.paused is not None and reason in settings.paused.reason and fix in settings.paused.fix
    requests = len(fake.requests)
    assert (await hotpapers.post_digest(HERE, sample_day, bot.publisher)).state == "paused"
    assert len(fake.requests) == requests and refusing.hits == 2  # the refused card, then the notice: no more


async def test_a_rejected_token_pauses_every_channel_of_the_bot(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    other = ChannelRef("discord", GUILD_ID, "3000000000000000002", "#general")
    for channel in (HERE, other):
        await hotpapers.subscribe(channel, {})
    fake.faults.inject(POSTS, "unauthorized", times=None)
    result = await hotpapers.post_digest(HERE, sample_day, bot.publisher)
    assert result.state == "paused" and result.pause is not None and result.pause.scope == "workspace"
    assert "DISCORD_TOKEN" in result.pause.fix
    assert (await hotpapers.settings(other)).paused is not None
