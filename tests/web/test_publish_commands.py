"""`publish=yes|confirm|no|rotate` on Discord, Slack and the console: admins only, a confirmation that says what
becomes public, then a private answer with the URL (shown once)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rich.console import Console

from adapters.console.repl import ConsoleSession
from adapters.discord.errors import MANAGE_CHANNELS
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef
from bot.web.archive import ChannelArchive
from tests.adapters.discord.conftest import fake_fixture, start_bot_fixture
from tests.adapters.discord.support import StartBot, command
from tests.adapters.slack.support import CHANNEL, TEAM, USER, Harness, serving
from tests.fakes.discord_server import APP_ID, EPHEMERAL, GUILD_ID, PAPERS_CHANNEL, FakeDiscord, Recorded
from tests.fakes.slack_server import FakeSlack

__all__ = ["fake_fixture", "start_bot_fixture"]

URL = re.compile(r"http://127\.0\.0\.1:9110/c/([A-Za-z0-9_-]{43})/")


def _archive(service: HotPapers) -> ChannelArchive:
    return ChannelArchive(service._uow)  # the engine's own unit of work: the same database


# ── console ────────────────────────────────────────────────────────────────────────────────────────────────────


async def test_console_publish_asks_first_then_prints_the_url_and_rotate_replaces_it(hotpapers: HotPapers) -> None:
    out = io.StringIO()
    session = ConsoleSession(
        hotpapers, Console(file=out, width=400), channel=ChannelRef("console", "local", "lab"), user="me"
    )
    await session.handle("/subscribe publish=yes")
    asked = out.getvalue()
    assert "titles, authors, abstracts" in asked and "Never shown: people's names or ids" in asked
    assert "/subscribe publish=confirm" in asked and not URL.search(asked)
    await session.handle("/subscribe publish=confirm")
    (first,) = set(URL.findall(out.getvalue()))
    assert await _archive(hotpapers).find(first) is not None
    await session.handle("/settings publish=rotate")
    tokens = list(dict.fromkeys(URL.findall(out.getvalue())))
    assert len(set(tokens)) == 2 and tokens[0] == first
    assert await _archive(hotpapers).find(first) is None and await _archive(hotpapers).find(tokens[-1]) is not None
    await session.handle("/subscribe publish=no")
    assert await _archive(hotpapers).find(tokens[-1]) is None
    await session.handle("/subscribe publish=maybe")
    assert "publish: must be yes, confirm, no or rotate" in out.getvalue()


# ── Slack ─────────────────────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.users = {
            USER: {"id": USER, "name": "alice", "is_admin": False, "is_owner": False},
            "UADMIN": {"id": "UADMIN", "name": "root", "is_admin": True, "is_owner": False},
        }
        fake.conversations = {CHANNEL: {"id": CHANNEL, "name": "ml-papers", "creator": "UADMIN", "is_private": False}}
        yield fake


@pytest.fixture
async def slack_bot(hotpapers: HotPapers, slack: FakeSlack) -> AsyncIterator[Harness]:
    async with serving(hotpapers, slack) as harness:
        yield harness


async def test_slack_publish_is_for_admins_confirmed_then_private(slack_bot: Harness, hotpapers: HotPapers) -> None:
    steps = [
        ("a", "subscribe publish=confirm", USER),
        ("b", "subscribe publish=yes", "UADMIN"),
        ("c", "subscribe publish=confirm", "UADMIN"),
        ("d", "settings publish=rotate", "UADMIN"),
    ]
    for count, (hook, text, user) in enumerate(steps, 1):  # one after the other: each changes what the next sees
        await slack_bot.slack.command("/hotpapers", text, response_url=slack_bot.fake.response_url(hook), user_id=user)
        await slack_bot.fake.wait_for_responses(count)
    answers = {a.hook: a.body for a in await slack_bot.fake.wait_for_responses(4)}
    assert "can't change" in answers["a"]["text"] and not URL.search(answers["a"]["text"])
    assert answers["b"]["response_type"] == "ephemeral" and "Never shown" in answers["b"]["text"]
    assert "/hotpapers subscribe publish=confirm" in answers["b"]["text"] and not URL.search(answers["b"]["text"])
    (first,) = set(URL.findall(answers["c"]["text"]))
    (second,) = set(URL.findall(answers["d"]["text"]))
    assert answers["c"]["response_type"] == answers["d"]["response_type"] == "ephemeral"
    archive = _archive(hotpapers)
    assert await archive.find(first) is None and await archive.find(second) is not None
    assert await archive.for_channel(ChannelRef("slack", TEAM, CHANNEL)) is not None


# ── Discord ───────────────────────────────────────────────────────────────────────────────────────────────────


async def _ask(fake: FakeDiscord, interaction: dict[str, Any], *, followups: int = 1) -> tuple[Recorded, list[Any]]:
    await fake.interact(interaction)
    token = interaction["token"]
    (callback,) = await fake.wait_for("POST", rf"/interactions/{interaction['id']}/{token}/callback")
    sent = await fake.wait_for("POST", rf"/webhooks/{APP_ID}/{token}", count=followups) if followups else []
    return callback, sent


async def test_discord_publish_is_for_admins_confirmed_then_private(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    refused = command(fake, "subscribe", {"publish": "confirm"}, group="hotpapers")
    callback, _ = await _ask(fake, refused, followups=0)
    assert callback.json["data"]["content"] == MANAGE_CHANNELS
    asked = command(fake, "subscribe", {"publish": "yes"}, group="hotpapers", admin=True)
    await _ask(fake, asked)
    (shown,) = fake.replies(asked["token"])
    assert shown["flags"] == EPHEMERAL and "Never shown" in shown["content"] and not URL.search(shown["content"])
    confirmed = command(fake, "subscribe", {"publish": "confirm"}, group="hotpapers", admin=True)
    await _ask(fake, confirmed)
    (shown,) = fake.replies(confirmed["token"])
    (first,) = set(URL.findall(shown["content"]))
    assert shown["flags"] == EPHEMERAL
    rotated = command(fake, "settings", {"publish": "rotate"}, group="hotpapers", admin=True)
    await _ask(fake, rotated)
    (shown,) = fake.replies(rotated["token"])
    (second,) = set(URL.findall(shown["content"]))
    archive = _archive(hotpapers)
    assert await archive.find(first) is None and await archive.find(second) is not None
    assert await archive.for_channel(ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL)) is not None
