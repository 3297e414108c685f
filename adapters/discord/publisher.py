"""DiscordPublisher: the engine's Publisher port on a live discord.py client (one message per digest entry)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import aiohttp
import discord

from adapters.discord import render
from adapters.discord.pacing import RequestBudget
from adapters.discord.views import links_view
from bot.errors import NotFound, PermissionDenied, UpstreamUnavailable
from bot.model import ChannelRef, DigestEntry, PostedMessage

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
T = TypeVar("T")


class DiscordPublisher:
    """Posts the digest header with `say` and each entry as its own embed, so each can be voted on by reaction.

    Discord failures become the engine's errors (the core never sees discord.py types). Every REST request spends
    from the process's `RequestBudget` first, so digests posted at once stay under Discord's global limit; a 429
    that comes anyway is retried by discord.py.
    """

    platform = "discord"

    def __init__(
        self,
        client: discord.Client,
        *,
        budget: RequestBudget,
        seed_emoji: Sequence[str] = (),
        vote_hint: str = "",
    ) -> None:
        self._client = client
        self._budget = budget
        self._seed_emoji = tuple(seed_emoji)
        self._vote_hint = vote_hint

    async def say(self, channel: ChannelRef, text: str) -> PostedMessage:
        target = await self._target(channel)
        message = await self._sent(channel, lambda: target.send(render.content(text), allowed_mentions=NO_MENTIONS))
        return PostedMessage(channel, str(message.id))

    async def publish(self, channel: ChannelRef, entry: DigestEntry) -> PostedMessage:
        target = await self._target(channel)
        embed, view = render.entry_embed(entry, vote_hint=self._vote_hint), links_view(entry.card)
        message = await self._sent(channel, lambda: target.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS))
        for emoji in self._seed_emoji:
            # Best effort: the post exists and is returned either way (a failure here must not re-post it).
            try:
                async with self._budget.request():
                    await message.add_reaction(emoji)
            except discord.HTTPException as error:
                log.warning("could not add %s under message %s: %s", emoji, message.id, error)
        return PostedMessage(channel, str(message.id))

    async def _target(self, channel: ChannelRef) -> discord.abc.Messageable:
        if channel.platform != self.platform or not channel.channel.isdigit():
            raise NotFound(f"{channel.key} is not a Discord channel")
        found = self._client.get_channel(int(channel.channel))
        if found is None:
            found = await self._sent(channel, lambda: self._client.fetch_channel(int(channel.channel)))
        if not isinstance(found, discord.abc.Messageable):
            raise NotFound(f"Discord channel {channel.name or channel.channel} cannot hold messages")
        return found

    async def _sent(self, channel: ChannelRef, request: Callable[[], Awaitable[T]]) -> T:
        """Make the request within the budget, with Discord's failures as the engine's errors."""
        async with self._budget.request():
            return await _translated(channel, request())


async def _translated(channel: ChannelRef, request: Awaitable[T]) -> T:
    where = channel.name or channel.channel
    try:
        return await request
    except discord.Forbidden:
        raise PermissionDenied(f"the bot may not post in Discord channel {where}") from None
    except discord.NotFound:
        raise NotFound(f"Discord channel {where} no longer exists") from None
    except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, TimeoutError) as error:
        raise UpstreamUnavailable(f"Discord did not take the post in {where}: {type(error).__name__}") from None
