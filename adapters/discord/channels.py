"""Discord ids → the engine's ChannelRef (platform "discord", guild id or "dm", channel id, "#name" when known)."""

from __future__ import annotations

import discord

from bot.domain.model import ChannelRef


def channel_ref(guild_id: int | None, channel_id: int | None, channel: object = None) -> ChannelRef:
    name = getattr(channel, "name", None)
    return ChannelRef("discord", str(guild_id) if guild_id else "dm", str(channel_id), f"#{name}" if name else "")


def interaction_channel(interaction: discord.Interaction) -> ChannelRef:
    return channel_ref(interaction.guild_id, interaction.channel_id, interaction.channel)
