"""Fixtures of the Discord adapter tests: the real discord.py against tests/fakes/discord_server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import yarl

from adapters.discord import Settings
from adapters.discord.client import HotPapersBot, build_bot
from tests.adapters.discord.support import PlainClient, StartBot, ready_or_failed
from tests.fakes.discord_server import TOKEN, FakeDiscord


@pytest.fixture(name="fake")
async def fake_fixture(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running fake Discord with discord.py's REST base and gateway pointed at it (restored after the test)."""
    server = FakeDiscord()
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    yield server
    await server.close()


@pytest.fixture(name="start_bot")
async def start_bot_fixture(fake: FakeDiscord) -> AsyncIterator[StartBot]:
    """Start the adapter's bot on a service; returns once discord.py fired on_ready. Closed after the test."""
    running: list[tuple[HotPapersBot, asyncio.Task[None]]] = []

    async def start(service: Any, **settings: Any) -> HotPapersBot:
        bot = build_bot(service, Settings(enabled=True, **settings), guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(TOKEN))
        running.append((bot, task))
        await asyncio.wait_for(ready_or_failed(bot, task), 5)
        if bot.command_cleanup is not None:  # global sync: stale guild sets emptied once ready, before the test
            await asyncio.wait_for(bot.command_cleanup, 5)
        return bot

    yield start
    for bot, task in running:
        await bot.close()
        with contextlib.suppress(Exception):
            await task


@pytest.fixture
async def plain_client(fake: FakeDiscord) -> AsyncIterator[PlainClient]:
    """Start a plain discord.Client (no hotpapers) on the fake with these intents; returns once it is ready. Closed
    after the test. For the fake's own tests: what discord.py itself sees."""
    running: list[tuple[discord.Client, asyncio.Task[None]]] = []

    async def start(intents: discord.Intents) -> discord.Client:
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        task = asyncio.create_task(client.start(TOKEN))
        running.append((client, task))
        await asyncio.wait_for(ready_or_failed(client, task), 5)
        return client

    yield start
    for client, task in running:
        await client.close()
        with contextlib.suppress(Exception):
            await task
