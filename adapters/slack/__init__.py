"""Slack adapter: slash commands, reaction votes and the daily digest through slack-bolt (HTTP or Socket Mode).

`run` is the entry point `hotpapers run` awaits; importing this package does no work and loads no Slack library
(the app is built inside `run`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from adapters.slack.settings import Secrets, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.domain.config import Config
    from bot.domain.ports import ChatService, Publisher

__all__ = ["Secrets", "Settings", "run"]

log = logging.getLogger(__name__)


async def run(
    service: ChatService,
    settings_table: Mapping[str, Any],
    *,
    config: Config,
    publishers: MutableMapping[str, Publisher] | None = None,
    env: Mapping[str, str] | None = None,
    engine: AsyncEngine | None = None,
) -> None:
    """Validate `[slack]`, read secrets from the environment, serve until cancelled, then shut down cleanly.

    If `publishers` is given, the SlackPublisher is put there under "slack" once the app is serving (and removed
    when it stops), so the scheduler can post digests through it. `env` defaults to `os.environ`. `engine` is the
    app's database engine (`bot.runtime.bootstrap.App.engine`): with `oauth` the installations are stored there.
    Raises ConfigError naming the bad key or the missing environment variable (never a secret's value).
    """
    settings = Settings.parse(settings_table)
    if not settings.enabled:
        log.info("[slack] enabled = false; not starting the Slack adapter")
        return
    secrets = Secrets.from_env(settings, env)
    from adapters.slack.server import SlackServer

    server = SlackServer(
        service,
        settings,
        secrets,
        engine=engine,
        summary_max_chars=config.summaries.community_max_chars,
    )
    await server.start()
    try:
        if publishers is not None:
            publishers["slack"] = server.publisher
        await asyncio.Event().wait()
    finally:
        if publishers is not None:
            publishers.pop("slack", None)
        await server.stop()
