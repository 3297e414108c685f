"""The bot: a discord.py Bot (AutoShardedBot when shards are configured) wired to the engine, and `serve`."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from adapters.discord import Settings
from adapters.discord.commands import PaperCommands
from adapters.discord.errors import reply_error
from adapters.discord.pacing import RequestBudget
from adapters.discord.publisher import DiscordPublisher
from adapters.discord.reactions import EmojiVotes, ReactionVotes
from adapters.discord.views import ReportButton, VoteButton
from bot.errors import ConfigError, UpstreamUnavailable

if TYPE_CHECKING:
    from bot.ports import Publisher
    from bot.service import HotPapers

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT = 60.0
"""A 429 asking for a longer wait raises instead of stalling silently (the digest resumes on the next run)."""


def intents() -> discord.Intents:
    """Guilds (channel names, the command tree) and guild reactions (votes). No privileged intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_reactions = True
    return wanted


class HotPapersTree(app_commands.CommandTree[Any]):
    """Every command error goes through the error table, privately; the default handler would log user typos
    as tracebacks."""

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        await reply_error(interaction, error, ref=getattr(interaction.namespace, "ref", None))


class HotPapersBot(commands.Bot):
    def __init__(self, service: HotPapers, settings: Settings, *, summary_max_chars: int = 3000, **options: Any):
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            tree_cls=HotPapersTree,
            **options,
        )
        self.service, self.settings, self.summary_max_chars = service, settings, summary_max_chars
        seed = (settings.up_emoji[0], settings.down_emoji[0]) if settings.seed_reactions else ()
        self.vote_hint = f"vote with {' '.join(settings.up_emoji)} or {' '.join(settings.down_emoji)}"
        budget = RequestBudget(settings.global_rate_limit)
        self.publisher = DiscordPublisher(self, budget=budget, seed_emoji=seed, vote_hint=self.vote_hint)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, ReportButton)
        cog = PaperCommands(self.service, summary_max_chars=self.summary_max_chars, vote_hint=self.vote_hint)
        await self.add_cog(cog)
        emoji = EmojiVotes(self.settings.up_emoji, self.settings.down_emoji)
        await self.add_cog(ReactionVotes(self, self.service, emoji=emoji))
        await sync_commands(self.tree, self.settings.guilds)


class ShardedHotPapersBot(HotPapersBot, commands.AutoShardedBot):
    """Same bot over discord.py's AutoShardedClient."""


def build_bot(service: HotPapers, settings: Settings, **options: Any) -> HotPapersBot:
    if settings.shards is None:
        return HotPapersBot(service, settings, **options)
    return ShardedHotPapersBot(service, settings, shard_count=settings.shards or None, **options)


async def sync_commands(tree: app_commands.CommandTree[Any], guild_ids: tuple[int, ...]) -> None:
    """Bulk-overwrite the commands globally, or per configured guild (visible at once there)."""
    try:
        if not guild_ids:
            synced = await tree.sync()
            log.info("synced %d global slash commands", len(synced))
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            log.info("synced %d slash commands to guild %s", len(synced), guild_id)
    except discord.HTTPException as error:
        # The commands synced before keep working; say why these were not updated and go on serving.
        log.error("could not sync slash commands (is the bot in the guild, with applications.commands?): %s", error)


async def serve(
    service: HotPapers,
    settings: Settings,
    *,
    token: str,
    summary_max_chars: int = 3000,
    publishers: MutableMapping[str, Publisher] | None = None,
    **options: Any,
) -> None:
    """Log in, connect and serve until cancelled or closed; the bot is always closed on the way out."""
    bot = build_bot(service, settings, summary_max_chars=summary_max_chars, **options)
    try:
        async with bot:
            await bot.login(token)
            if publishers is not None:
                publishers[DiscordPublisher.platform] = bot.publisher
            await bot.connect(reconnect=True)
    except discord.LoginFailure:
        raise ConfigError(f"Discord rejected {settings.token_env} (LoginFailure)") from None
    except discord.PrivilegedIntentsRequired:  # not requested; kept so a future intent cannot crash obscurely
        raise ConfigError("Discord refused the gateway intents (enable them in the developer portal)") from None
    except (aiohttp.ClientError, OSError, discord.GatewayNotFound) as error:
        raise UpstreamUnavailable(f"Discord is unreachable: {type(error).__name__}") from None
    finally:
        if publishers is not None and publishers.get(DiscordPublisher.platform) is bot.publisher:
            del publishers[DiscordPublisher.platform]
