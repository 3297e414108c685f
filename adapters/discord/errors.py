"""One table from errors to what a Discord user reads (mirrors the CLI's exit-code table); replies are ephemeral.

The engine's errors are worded in `bot.domain.messages` (the same sentences on every platform); this table adds what
only
Discord raises (a command used in a DM, a member without Manage Channels)."""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from adapters.discord.render import content
from bot.domain.messages import UNEXPECTED, error_text, sentence

log = logging.getLogger(__name__)

MANAGE_CHANNELS = "You need the Manage Channels permission in this channel to change its hot-papers subscription."
REGENERATE_DENIED = "You need the Manage Channels permission in this channel to regenerate a paper's summary."
BOT_MISSING = (
    "hotpapers cannot post the digest here: it lacks {missing} in this channel. Grant them to the bot's role "
    "(channel settings → Permissions) and subscribe again."
)
SERVER_ONLY = "This command works in a server channel, not in direct messages."

TABLE: tuple[tuple[type[BaseException], str], ...] = (
    (app_commands.NoPrivateMessage, SERVER_ONLY),
    (app_commands.MissingPermissions, MANAGE_CHANNELS),
)
"""Discord's own errors; the engine's are worded by `bot.domain.messages.error_text`."""


def message_for(error: BaseException, *, ref: str | None = None) -> str:
    """The line for `error`; anything neither in the table nor the engine's is logged with its traceback and shown
    as UNEXPECTED."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    for kind, message in TABLE:
        if isinstance(error, kind):
            return message
    text = error_text(error, ref=ref)
    if text is None:
        log.error("unexpected error in a Discord interaction", exc_info=error)
        return UNEXPECTED
    return sentence(text)  # Discord replies start with a capital


async def reply_error(interaction: discord.Interaction, error: BaseException, *, ref: str | None = None) -> None:
    """Tell only the user who asked, whether or not the interaction was already acknowledged."""
    text = content(message_for(error, ref=ref))
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # The first follow-up would fill the deferred "thinking…" message and share its visibility (public):
            # remove that message so the error goes out as a new, ephemeral one.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as failure:
        log.warning("could not deliver an error reply (%s): %s", type(error).__name__, failure)
