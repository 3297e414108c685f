"""Reactions on digest messages → votes; replies in discussion threads → the discussion count.

`reaction_added` / `reaction_removed` arrive (auto-acknowledged by bolt) for every message in channels the bot is in;
the engine maps `item.ts` back to a paper and ignores everything else. Retried deliveries carry the same
`event_id`, which the engine uses to count them once.

`message` events (`message.channels`, `message.groups`) carry every message of the channel; only replies
(`thread_ts` other than their own `ts`) by people reach the engine, which counts them in the threads it opened,
once per reply `ts` — the text is read by nobody. `message_deleted` (with `deleted_ts`) takes a reply back. Bots
(`bot_id`, subtype `bot_message`) and the bot itself never count.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.settings import Settings
from bot.domain.model import ChannelRef, ReplyEvent, VoteEvent, VoteValue

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

EVENTS = ("reaction_added", "reaction_removed", "message")
"""Events the votes and thread replies are listened for; every mode also handles app_uninstalled and tokens_revoked
(`uninstalls.py`)."""
BOT_EVENTS = ("reaction_added", "reaction_removed", "message.channels", "message.groups")
"""What the manifest subscribes to for them (`message` in public and private channels)."""
COUNTED_SUBTYPES = (None, "thread_broadcast", "file_share")
"""Replies people write (a plain reply, one also sent to the channel, one with a file); edits, joins and bots'
messages are not replies."""


def reaction_value(name: str, *, up: Collection[str], down: Collection[str]) -> VoteValue | None:
    """+1 for an up reaction, -1 for a down one, None otherwise; skin tones (`+1::skin-tone-3`) don't matter."""
    base = name.split("::", 1)[0]
    if base in up:
        return 1
    if base in down:
        return -1
    return None


def reaction_vote(
    body: Mapping[str, Any],
    *,
    removed: bool,
    bot_user_id: str | None,
    up: Collection[str],
    down: Collection[str],
) -> VoteEvent | None:
    """The vote an Events API `reaction_*` callback stands for, or None when it is not a vote on a message."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    name = str(event.get("reaction", "")).split("::", 1)[0]  # `+1::skin-tone-3` is the `+1` reaction
    value = reaction_value(name, up=up, down=down)
    user, channel, ts = event.get("user"), item.get("channel"), item.get("ts")
    team = body.get("team_id") or (body.get("authorizations") or [{}])[0].get("team_id")
    if value is None or item.get("type") != "message" or not (user and channel and ts and team):
        return None
    return VoteEvent(
        channel=ChannelRef(platform="slack", workspace=str(team), channel=str(channel)),
        user_id=str(user),
        message_id=str(ts),
        value=value,
        removed=removed,
        by_bot=bool(bot_user_id) and user == bot_user_id,
        event_id=body.get("event_id"),
        reaction=name,
    )


class ReactionVotes:
    """Bolt listeners for the two reaction events; translation only, the engine decides what counts."""

    def __init__(self, service: ChatService, settings: Settings) -> None:
        self._service = service
        self._up = frozenset(settings.up_reactions)
        self._down = frozenset(settings.down_reactions)

    def register(self, app: AsyncApp) -> None:
        app.event(EVENTS[0])(self.added)
        app.event(EVENTS[1])(self.removed)

    async def added(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._record(body, context, removed=False)

    async def removed(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._record(body, context, removed=True)

    async def _record(self, body: dict[str, Any], context: AsyncBoltContext, *, removed: bool) -> None:
        vote = reaction_vote(body, removed=removed, bot_user_id=context.bot_user_id, up=self._up, down=self._down)
        if vote is None or vote.by_bot:
            return
        counted = await self._service.record_reaction(vote)
        log.debug("reaction vote %s on %s: %s", vote.value, vote.message_id, "counted" if counted else "ignored")


def thread_reply(body: Mapping[str, Any], *, bot_user_id: str | None) -> ReplyEvent | None:
    """The reply a `message` event stands for (a person writing in a thread), or None."""
    event = body.get("event") or {}
    ts, thread_ts, user, channel = event.get("ts"), event.get("thread_ts"), event.get("user"), event.get("channel")
    team = body.get("team_id") or (body.get("authorizations") or [{}])[0].get("team_id")
    if event.get("subtype") not in COUNTED_SUBTYPES or not (ts and thread_ts and user and channel and team):
        return None
    if ts == thread_ts:  # the thread's parent itself
        return None
    return ReplyEvent(
        channel=ChannelRef("slack", str(team), str(channel)),
        thread_id=str(thread_ts),
        message_id=str(ts),
        user_id=str(user),
        by_bot=bool(event.get("bot_id")) or (bool(bot_user_id) and user == bot_user_id),
    )


def deleted_reply(body: Mapping[str, Any]) -> tuple[ChannelRef, str] | None:
    """(channel, deleted ts) of a `message_deleted` event for a message in a thread, or None."""
    event = body.get("event") or {}
    previous = event.get("previous_message") or {}
    deleted, channel = event.get("deleted_ts") or previous.get("ts"), event.get("channel")
    team = body.get("team_id") or (body.get("authorizations") or [{}])[0].get("team_id")
    if event.get("subtype") != "message_deleted" or not (deleted and channel and team):
        return None
    if previous and (not previous.get("thread_ts") or previous.get("thread_ts") == deleted):
        return None  # not a reply (a parent, or a message outside threads)
    return ChannelRef("slack", str(team), str(channel)), str(deleted)


class ThreadReplies:
    """The `message` listener: replies in threads count their people, deletions take them back."""

    def __init__(self, service: ChatService) -> None:
        self._service = service

    def register(self, app: AsyncApp) -> None:
        app.event(EVENTS[2])(self.message)

    async def message(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        gone = deleted_reply(body)
        if gone is not None:
            await self._service.remove_reply(*gone)
            return
        reply = thread_reply(body, bot_user_id=context.bot_user_id)
        if reply is None or reply.by_bot:
            return
        discussion = await self._service.record_reply(reply)
        log.debug("reply in thread %s → %s", reply.thread_id, discussion)
