"""`/journalclub start | close | history` on Discord (issue 19): translate, call the engine, answer privately.

The poll itself is Discord's native poll (`DiscordPublisher.start_poll`): Discord counts the votes, one per person
and changeable, and the engine reads the final counts when the poll ends (`end_poll`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.channels import channel_ref, interaction_channel
from adapters.discord.commands import _require_manage_channels
from bot.domain.errors import HotPapersError
from bot.domain.messages import history_lines, poll_close_answer, poll_started

if TYPE_CHECKING:
    from bot.domain.model import ChannelRef
    from bot.domain.ports import ChatService, Publisher

log = logging.getLogger(__name__)


class JournalClubCommands(app_commands.Group):
    """`/journalclub`: starting and closing a poll is for channel admins (Manage Channels, checked again here);
    anyone may read the history. discord.py binds the subcommands below to the group it makes of this class."""

    def __init__(self, service: ChatService, publisher: Publisher) -> None:
        super().__init__(
            name="journalclub",
            description="A paper to read together: a poll over the week's top papers here",
            guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )
        self.service, self.publisher = service, publisher

    @app_commands.command(name="start", description="Start a poll over the week's top papers here (admins)")
    @app_commands.describe(
        candidates="Papers in the poll (2-10, default 5)",
        closes="When it closes: 36h, 2d or 2020-11-09T17:00 in the channel's time zone (default 48h)",
    )
    async def start(
        self,
        interaction: discord.Interaction[Any],
        candidates: app_commands.Range[int, 2, 10] | None = None,
        closes: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        _require_manage_channels(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction_channel(interaction)
        by = str(interaction.user.id)
        start = await self.service.journal_club_start(
            channel, self.publisher, candidates=candidates, closes=closes, by=by
        )
        await interaction.followup.send(render.content(poll_started(start)), ephemeral=True)

    @app_commands.command(name="close", description="Close this channel's poll now and announce the winner (admins)")
    async def close(self, interaction: discord.Interaction[Any]) -> None:
        _require_manage_channels(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        closed = await self.service.journal_club_close(interaction_channel(interaction), self.publisher)
        said = poll_close_answer(closed) or "Closed: the winner is announced in the channel."
        await interaction.followup.send(render.content(said), ephemeral=True)

    @app_commands.command(name="history", description="The papers this channel's journal club chose, newest first")
    async def history(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        winners = await self.service.journal_club_history(interaction_channel(interaction))
        await interaction.followup.send(render.content("\n".join(history_lines(winners))), ephemeral=True)


class PollVotes:
    """Live votes in the journal club's polls (MESSAGE_POLL_VOTE_ADD / REMOVE, the guild polls intent), recorded by
    the engine as they come so `journal_club_poll` shows them; the poll's own counts, read when it ends, decide.
    Votes on other polls, or after the close, are not the engine's: they are dropped. The bot hands it the raw poll
    vote events (`HotPapersBot.on_raw_poll_vote_add` …)."""

    def __init__(self, bot: discord.Client, service: ChatService) -> None:
        self.bot, self.service = bot, service
        self._in_order = asyncio.Lock()
        """discord.py runs each event's listener as its own task: a changed vote's REMOVE and ADD (or an ADD and
        its REMOVE) would race. The lock's waiters queue in arrival order, so the engine sees them as sent."""

    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self._apply(payload, added=True)

    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self._apply(payload, added=False)

    async def _apply(self, payload: discord.RawPollVoteActionEvent, *, added: bool) -> None:
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return
        channel = channel_ref(payload.guild_id, payload.channel_id)
        message, user, choice = str(payload.message_id), str(payload.user_id), payload.answer_id - 1
        try:
            async with self._in_order:
                await self._record(channel, message, user, choice, added=added)
        except HotPapersError as error:  # not our poll, or closed: Discord's own count is all there is
            log.debug("poll vote on %s not recorded: %s", message, error)

    async def _record(self, channel: ChannelRef, message: str, user: str, choice: int, *, added: bool) -> None:
        if added:
            await self.service.poll_vote(channel, message, user, choice)
        else:
            await self.service.poll_unvote(channel, message, user, choice)
