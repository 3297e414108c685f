"""The slash commands. Each handler translates the interaction, calls the engine, and renders the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.channels import interaction_channel
from adapters.discord.errors import BOT_MISSING, MANAGE_CHANNELS, REGENERATE_DENIED
from adapters.discord.views import SummaryModal, paper_view
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.channel_settings import SettingsChange
from bot.domain.errors import PermissionDenied

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

REF_HELP = "arXiv id or URL, e.g. 2010.00577 or https://arxiv.org/abs/2010.00577"


class PaperCommands:
    """`/paper`, `/top` and `/summarize` (`commands()`: each bound to this object's method of the same name).

    Errors raised here reach HotPapersTree.on_error, which answers them through the error table.
    """

    def __init__(self, service: ChatService, *, summary_max_chars: int, vote_hint: str) -> None:
        self.service = service
        self.summary_max_chars, self.vote_hint = summary_max_chars, vote_hint

    def commands(self) -> list[app_commands.Command[Any, ..., None]]:
        return [
            app_commands.Command(
                name="paper",
                description="Show an arXiv paper: abstract, summary and why it is hot",
                callback=self.paper,
            ),
            app_commands.Command(
                name="top", description="This channel's most-voted papers of the last days", callback=self.top
            ),
            app_commands.Command(
                name="summarize", description="Write a community summary of a paper", callback=self.summarize
            ),
        ]

    @app_commands.describe(ref=REF_HELP)
    async def paper(self, interaction: discord.Interaction[Any], ref: app_commands.Range[str, 1, 300]) -> None:
        await interaction.response.defer(thinking=True)  # an unknown paper means an arXiv lookup: > 3 s possible
        card = await self.service.paper(ref, interaction_channel(interaction), user=str(interaction.user.id))
        await interaction.followup.send(embed=render.paper_embed(card), view=paper_view(card))

    @app_commands.describe(days="How many days back (default 7)")
    async def top(self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 365] = 7) -> None:
        await interaction.response.defer(thinking=True)
        channel = interaction_channel(interaction)
        cards = await self.service.top(channel, days)
        if not cards:
            note = f"No votes here in the last {days} days yet: {self.vote_hint} on the digest posts."
            await interaction.followup.send(render.content(note))
            return
        await interaction.followup.send(embed=render.top_embed(cards, channel=channel, days=days))

    @app_commands.describe(ref=REF_HELP)
    async def summarize(self, interaction: discord.Interaction[Any], ref: app_commands.Range[str, 1, 300]) -> None:
        arxiv_id = parse_arxiv_id(ref)  # refuse a bad reference before the user types a whole summary
        modal = SummaryModal(self.service, ref=ref, label=f"arXiv:{arxiv_id}", max_chars=self.summary_max_chars)
        await interaction.response.send_modal(modal)


class ChannelCommands(app_commands.Group):
    """The admin-only `/hotpapers subscribe | unsubscribe | settings | regenerate`; discord.py binds the subcommands
    below to the group it makes of this class. Errors reach HotPapersTree.on_error, as `PaperCommands`' do."""

    def __init__(self, service: ChatService) -> None:
        super().__init__(
            name="hotpapers",
            description="This channel's daily digest of hot arXiv papers",
            guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            default_permissions=discord.Permissions(manage_channels=True),
        )
        self.service = service

    @app_commands.command(name="subscribe", description="Post the daily digest here, or change what it contains")
    @app_commands.describe(
        categories="arXiv categories, comma-separated (cs.LG,cs.CL)",
        keywords="Prefer papers mentioning these, comma-separated",
        negative_keywords="Skip papers mentioning these, comma-separated",
        authors="Followed authors, comma-separated",
        top_n="Papers per digest (1-25)",
        post_time="When to post, HH:MM (24-hour clock)",
        timezone="IANA time zone for post_time, e.g. Europe/Berlin",
        weekdays="Days to post, e.g. mon-fri or mon,wed,fri",
        announce_empty="Say so on days without new papers",
        publish="A public web page and feed of the digests: yes (see what becomes public), confirm, or no",
        threads="Discussion threads: a Discuss button on each card, one for every card, or off",
        roundup="Post a weekly roundup of the channel's top papers by votes and discussion",
        roundup_day="The roundup's day, e.g. fri",
        roundup_time="The roundup's time, HH:MM (24-hour clock, the channel's time zone)",
        roundup_empty="Post one line for a week without votes or replies",
    )
    async def subscribe(
        self,
        interaction: discord.Interaction[Any],
        categories: str | None = None,
        keywords: str | None = None,
        negative_keywords: str | None = None,
        authors: str | None = None,
        top_n: app_commands.Range[int, 1, 25] | None = None,
        post_time: str | None = None,
        timezone: str | None = None,
        weekdays: str | None = None,
        announce_empty: bool | None = None,
        publish: Literal["yes", "confirm", "no"] | None = None,
        threads: Literal["button", "always", "off"] | None = None,
        roundup: bool | None = None,
        roundup_day: str | None = None,
        roundup_time: str | None = None,
        roundup_empty: bool | None = None,
    ) -> None:
        _require_manage_channels(interaction)
        _require_bot_permissions(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)  # the database may be slower than 3 s
        change = SettingsChange(
            categories=categories,
            keywords=keywords,
            negative_keywords=negative_keywords,
            authors=authors,
            top_n=top_n,
            post_time=post_time,
            timezone=timezone,
            weekdays=weekdays,
            announce_empty=announce_empty,
            threads=threads,
            roundup=roundup,
            roundup_day=roundup_day,
            roundup_time=roundup_time,
            roundup_empty=roundup_empty,
        )
        channel = interaction_channel(interaction)
        if publish is not None:  # the channel's public page (issue 20); the answer (with its URL) is private
            if change != SettingsChange():
                await self.service.subscribe(channel, change, by=str(interaction.user.id))
            answer = await self.service.publish(channel, publish, command="/hotpapers subscribe")
            await interaction.followup.send(render.content(answer.text), ephemeral=True)
            return
        settings = await self.service.subscribe(channel, change, by=str(interaction.user.id))
        text = render.settings_text(settings, channel=channel, lead="Subscribed.")
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(name="unsubscribe", description="Stop posting the daily digest here")
    async def unsubscribe(self, interaction: discord.Interaction[Any]) -> None:
        _require_manage_channels(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.service.unsubscribe(interaction_channel(interaction))
        note = "Unsubscribed: no more digests here. Votes and summaries are kept."
        await interaction.followup.send(note, ephemeral=True)

    @app_commands.command(name="settings", description="Show this channel's digest settings")
    @app_commands.describe(publish="rotate: give the channel's public page a new link (the old one stops working)")
    async def settings(self, interaction: discord.Interaction[Any], publish: Literal["rotate"] | None = None) -> None:
        _require_manage_channels(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction_channel(interaction)
        if publish is not None:
            answer = await self.service.publish(channel, publish, command="/hotpapers subscribe")
            await interaction.followup.send(render.content(answer.text), ephemeral=True)
            return
        settings = await self.service.settings(channel)
        await interaction.followup.send(render.settings_text(settings, channel=channel), ephemeral=True)

    @app_commands.command(name="regenerate", description="Ask the LLM again for a paper's summary (after a bad one)")
    @app_commands.describe(ref=REF_HELP)
    async def regenerate(self, interaction: discord.Interaction[Any], ref: app_commands.Range[str, 1, 300]) -> None:
        _require_manage_channels(interaction, REGENERATE_DENIED)
        await interaction.response.defer(ephemeral=True, thinking=True)  # an LLM call takes seconds
        card = await self.service.regenerate_summary(ref, interaction_channel(interaction))
        await interaction.followup.send(render.regenerated_note(card), embed=render.paper_embed(card), ephemeral=True)


def _require_manage_channels(interaction: discord.Interaction[Any], refusal: str = MANAGE_CHANNELS) -> None:
    """default_permissions only hides the command by default; server admins can re-grant it, so check again."""
    if not interaction.permissions.manage_channels:
        raise PermissionDenied(refusal)


BOT_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "add_reactions": "Add Reactions",
    "read_message_history": "Read Message History",
    "create_public_threads": "Create Public Threads",
    "send_messages_in_threads": "Send Messages in Threads",
}
"""What the bot needs in a channel it posts digests to (Discord's names, as the channel settings show them)."""


def missing_permissions(granted: discord.Permissions) -> list[str]:
    return [label for flag, label in BOT_PERMISSIONS.items() if not getattr(granted, flag)]


def _require_bot_permissions(interaction: discord.Interaction[Any]) -> None:
    """Refuse to subscribe a channel the bot could not post (or count reactions) in, naming what is missing."""
    missing = missing_permissions(interaction.app_permissions)
    if missing:
        raise PermissionDenied(BOT_MISSING.format(missing=", ".join(missing)))
