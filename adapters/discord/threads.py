"""Replies in the threads the bot opened → the engine's discussion count (issue 18).

GUILD_MESSAGES (not privileged) brings MESSAGE_CREATE and MESSAGE_DELETE; the text is not needed (MESSAGE_CONTENT
is not asked for) and never passed on. A reply counts when it is written in a thread (its channel is a
`discord.Thread`) by a person: bots, webhooks, the bot itself and system messages never count; the engine ignores
threads it did not open. MESSAGE_DELETE carries no author: the engine looks the stored reply up by its id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from adapters.discord.channels import channel_ref
from bot.domain.errors import HotPapersError
from bot.domain.model import ReplyEvent

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

COUNTED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def reply_event(message: discord.Message, *, own_id: int | None) -> ReplyEvent | None:
    """The ReplyEvent for a message written in a thread, or None for any other message."""
    thread = message.channel
    if not isinstance(thread, discord.Thread) or thread.parent_id is None or message.type not in COUNTED_TYPES:
        return None
    author = message.author
    by_bot = author.bot or message.webhook_id is not None or author.id == own_id
    return ReplyEvent(
        channel=channel_ref(message.guild.id if message.guild else None, thread.parent_id, thread.parent),
        thread_id=str(thread.id),
        message_id=str(message.id),
        user_id=str(author.id),
        by_bot=by_bot,
    )


class ThreadReplies:
    """The bot hands it every MESSAGE_CREATE and MESSAGE_DELETE (`HotPapersBot.on_message` …)."""

    def __init__(self, bot: discord.Client, service: ChatService) -> None:
        self.bot, self.service = bot, service

    async def on_message(self, message: discord.Message) -> None:
        event = reply_event(message, own_id=self.bot.user.id if self.bot.user else None)
        if event is None or event.by_bot:
            return
        try:
            await self.service.record_reply(event)
        except HotPapersError as error:
            log.warning("could not count a reply in thread %s: %s", event.thread_id, error)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted message in a thread the bot knows (its parent is the card's channel): if it was a counted
        reply, it counts no more. Deletions elsewhere are not replies and cost nothing."""
        thread = self.bot.get_channel(payload.channel_id)
        if not isinstance(thread, discord.Thread) or thread.parent_id is None:
            return
        channel = channel_ref(payload.guild_id, thread.parent_id, thread.parent)
        try:
            await self.service.remove_reply(channel, str(payload.message_id))
        except HotPapersError as error:
            log.warning("could not uncount a deleted reply in thread %s: %s", payload.channel_id, error)
