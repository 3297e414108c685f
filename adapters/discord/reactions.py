"""Reactions on the bot's posts → votes. Raw events, because digest messages from before a restart are not cached."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import discord

from adapters.discord.channels import channel_ref
from bot.domain.errors import HotPapersError
from bot.domain.model import VoteEvent

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

_MODIFIERS = re.compile("[\ufe0f\U0001f3fb-\U0001f3ff]")  # variation selector, skin tones
_CUSTOM = re.compile(r"^<a?:(?P<name>\w+):\d+>$|^(?P<bare>\w+):\d+$")


def emoji_key(text: str) -> str:
    """👍🏽 and 👍 are one vote; a custom emoji matches by name whether configured as name, name:id or <:name:id>."""
    custom = _CUSTOM.match(text.strip())
    if custom:
        return (custom["name"] or custom["bare"]).lower()
    return _MODIFIERS.sub("", text.strip()).lower()


class EmojiVotes:
    """Which reactions count as up and down votes (from [discord] up_emoji / down_emoji)."""

    def __init__(self, up: Iterable[str], down: Iterable[str]) -> None:
        self._values = {emoji_key(e): -1 for e in down} | {emoji_key(e): 1 for e in up}

    def value(self, emoji: discord.PartialEmoji) -> int | None:
        return self._values.get(emoji_key(emoji.name or ""))


def reaction_name(emoji: discord.PartialEmoji) -> str:
    """Which reaction this is on the message: a custom emoji by id (its name can change), a unicode one by its
    characters (👍 and 👍🏽 are two reactions on Discord, each removable on its own)."""
    if emoji.id is not None:
        return f"custom:{emoji.id}"
    return (emoji.name or "").replace("\ufe0f", "")


def vote_event(
    payload: discord.RawReactionActionEvent, *, own_id: int, emoji: EmojiVotes, channel: object = None
) -> VoteEvent | None:
    """The VoteEvent for a raw reaction, or None for our own reactions and for emoji that are not votes."""
    value = emoji.value(payload.emoji)
    if value is None or payload.user_id == own_id:
        return None
    by_bot = bool(payload.member and payload.member.bot)  # REMOVE carries no member: the engine ignored the ADD
    return VoteEvent(
        channel=channel_ref(payload.guild_id, payload.channel_id, channel),
        user_id=str(payload.user_id),
        message_id=str(payload.message_id),
        value=value,  # type: ignore[arg-type]
        removed=payload.event_type == "REACTION_REMOVE",
        by_bot=by_bot,
        reaction=reaction_name(payload.emoji),
    )


class ReactionVotes:
    """discord.py runs every event in its own task, so a quick add-then-remove could reach the engine as
    remove-then-add and leave a vote behind; events of one user on one message are therefore applied in order.

    The bot hands it its raw reaction events (`HotPapersBot.on_raw_reaction_add` …)."""

    def __init__(self, bot: discord.Client, service: ChatService, *, emoji: EmojiVotes) -> None:
        self.bot, self.service, self.emoji = bot, service, emoji
        self._queues: dict[tuple[int, int], tuple[asyncio.Lock, int]] = {}  # (message, user) -> lock, users

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._vote(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._vote(payload)

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        """MESSAGE_REACTION_REMOVE_ALL: a moderator removed every reaction from the message."""
        await self._clear(payload.guild_id, payload.channel_id, payload.message_id, None)

    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        """MESSAGE_REACTION_REMOVE_EMOJI: a moderator removed every reaction of one emoji from the message."""
        if self.emoji.value(payload.emoji) is not None:
            await self._clear(payload.guild_id, payload.channel_id, payload.message_id, reaction_name(payload.emoji))

    async def _clear(self, guild_id: int | None, channel_id: int, message_id: int, reaction: str | None) -> None:
        channel = channel_ref(guild_id, channel_id, self.bot.get_channel(channel_id))
        try:
            await self.service.clear_reactions(channel, str(message_id), reaction)
        except HotPapersError as error:
            log.warning("reactions cleared from message %s not applied: %s", message_id, error)

    async def _vote(self, payload: discord.RawReactionActionEvent) -> None:
        own_id = self.bot.user.id if self.bot.user else 0
        event = vote_event(payload, own_id=own_id, emoji=self.emoji, channel=self.bot.get_channel(payload.channel_id))
        if event is None:
            return
        key = (payload.message_id, payload.user_id)
        lock, users = self._queues.get(key, (asyncio.Lock(), 0))
        self._queues[key] = (lock, users + 1)
        try:
            async with lock:  # asyncio.Lock is FIFO and tasks start in event order
                await self.service.record_reaction(event)  # one on a message we did not post is ignored: fine
        except HotPapersError as error:
            log.warning("vote on message %s not recorded: %s", payload.message_id, error)
        finally:
            lock, users = self._queues[key]
            if users == 1:
                del self._queues[key]
            else:
                self._queues[key] = (lock, users - 1)
