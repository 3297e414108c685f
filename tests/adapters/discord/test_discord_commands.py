"""Slash commands, buttons and the summary modal, end to end: real discord.py, fake Discord, real engine."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from adapters.discord.errors import MANAGE_CHANNELS
from bot.app.service import HotPapers
from bot.domain.arxiv_id import ACCEPTED_FORMS
from bot.domain.errors import UpstreamUnavailable
from bot.domain.messages import UNREACHABLE
from bot.domain.model import ChannelRef, PaperCard
from tests.adapters.discord.support import (
    StartBot,
    WatchedService,
    button_press,
    command,
    modal_submit,
)
from tests.fakes.discord_server import APP_ID, BOB, EPHEMERAL, GUILD_ID, PAPERS_CHANNEL, FakeDiscord, Recorded

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
NO_MENTIONS = {"parse": []}


async def ask(fake: FakeDiscord, interaction: dict[str, Any], *, followups: int = 1) -> tuple[Recorded, list[Recorded]]:
    """Dispatch an interaction; return the bot's callback and its first `followups` follow-ups."""
    await fake.interact(interaction)
    token = interaction["token"]
    (callback,) = await fake.wait_for("POST", rf"/interactions/{interaction['id']}/{token}/callback")
    sent = await fake.wait_for("POST", rf"/webhooks/{APP_ID}/{token}", count=followups) if followups else []
    return callback, sent


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_paper_defers_then_shows_a_public_card_with_pdf_and_vote_buttons(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "paper", {"ref": "https://arxiv.org/abs/2010.00577v1"})
    callback, (followup,) = await ask(fake, payload)
    assert (callback.json, callback.query, callback.status) == ({"type": 5}, {"with_response": "1"}, 200)
    assert followup.status == 200 and followup.json["allowed_mentions"] == NO_MENTIONS
    (embed,) = followup.json["embeds"]
    assert embed["title"] == "Interpreting Graph Neural Networks for NLP With Differentiable Edge Masking"
    assert embed["url"] == "https://arxiv.org/abs/2010.00577"
    assert fields(embed)["Authors"] == "Michael Sejr Schlichtkrull, Nicola De Cao, Ivan Titov"
    assert embed["footer"]["text"].endswith("· arXiv:2010.00577v1")
    assert embed["description"].startswith("Graph neural networks (GNNs)")
    (row,) = followup.json["components"]
    assert [(b["style"], b.get("url"), b.get("custom_id")) for b in row["components"]] == [
        (5, "https://arxiv.org/pdf/2010.00577v1", None),
        (2, None, "hp:vote:+1:2010.00577"),
        (2, None, "hp:vote:-1:2010.00577"),
    ]
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == 0 and shown["embeds"][0]["title"] == embed["title"]  # public, in place of "thinking…"


async def test_an_invalid_reference_is_a_private_error_listing_the_accepted_forms(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "paper", {"ref": "@everyone [look](https://evil.example)"})
    _, (followup,) = await ask(fake, payload)
    assert fake.sent("DELETE", rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original")[0].status == 204
    (shown,) = fake.replies(payload["token"])  # the public "thinking…" message is gone
    assert shown["flags"] == EPHEMERAL
    assert "is not an arXiv id or URL" in shown["content"] and "2010.00577v2" in shown["content"]
    assert "@\u200beveryone" in shown["content"] and r"\[look\](https://evil.example)" in shown["content"]
    assert ACCEPTED_FORMS.split(", ")[-1] in shown["content"]
    assert followup.json["allowed_mentions"] == NO_MENTIONS


async def test_an_unknown_paper_is_a_private_not_found_naming_the_id(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "paper", {"ref": "2010.99999"})
    await ask(fake, payload)
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == EPHEMERAL and "2010.99999" in shown["content"]
    assert shown["content"].startswith("No paper 2010.99999")


class Unreachable(WatchedService):
    async def paper(self, ref: str, channel: ChannelRef | None = None, *, user: str | None = None) -> PaperCard:
        raise UpstreamUnavailable("arXiv API: connection refused")


async def test_when_arxiv_is_unreachable_the_user_is_asked_to_try_again_in_a_minute(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(Unreachable(hotpapers))
    payload = command(fake, "paper", {"ref": "2010.00577"})
    await ask(fake, payload)
    (shown,) = fake.replies(payload["token"])
    assert (shown["content"], shown["flags"]) == (UNREACHABLE, EPHEMERAL)


class Slow(WatchedService):
    """paper() and settings() wait until the test lets them go: a lookup slower than the 3 s deadline."""

    def __init__(self, service: HotPapers) -> None:
        super().__init__(service)
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def paper(self, ref: str, channel: ChannelRef | None = None, *, user: str | None = None) -> PaperCard:
        self.entered.set()
        await self.release.wait()
        return await self._service.paper(ref, channel)

    async def settings(self, channel: ChannelRef) -> Any:
        self.entered.set()
        await self.release.wait()
        return await self._service.settings(channel)


async def test_a_slow_lookup_is_deferred_inside_the_deadline_and_answered_after_it(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]
    slow = Slow(hotpapers)
    await start_bot(slow)
    payload = command(fake, "paper", {"ref": "2010.00577"})
    await fake.interact(payload)
    await asyncio.wait_for(slow.entered.wait(), 5)
    (callback,) = fake.sent("POST", r"/interactions/.+/callback")
    assert (callback.json["type"], callback.status) == (5, 200)  # acknowledged before the lookup started
    now[0] += 60.0  # a minute later: far past the 3 s deadline, well inside the 15 min token lifetime
    slow.release.set()
    (followup,) = await fake.wait_for("POST", r"/webhooks/.+")
    assert followup.status == 200 and followup.json["embeds"][0]["url"] == "https://arxiv.org/abs/2010.00577"


async def test_settings_on_a_slow_database_is_deferred_first_so_discord_never_says_unknown_interaction(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]
    slow = Slow(hotpapers)
    await start_bot(slow)
    payload = command(fake, "settings", group="hotpapers", admin=True)
    await fake.interact(payload)
    await asyncio.wait_for(slow.entered.wait(), 5)
    (callback,) = fake.sent("POST", r"/interactions/.+/callback")
    assert (callback.json, callback.status) == ({"type": 5, "data": {"flags": EPHEMERAL}}, 200)
    now[0] += 3.5  # the database took longer than Discord's 3 s deadline
    slow.release.set()
    (followup,) = await fake.wait_for("POST", r"/webhooks/.+")
    assert followup.status == 200
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == EPHEMERAL and shown["content"].startswith("Digest settings for #papers:")


async def test_the_fake_refuses_a_callback_after_three_seconds_like_discord(fake: FakeDiscord) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]
    payload = button_press(fake, {"id": "1", "channel_id": PAPERS_CHANNEL}, "nobody-handles-this")
    await fake.interact(payload)  # no bot connected: nobody answers in time
    now[0] += 3.5
    url = f"{fake.api_base}/interactions/{payload['id']}/{payload['token']}/callback?with_response=1"
    async with aiohttp.ClientSession() as http, http.post(url, json={"type": 5}) as answer:
        assert (answer.status, (await answer.json())["code"]) == (404, 10062)


async def test_vote_buttons_count_for_the_paper_on_the_card_and_top_ranks_by_them(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    cards = {}
    for ref in ("2010.00577", "2010.00402"):
        payload = command(fake, "paper", {"ref": ref})
        await ask(fake, payload)
        (cards[ref],) = fake.replies(payload["token"])
    presses = [
        ("2010.00577", "+1", "4000000000000000001"),
        ("2010.00402", "+1", "4000000000000000001"),
        ("2010.00402", "+1", BOB),
        ("2010.00577", "-1", BOB),
    ]
    for ref, value, user in presses:
        press = button_press(fake, cards[ref], f"hp:vote:{value}:{ref}", user_id=user)
        callback, _ = await ask(fake, press)
        assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}  # deferred before the database
        (receipt,) = fake.replies(press["token"])
        assert receipt["flags"] == EPHEMERAL
    assert receipt["content"] == "Your 👎 is counted. Now 👍 1 · 👎 1 in this channel."
    assert (await hotpapers.paper("2010.00402", HERE)).votes.up == 2
    payload = command(fake, "top", {"days": 7})
    callback, (followup,) = await ask(fake, payload)
    assert callback.json == {"type": 5}
    (embed,) = followup.json["embeds"]
    assert embed["title"] == "Most-voted papers in #papers, last 7 days"
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        (
            "1. From Trees to Continuous Embeddings and Back: Hyperbolic Hierarchical Clustering",
            "👍 2 · 👎 0 · https://arxiv.org/abs/2010.00402",
        ),
        (
            "2. Interpreting Graph Neural Networks for NLP With Differentiable Edge Masking",
            "👍 1 · 👎 1 · https://arxiv.org/abs/2010.00577",
        ),
    ]


async def test_top_without_votes_says_how_to_vote(fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers) -> None:
    await start_bot(hotpapers)
    _, (followup,) = await ask(fake, command(fake, "top"))
    assert (
        followup.json["content"] == "No votes here in the last 7 days yet: vote with 👍 🔥 or 👎 on the digest posts."
    )


async def test_summarize_opens_a_modal_whose_text_becomes_the_community_summary(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    callback, _ = await ask(fake, command(fake, "summarize", {"ref": "arXiv:2010.00577"}), followups=0)
    modal = callback.json["data"]
    assert callback.json["type"] == 9 and modal["title"] == "Summarize arXiv:2010.00577"
    (text_input,) = [c for row in modal["components"] for c in row.get("components", [row.get("component")])]
    assert (text_input["style"], text_input["min_length"], text_input["max_length"]) == (2, 20, 3000)
    text = "It learns which GNN edges can go, **then** reads the rest as an explanation. @everyone"
    submit = modal_submit(fake, modal, [text])
    callback, (followup,) = await ask(fake, submit)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert followup.json["content"].startswith("Thanks! Your summary of arXiv:2010.00577 is saved")
    (shown,) = fake.replies(submit["token"])
    assert shown["flags"] == EPHEMERAL
    _, (card,) = await ask(fake, command(fake, "paper", {"ref": "2010.00577"}))
    (embed,) = card.json["embeds"]
    assert fields(embed)["Summary"] == (
        r"It learns which GNN edges can go, \*\*then\*\* reads the rest as an explanation. @" + "\u200beveryone"
    )
    assert embed["footer"]["text"].startswith("Community summary by Alice ·")


async def test_summarize_refuses_a_bad_reference_before_opening_the_modal(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    callback, _ = await ask(fake, command(fake, "summarize", {"ref": "twenty-ten"}), followups=0)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] == EPHEMERAL
    assert "'twenty-ten' is not an arXiv id or URL" in callback.json["data"]["content"]


async def test_subscribe_stores_the_channels_options_and_answers_the_admin_privately(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    options = {
        "categories": "cs.LG, cs.CL",
        "keywords": "graph_neural",
        "top_n": 3,
        "post_time": "8:30",
        "timezone": "Europe/Berlin",
        "weekdays": "mon-fri",
        "announce_empty": True,
        "threads": "always",
        "roundup": True,
        "roundup_day": "thu",
        "roundup_time": "17:15",
    }
    payload = command(fake, "subscribe", options, group="hotpapers", admin=True)
    callback, (followup,) = await ask(fake, payload)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert followup.json["allowed_mentions"] == NO_MENTIONS
    (data,) = fake.replies(payload["token"])
    assert data["flags"] == EPHEMERAL
    assert data["content"].startswith("Subscribed. Digest settings for #papers:\nsubscribed: yes\n")
    assert r"keywords: graph\_neural" in data["content"]
    stored = await hotpapers.settings(HERE)
    assert (stored.categories, stored.top_n, stored.post_time, stored.timezone) == (
        ("cs.LG", "cs.CL"),
        3,
        "08:30",
        "Europe/Berlin",
    )
    assert (stored.weekdays, stored.announce_empty, stored.subscribed) == ((0, 1, 2, 3, 4), True, True)
    assert (stored.threads, stored.roundup, stored.roundup_day, stored.roundup_time) == ("always", True, 3, "17:15")
    assert "weekly roundup: Thursdays at 17:15 Europe/Berlin" in data["content"]


@pytest.mark.parametrize("subcommand", ["subscribe", "unsubscribe", "settings"])
async def test_hotpapers_without_manage_channels_is_refused_privately_and_changes_nothing(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, subcommand: str
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, subcommand, {"top_n": 3} if subcommand == "subscribe" else {}, group="hotpapers")
    callback, _ = await ask(fake, payload, followups=0)
    assert callback.json["data"] == {
        "content": MANAGE_CHANNELS,
        "flags": EPHEMERAL,
        "tts": False,
        "allowed_mentions": NO_MENTIONS,
    }
    assert (await hotpapers.settings(HERE)).subscribed is False


async def test_a_bad_option_is_named_and_nothing_is_written(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "subscribe", {"top_n": 3, "timezone": "Mars/Olympus"}, group="hotpapers", admin=True)
    await ask(fake, payload)
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == EPHEMERAL
    assert shown["content"].startswith("Timezone: unknown time zone 'Mars/Olympus'")
    assert (await hotpapers.settings(HERE)).top_n == 5


async def test_unsubscribe_stops_the_digest_and_settings_show_it(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    await hotpapers.subscribe(HERE, {"top_n": "4"})

    async def answer(subcommand: str) -> str:
        payload = command(fake, subcommand, group="hotpapers", admin=True)
        await ask(fake, payload)
        (shown,) = fake.replies(payload["token"])
        assert shown["flags"] == EPHEMERAL
        return str(shown["content"])

    assert (await answer("unsubscribe")).startswith("Unsubscribed: no more digests here.")
    shown = await answer("settings")
    assert "subscribed: no" in shown and "top: 4 papers" in shown
    assert await answer("unsubscribe") == "This channel is not subscribed"


async def test_subscribe_is_refused_naming_the_permissions_the_bot_lacks_in_the_channel(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "subscribe", {"top_n": 3}, group="hotpapers", admin=True)
    view, send, history = 1 << 10, 1 << 11, 1 << 16
    payload["app_permissions"] = str(view | send | history)  # no Embed Links, no Add Reactions, no threads
    callback, _ = await ask(fake, payload, followups=0)
    data = callback.json["data"]
    assert callback.json["type"] == 4 and data["flags"] == EPHEMERAL
    assert (
        "it lacks Embed Links, Add Reactions, Create Public Threads, Send Messages in Threads in this channel"
        in data["content"]
    )
    assert (await hotpapers.settings(HERE)).subscribed is False
    payload = command(fake, "subscribe", {"top_n": 3}, group="hotpapers", admin=True)
    payload["app_permissions"] = str(view | send | history | (1 << 14) | (1 << 6))  # + Embed Links, Add Reactions
    callback, _ = await ask(fake, payload, followups=0)
    assert "it lacks Create Public Threads, Send Messages in Threads" in callback.json["data"]["content"]
    payload = command(fake, "subscribe", {"top_n": 3}, group="hotpapers", admin=True)
    payload["app_permissions"] = str(view | send | history | (1 << 14) | (1 << 6) | (1 << 35) | (1 << 38))
    await ask(fake, payload)
    assert (await hotpapers.settings(HERE)).subscribed is True


async def test_settings_show_a_pause_with_its_fix_and_subscribing_again_resumes_the_channel(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: Any
) -> None:
    bot = await start_bot(hotpapers, seed_reactions=False)
    await hotpapers.subscribe(HERE, {})
    fake.faults.inject(rf"POST /channels/{PAPERS_CHANNEL}/messages", "missing_permissions", times=None)
    assert (await hotpapers.post_digest(HERE, sample_day, bot.publisher)).state == "paused"
    payload = command(fake, "settings", group="hotpapers", admin=True)
    await ask(fake, payload)
    (shown,) = fake.replies(payload["token"])
    assert (
        "paused: hotpapers lacks a permission in #papers (Missing Permissions) — to fix it: grant" in shown["content"]
    )
    fake.faults.clear()
    payload = command(fake, "subscribe", {}, group="hotpapers", admin=True)
    await ask(fake, payload)
    assert (await hotpapers.settings(HERE)).paused is None
