"""Discord adapter: slash commands, reaction votes and the daily digest through discord.py.

The package exposes what the CLI needs and nothing else: the `[discord]` settings model and `run`. discord.py is
imported only when `run` starts the bot, so `Settings` works (and the config can be checked) without the extra.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from bot.domain.config import parse_section
from bot.domain.errors import ConfigError
from bot.domain.settings import ConfigDict, Field, SettingsModel, model_validator

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.domain.config import Config
    from bot.domain.ports import ChatService, Publisher

__all__ = ["Settings", "run"]

log = logging.getLogger(__name__)


class Settings(SettingsModel):
    """The `[discord]` table. Secrets never live here: the token is read from the variable named by `token_env`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    shards: int | None = Field(default=None, ge=0)
    """None: one gateway connection. 0: AutoShardedClient with Discord's recommended count. N: N shards."""
    shard_ids: tuple[int, ...] = ()
    """With `shards = N`: the shards this process runs (each replica its own share); empty = all N."""
    guilds: tuple[int, ...] = ()
    """Guild ids to sync the slash commands to (instant); empty = global sync (can take up to an hour to show)."""
    up_emoji: tuple[str, ...] = Field(default=("👍", "🔥"), min_length=1)
    down_emoji: tuple[str, ...] = Field(default=("👎",), min_length=1)
    token_env: str = Field(default="DISCORD_TOKEN", min_length=1)
    seed_reactions: bool = True
    """Add the first up and down emoji under each digest post so voting is one click."""
    global_rate_limit: int = Field(default=50, ge=1, le=10_000)
    """Requests a second Discord allows this bot in total (50 unless Discord raised it for you). Digest posts are
    paced under it, so many channels posting at once do not run into 429s."""

    @model_validator(mode="after")
    def _shard_ids_within_the_count(self) -> Settings:
        if not self.shard_ids:
            return self
        if not self.shards:
            raise ValueError("shard_ids needs shards = N (the total over every replica), not 0 or unset")
        wrong = sorted({i for i in self.shard_ids if not 0 <= i < self.shards})
        if wrong:
            raise ValueError(f"shard_ids must lie in 0..{self.shards - 1} (shards = {self.shards}); got {wrong}")
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard_ids lists a shard twice")
        return self

    @model_validator(mode="after")
    def _emoji_are_distinct(self) -> Settings:
        both = set(self.up_emoji) & set(self.down_emoji)
        if both:
            raise ValueError(f"an emoji cannot count both up and down: {', '.join(sorted(both))}")
        return self

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Settings:
        return parse_section(cls, table, section="discord")


async def run(
    service: ChatService,
    settings_table: Mapping[str, Any],
    *,
    config: Config,
    publishers: MutableMapping[str, Publisher] | None = None,
    engine: AsyncEngine | None = None,
) -> None:
    """Run the bot until cancelled. ConfigError for a missing or rejected token (one line, never the token).

    If `publishers` is given, the live `DiscordPublisher` is put there under "discord" once the bot is logged in
    (and removed when it stops), so the scheduler can post digests through it. `engine`, the app's database engine
    every adapter is handed, is not used: Discord keeps nothing outside the core's tables.
    """
    settings = Settings.from_table(settings_table)
    if not settings.enabled:
        log.info("Discord adapter is disabled ([discord] enabled = false)")
        return
    token = config.secret(settings.token_env)
    if token is None:
        raise ConfigError(f"{settings.token_env} is not set")
    from adapters.discord.client import serve

    await serve(
        service,
        settings,
        token=token.get_secret_value(),
        summary_max_chars=config.summaries.community_max_chars,
        publishers=publishers,
    )
