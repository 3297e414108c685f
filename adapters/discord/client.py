"""The bot: a discord.py Client (AutoShardedClient when shards are configured) wired to the engine, and `serve`.

A plain Client with its own command tree, not `discord.ext.commands.Bot`: the bot has no text commands, and the
extension (1.4 MB of an idle `hotpapers run`) would only have dispatched the events the handlers below take."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord import Settings
from adapters.discord.commands import ChannelCommands, PaperCommands
from adapters.discord.errors import reply_error
from adapters.discord.journal_club import JournalClubCommands, PollVotes
from adapters.discord.pacing import RequestBudget
from adapters.discord.publisher import DiscordPublisher
from adapters.discord.reactions import EmojiVotes, ReactionVotes
from adapters.discord.threads import ThreadReplies
from adapters.discord.views import DiscussButton, ReportButton, VoteButton
from bot.domain.errors import ConfigError, UpstreamUnavailable

if TYPE_CHECKING:
    from bot.domain.ports import ChatService, Publisher

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT = 60.0
"""A 429 asking for a longer wait raises instead of stalling silently (the digest resumes on the next run)."""


def intents() -> discord.Intents:
    """Guilds (channel names, threads, the command tree), guild reactions (votes), guild messages (replies in
    discussion threads: who, never the text) and guild polls (the journal club's live votes). No privileged
    intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_reactions = True
    wanted.guild_messages = True
    wanted.guild_polls = True  # journal club: live poll votes (MESSAGE_POLL_VOTE_ADD / REMOVE), not privileged
    return wanted


class HotPapersTree(app_commands.CommandTree[Any]):
    """Every command error goes through the error table, privately; the default handler would log user typos
    as tracebacks."""

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        await reply_error(interaction, error, ref=getattr(interaction.namespace, "ref", None))


class HotPapersBot(discord.Client):
    def __init__(self, service: ChatService, settings: Settings, *, summary_max_chars: int = 3000, **options: Any):
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            max_messages=None,  # no message cache: every handler reads raw events or asks Discord
            **options,
        )
        self.tree = HotPapersTree(self)
        self.service, self.settings, self.summary_max_chars = service, settings, summary_max_chars
        seed = (settings.up_emoji[0], settings.down_emoji[0]) if settings.seed_reactions else ()
        self.vote_hint = f"vote with {' '.join(settings.up_emoji)} or {' '.join(settings.down_emoji)}"
        budget = RequestBudget(settings.global_rate_limit)
        self.publisher = DiscordPublisher(self, budget=budget, seed_emoji=seed, vote_hint=self.vote_hint)
        emoji = EmojiVotes(settings.up_emoji, settings.down_emoji)
        self.reactions = ReactionVotes(self, service, emoji=emoji)
        self.replies = ThreadReplies(self, service)
        self.poll_votes = PollVotes(self, service)  # journal club (issue 19)
        self.command_cleanup: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, ReportButton, DiscussButton)
        self.tree.add_command(ChannelCommands(self.service))
        paper = PaperCommands(self.service, summary_max_chars=self.summary_max_chars, vote_hint=self.vote_hint)
        for command in paper.commands():
            self.tree.add_command(command)
        self.tree.add_command(JournalClubCommands(self.service, self.publisher))  # journal club (issue 19)
        await sync_commands(self.tree, self.settings.guilds)
        if not self.settings.guilds:
            self.command_cleanup = asyncio.create_task(
                remove_guild_sets(self, self.tree), name="remove guild command sets"
            )

    # The gateway events the handlers take; discord.py runs each in a task of its own.
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.reactions.on_raw_reaction_add(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.reactions.on_raw_reaction_remove(payload)

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        await self.reactions.on_raw_reaction_clear(payload)

    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        await self.reactions.on_raw_reaction_clear_emoji(payload)

    async def on_message(self, message: discord.Message, /) -> None:
        """Messages are read for replies in discussion threads only: the bot has no text commands."""
        await self.replies.on_message(message)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.replies.on_raw_message_delete(payload)

    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.poll_votes.on_raw_poll_vote_add(payload)

    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.poll_votes.on_raw_poll_vote_remove(payload)

    async def close(self) -> None:
        if self.command_cleanup is not None:
            self.command_cleanup.cancel()
        await super().close()


class ShardedHotPapersBot(HotPapersBot, discord.AutoShardedClient):
    """Same bot over discord.py's AutoShardedClient."""


def build_bot(service: ChatService, settings: Settings, **options: Any) -> HotPapersBot:
    if settings.shards is None:
        return HotPapersBot(service, settings, **options)
    if settings.shard_ids:  # this replica's share of the N shards
        options["shard_ids"] = list(settings.shard_ids)
    return ShardedHotPapersBot(service, settings, shard_count=settings.shards or None, **options)


async def sync_commands(tree: app_commands.CommandTree[Any], guild_ids: tuple[int, ...]) -> None:
    """Bulk-overwrite the commands globally, or per configured guild (visible at once there).

    With guilds, the global set a global sync left behind is emptied, so nobody sees every command twice (the
    guild sets a guild sync left behind are emptied once the bot knows its guilds: `remove_guild_sets`). Each
    sync stands alone: a guild that refuses, or a rate limit, is logged and the others go on; the bot serves.
    """
    if not guild_ids:
        await _sync(tree, None)
        return
    for guild_id in guild_ids:
        tree.copy_global_to(guild=discord.Object(id=guild_id))
    for guild_id in guild_ids:
        await _sync(tree, discord.Object(id=guild_id))
    tree.clear_commands(guild=None)  # interactions resolve through the guild copies
    await _sync(tree, None)


async def remove_guild_sets(client: discord.Client, tree: app_commands.CommandTree[Any]) -> None:
    """Global sync: empty the guild sets an earlier guild sync left in the servers the bot is in."""
    await client.wait_until_ready()
    for guild in list(client.guilds):
        await _sync(tree, guild, quiet=True)


async def _sync(
    tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None, *, quiet: bool = False
) -> None:
    where = f"guild {guild.id}" if guild else "global"
    try:
        synced = await tree.sync(guild=guild)
    except discord.RateLimited as error:
        # Longer than the bot waits for (MAX_RATELIMIT_WAIT): the commands there stay as they were until a restart.
        log.warning(
            "slash-command sync (%s) rate-limited for %.0f s; keeping the commands already there",
            where,
            error.retry_after,
        )
    except discord.HTTPException as error:
        log.error("could not sync slash commands (%s; is the bot there, with applications.commands?): %s", where, error)
    else:
        (log.debug if quiet else log.info)("synced %d slash commands (%s)", len(synced), where)


async def serve(
    service: ChatService,
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
