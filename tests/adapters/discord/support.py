"""Payload builders and helpers for the Discord adapter tests (the fixtures are in this package's conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord

from adapters.discord.client import HotPapersBot
from bot.domain.model import VoteEvent, VoteTally
from bot.domain.ports import ChatService
from tests.fakes.cards import card as card
from tests.fakes.chat_service import ForwardingService
from tests.fakes.discord_server import ALICE, GUILD_ID, MANAGE_CHANNELS, FakeDiscord, payload

StartBot = Callable[..., Awaitable[HotPapersBot]]

PlainClient = Callable[[discord.Intents], Awaitable[discord.Client]]
"""The `plain_client` fixture: a plain discord.Client on the fake with these intents, once ready."""


async def ready_or_failed(bot: discord.Client, task: asyncio.Task[None]) -> None:
    ready = asyncio.ensure_future(bot.wait_until_ready())
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raises what start() raised
        raise AssertionError("the bot stopped before it was ready")


_Result = TypeVar("_Result", VoteTally | None, bool)


class WatchedService(ForwardingService):
    """The real engine with its record_vote and record_reaction calls observable, so tests wait for a vote instead
    of sleeping: each call's event and result (a tally or None for a vote, whether it counted for a reaction)."""

    def __init__(self, service: ChatService) -> None:
        super().__init__(service)
        self.votes: list[tuple[VoteEvent, VoteTally | bool | None]] = []
        self._changed = asyncio.Condition()

    async def record_vote(self, event: VoteEvent) -> VoteTally | None:
        return await self._seen(event, await self._service.record_vote(event))

    async def record_reaction(self, event: VoteEvent) -> bool:
        return await self._seen(event, await self._service.record_reaction(event))

    async def _seen(self, event: VoteEvent, result: _Result) -> _Result:
        async with self._changed:
            self.votes.append((event, result))
            self._changed.notify_all()
        return result

    async def wait_votes(self, count: int, *, within: float = 5.0) -> list[tuple[VoteEvent, VoteTally | bool | None]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.votes) >= count), within)
        return self.votes


# -- interaction payloads, shaped like Discord's (payloads/discord/interaction.json) ------------------------------


def interaction(
    fake: FakeDiscord,
    itype: int,
    data: dict[str, Any],
    *,
    user_id: str = ALICE,
    permissions: int = 0,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = payload("interaction")
    iid = fake.snowflake()
    body.update(id=iid, type=itype, token=f"itok-{iid}", data=data)
    body["member"]["user"]["id"] = user_id
    body["member"]["permissions"] = str(permissions)
    if message is not None:
        body["message"] = message
    return body


def command(
    fake: FakeDiscord,
    name: str,
    options: dict[str, Any] | None = None,
    *,
    group: str | None = None,
    admin: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """An APPLICATION_COMMAND for a command the bot synced (global, or to the test guild if that is where it is)."""
    top = group or name
    scope = "global" if any(c["name"] == top for c in fake.commands.get("global", [])) else GUILD_ID
    registered = next(c for c in fake.commands[scope] if c["name"] == top)
    opts = [{"name": k, "type": _option_type(v), "value": v} for k, v in (options or {}).items()]
    if group:
        opts = [{"name": name, "type": 1, "options": opts}]
    data: dict[str, Any] = {"id": registered["id"], "name": top, "type": 1, "options": opts}
    if scope != "global":
        data["guild_id"] = GUILD_ID
    return interaction(fake, 2, data, permissions=MANAGE_CHANNELS if admin else 0, **kwargs)


def button_press(fake: FakeDiscord, message: dict[str, Any], custom_id: str, **kwargs: Any) -> dict[str, Any]:
    return interaction(fake, 3, {"custom_id": custom_id, "component_type": 2}, message=message, **kwargs)


def modal_submit(fake: FakeDiscord, modal: dict[str, Any], values: list[str], **kwargs: Any) -> dict[str, Any]:
    """Fill the text inputs of a modal the bot opened (its callback `data`), in order."""
    inputs = [c for row in modal["components"] for c in _children(row) if c.get("type") == 4]
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": c["custom_id"], "value": v}]}
        for c, v in zip(inputs, values, strict=True)
    ]
    return interaction(fake, 5, {"custom_id": modal["custom_id"], "components": rows}, **kwargs)


def _option_type(value: Any) -> int:
    return 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3


def _children(row: dict[str, Any]) -> list[dict[str, Any]]:
    if "components" in row:
        return row["components"]
    return [row["component"]] if "component" in row else [row]
