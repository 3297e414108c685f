"""DiscordPublisher: the engine's Publisher port on a live discord.py client (one message per digest entry).

Idempotency on Discord: each digest message carries its key in the embed footer (the header: in a small last
line), and is sent with a nonce hashed from (channel, key) and `enforce_nonce`, so Discord itself answers a repeat
within a few minutes with the message it already has. Discord does not store the nonce, so finding a message later
(a resumed or taken-over digest) reads the bot's recent messages in the channel and matches the key.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TypeVar, overload

import aiohttp
import discord

from adapters.discord import render
from adapters.discord.pacing import RequestBudget
from adapters.discord.views import links_view
from bot.domain.errors import Undeliverable, UpstreamUnavailable
from bot.domain.messages import message_reference, poll_intro, poll_question, winner_announcement
from bot.domain.model import (
    POLL_LABEL_CHARS,
    ChannelRef,
    DigestEntry,
    PollDraft,
    PollOutcome,
    PollTally,
    PostedMessage,
    PostKey,
)

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
HISTORY_LIMIT = 500
"""How many of the channel's messages since a digest began `find` reads at most (5 requests)."""
T = TypeVar("T")


class DiscordPublisher:
    """Posts the digest header with `say` and each entry as its own embed, so each can be voted on by reaction.

    Discord failures become the engine's errors (the core never sees discord.py types). Every REST request spends
    from the process's `RequestBudget` first, so digests posted at once stay under Discord's global limit; a 429
    that comes anyway is retried by discord.py, and one longer than its `max_ratelimit_timeout` reaches the engine
    as a transient error with Discord's `retry_after`.
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

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        target = await self._target(channel)
        body = render.keyed_line(text, key)
        nonce = _nonce(channel, key)

        def send() -> Awaitable[discord.Message]:
            if nonce is None:
                return target.send(body, allowed_mentions=NO_MENTIONS)
            return target.send(body, allowed_mentions=NO_MENTIONS, nonce=nonce)

        message = await self._sent(channel, send)
        return PostedMessage(channel, str(message.id))

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey | None = None) -> PostedMessage:
        target = await self._target(channel)
        embed = render.entry_embed(entry, vote_hint=self._vote_hint, key=key)
        view = links_view(entry.card, discuss=entry.discuss)
        nonce = _nonce(channel, key)

        def send() -> Awaitable[discord.Message]:
            if nonce is None:
                return target.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
            return target.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS, nonce=nonce)

        message = await self._sent(channel, send)
        for emoji in self._seed_emoji:
            # Best effort, whatever goes wrong (a long 429, a reset, a timeout): the post exists and is returned,
            # and a failure here must never make the engine post it again.
            try:
                async with self._budget.request():
                    await message.add_reaction(emoji)
            except Exception as error:
                log.warning("could not add %s under message %s: %s", emoji, message.id, type(error).__name__)
        return PostedMessage(channel, str(message.id))

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        """The bot's messages in the channel since `since` that carry one of `keys`, oldest first."""
        target = await self._target(channel)
        if not isinstance(target, discord.abc.Messageable):
            return {}
        me = self._client.user.id if self._client.user else None
        wanted = set(keys)
        found: dict[PostKey, list[str]] = {}

        async def scan() -> None:
            async for message in target.history(limit=HISTORY_LIMIT, after=since, oldest_first=True):
                key = render.key_of(message) if message.author.id == me else None
                if key in wanted:
                    found.setdefault(key, []).append(str(message.id))

        async with self._budget.request():  # history pages count as requests too (one budget slot per scan)
            await _translated(channel, scan())
        return found

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        try:
            await self._sent(channel, lambda: self._client.http.delete_message(int(channel.channel), int(message_id)))
        except Undeliverable as error:
            if "Unknown Message" not in error.reason:
                raise

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        return False  # the bot does not DM people on Discord: the pause shows in /settings and `hotpapers status`

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        """A public thread on the message (`Message.create_thread`); its id is the message's id. Discord refuses a
        second thread on one message (160004), which is how a repeat finds the thread already open. The opener is
        the thread's first line, best effort."""
        target = await self._target(channel)
        if not isinstance(target, discord.TextChannel) or not message_id.isdigit():
            where = channel.name or channel.channel
            raise Undeliverable(f"{where} cannot hold threads", scope="channel", fix="subscribe a text channel")
        message = target.get_partial_message(int(message_id))
        try:
            thread = await self._sent(
                channel, lambda: message.create_thread(name=name[:100] or "discussion", auto_archive_duration=10080)
            )
        except Undeliverable as error:
            if "160004" in error.reason:  # "A thread has already been created for this message"
                return message_id
            raise
        try:
            async with self._budget.request():
                await thread.send(opener[:2000], allowed_mentions=NO_MENTIONS)
        except Exception as error:  # the thread exists: its first line is a courtesy
            log.warning("could not post the opener in thread %s: %s", thread.id, type(error).__name__)
        return str(thread.id)

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        """The message's jump URL, made from the guild, channel and message ids (no request; the same URL
        `discord.Message.jump_url` gives)."""
        guild, channel_id = channel.workspace, channel.channel
        if not (guild.isdigit() and channel_id.isdigit() and message_id.isdigit()):
            return message_reference(message_id)
        return f"https://discord.com/channels/{guild}/{channel_id}/{message_id}"

    # ── journal club (issue 19): a native poll; Discord counts the votes, read when the poll ends ─────────────────

    async def start_poll(self, channel: ChannelRef, draft: PollDraft, *, key: PostKey) -> PostedMessage:
        """The full titles and links with the key under them, and a native poll of the short labels lasting
        `draft.hours` (Discord's unit). Sent with the key's nonce, like a digest message."""
        target = await self._target(channel)
        poll = discord.Poll(question=render.plain(poll_question())[:300], duration=timedelta(hours=draft.hours))
        for option in draft.options:
            poll.add_answer(text=render.plain(option.label)[:POLL_LABEL_CHARS] or option.paper_id)
        body = render.keyed_line("\n".join(poll_intro(draft)), key)
        message = await self._sent(
            channel, lambda: target.send(body, poll=poll, allowed_mentions=NO_MENTIONS, nonce=_nonce(channel, key))
        )
        return PostedMessage(channel, str(message.id))

    async def end_poll(self, channel: ChannelRef, message_id: str, *, final: PollDraft) -> PollTally | None:
        """Expire the poll (unless it expired by itself) and read each answer's count from the message."""
        target = await self._target(channel)
        if not isinstance(target, discord.abc.Messageable) or not message_id.isdigit():
            return None
        message = await self._sent(channel, lambda: target.fetch_message(int(message_id)))
        if message.poll is None:
            return None
        if not message.poll.is_finalised():
            try:
                message = await self._sent(channel, message.end_poll)
            except Undeliverable as error:  # it expired meanwhile (520001): read it as it is now
                log.info("ending poll %s: %s", message_id, error)
                message = await self._sent(channel, lambda: target.fetch_message(int(message_id)))
        answers = message.poll.answers if message.poll is not None else []
        return PollTally(tuple(answer.vote_count for answer in answers))

    async def announce_winner(self, channel: ChannelRef, outcome: PollOutcome, *, key: PostKey) -> PostedMessage:
        target = await self._target(channel)
        body = render.keyed_line(winner_announcement(outcome), key)
        embed = render.paper_embed(outcome.winner)
        message = await self._sent(
            channel,
            lambda: target.send(body, embed=embed, allowed_mentions=NO_MENTIONS, nonce=_nonce(channel, key)),
        )
        return PostedMessage(channel, str(message.id))

    async def _target(self, channel: ChannelRef) -> discord.abc.Messageable:
        if channel.platform != self.platform or not channel.channel.isdigit():
            raise Undeliverable(f"{channel.key} is not a Discord channel", scope="channel", fix="subscribe a channel")
        found = self._client.get_channel(int(channel.channel))
        if found is None:
            found = await self._sent(channel, lambda: self._client.fetch_channel(int(channel.channel)))
        if not isinstance(found, discord.abc.Messageable):
            raise Undeliverable(
                f"{channel.name or channel.channel} cannot hold messages",
                scope="channel",
                fix="subscribe a text channel",
            )
        return found

    async def _sent(self, channel: ChannelRef, request: Callable[[], Awaitable[T]]) -> T:
        """Make the request within the budget, with Discord's failures as the engine's errors."""
        async with self._budget.request():
            return await _translated(channel, request())


@overload
def _nonce(channel: ChannelRef, key: PostKey) -> str: ...
@overload
def _nonce(channel: ChannelRef, key: PostKey | None) -> str | None: ...
def _nonce(channel: ChannelRef, key: PostKey | None) -> str | None:
    """The same 25-character nonce for the same message from any replica (discord.py sets `enforce_nonce`); none
    for a message without a key."""
    if key is None:
        return None
    return hashlib.sha256(f"{channel.key}|{key}".encode()).hexdigest()[:25]


_CODES: dict[int, tuple[str, str]] = {
    50001: ("hotpapers cannot see {where} (Missing Access)", "give hotpapers' role View Channel in {where}"),
    50013: (
        "hotpapers lacks a permission in {where} (Missing Permissions)",
        "grant hotpapers View Channel, Send Messages, Embed Links, Add Reactions and Read Message History in {where}",
    ),
    10003: ("{where} no longer exists (Unknown Channel)", "subscribe another channel"),
    10008: ("the message is gone (Unknown Message)", "nothing to do"),
}


async def _translated(channel: ChannelRef, request: Awaitable[T]) -> T:
    where = channel.name or f"channel {channel.channel}"
    try:
        return await request
    except discord.RateLimited as error:
        raise UpstreamUnavailable(f"Discord rate-limited a request in {where}", retry_after=error.retry_after) from None
    except discord.HTTPException as error:
        if error.status >= 500 or error.status == 429:
            raise UpstreamUnavailable(f"Discord answered {error.status} in {where}") from None
        if error.status == 401:
            raise Undeliverable(
                "Discord rejected the bot's token (401)",
                scope="workspace",
                fix="check DISCORD_TOKEN and restart hotpapers",
            ) from None
        reason, fix = _CODES.get(error.code, _CODES[10003] if error.status == 404 else ("", ""))
        if error.status == 400:
            raise Undeliverable(
                f"Discord refused one message in {where} ({error.code}: {error.text[:120]})",
                scope="message",
                fix="nothing to do for the channel",
            ) from None
        if not reason:
            reason, fix = f"Discord refuses posts to {where} ({error.status} {error.code})", "check the channel"
        raise Undeliverable(reason.format(where=where), scope="channel", fix=fix.format(where=where)) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise UpstreamUnavailable(f"Discord is unreachable ({type(error).__name__})") from None
