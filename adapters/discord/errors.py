"""One table from errors to what a Discord user reads (mirrors the CLI's exit-code table); replies are ephemeral."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import discord
from discord import app_commands

from adapters.discord.render import content
from bot.errors import BadInput, HotPapersError, NotFound, PermissionDenied, UpstreamUnavailable

log = logging.getLogger(__name__)

UNREACHABLE = "arXiv is unreachable right now, try again in a minute."
MANAGE_CHANNELS = "You need the Manage Channels permission in this channel to change its hot-papers subscription."
REGENERATE_DENIED = "You need the Manage Channels permission in this channel to regenerate a paper's summary."
BOT_MISSING = (
    "hotpapers cannot post the digest here: it lacks {missing} in this channel. Grant them to the bot's role "
    "(channel settings → Permissions) and subscribe again."
)
SERVER_ONLY = "This command works in a server channel, not in direct messages."
UNEXPECTED = "Something went wrong on our side; it has been logged. Please try again later."

_Message = Callable[[BaseException, str | None], str]
TABLE: tuple[tuple[type[BaseException], _Message], ...] = (
    (BadInput, lambda error, ref: str(error)),  # BadReference included: its message lists the accepted forms
    (NotFound, lambda error, ref: str(error) or f"arXiv has no paper {(ref or '').strip()}."),
    (UpstreamUnavailable, lambda error, ref: UNREACHABLE),
    (PermissionDenied, lambda error, ref: str(error) or MANAGE_CHANNELS),
    (app_commands.NoPrivateMessage, lambda error, ref: SERVER_ONLY),
    (app_commands.MissingPermissions, lambda error, ref: MANAGE_CHANNELS),
    (HotPapersError, lambda error, ref: str(error) or UNEXPECTED),
)


def message_for(error: BaseException, *, ref: str | None = None) -> str:
    """The line for `error`; anything not in the table is logged with its traceback and shown as UNEXPECTED."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    for kind, message in TABLE:
        if isinstance(error, kind):
            return _sentence(message(error, ref))
    log.error("unexpected error in a Discord interaction", exc_info=error)
    return UNEXPECTED


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


def _sentence(text: str) -> str:
    """Engine messages start in lower case ("days must be …"); names like "arXiv" keep theirs."""
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.islower() else text
