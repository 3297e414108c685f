"""`app_uninstalled` and `tokens_revoked`, in every mode: the workspace's tokens go and its digests pause.

A workspace that removed the app (or whose bot token Slack revoked) will refuse every post, so each of its
subscriptions is paused with the reason and the fix in words, instead of failing every day. Also here: the
middleware that notes each Enterprise Grid workspace's org as its requests arrive (`Tokens.remember`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.installs import Org, Tokens

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

UNINSTALLED = "the hotpapers app was uninstalled from this Slack workspace"
REVOKED = "Slack revoked hotpapers' bot token in this workspace"
FIX = "reinstall hotpapers in the workspace, then run /hotpapers subscribe in each channel again"


def org_of(context: AsyncBoltContext) -> Org:
    return Org(context.enterprise_id, bool(context.is_enterprise_install))


class Uninstalls:
    def __init__(self, service: ChatService, tokens: Tokens) -> None:
        self._service = service
        self._tokens = tokens

    def register(self, app: AsyncApp) -> None:
        app.event("app_uninstalled")(self.uninstalled)
        app.event("tokens_revoked")(self.revoked)
        app.middleware(self.remember_org)

    async def remember_org(self, context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        if context.enterprise_id and context.team_id:
            await self._tokens.remember(context.team_id, org_of(context))
        return await next()

    async def uninstalled(self, context: AsyncBoltContext) -> None:
        await self._pause(context, reason=UNINSTALLED, bot=True)

    async def revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        bot = bool((event.get("tokens") or {}).get("bot"))  # user tokens alone: the app uses none
        await self._pause(context, reason=REVOKED, bot=bot)

    async def _pause(self, context: AsyncBoltContext, *, reason: str, bot: bool) -> None:
        teams = await self._tokens.forget(context.team_id or "", org_of(context), bot=bot)
        for team_id in teams:
            paused = await self._service.pause_workspace("slack", team_id, reason=reason, fix=FIX)
            log.info("Slack workspace %s: %s; %d subscription(s) paused", team_id, reason, paused)
