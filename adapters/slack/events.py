"""Reactions on digest messages → votes.

`reaction_added` / `reaction_removed` arrive (auto-acknowledged by bolt) for every message in channels the bot is in;
the engine maps `item.ts` back to a paper and ignores everything else. Retried deliveries carry the same
`event_id`, which the engine uses to count them once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.settings import Settings
from bot.model import ChannelRef, VoteEvent, VoteValue

if TYPE_CHECKING:
    from bot.ports import ChatService

log = logging.getLogger(__name__)

EVENTS = ("reaction_added", "reaction_removed")
"""Events the votes need; every mode also handles app_uninstalled and tokens_revoked (`uninstalls.py`)."""


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
        tally = await self._service.record_vote(vote)
        log.debug("reaction vote %s on %s → %s", vote.value, vote.message_id, tally)
