"""Who holds which bot token: single-workspace, OAuth installs (Enterprise Grid included), rotation and uninstalls.

With OAuth, slack_sdk's SQLAlchemy installation store keeps the tokens; this module adds what the adapter needs
around it:

* Enterprise Grid. The store keys a token by (enterprise id, team id), and an org-wide install by the enterprise
  alone, while a channel is known by its workspace (team id). `slack_workspaces` remembers which enterprise each
  Grid workspace that talked to the app belongs to, so a digest finds its token (a Grid workspace otherwise read as
  "not installed").
* Token rotation. Incoming requests go through bolt's installation-store authorize with the token rotator, and
  digests through the same rotator: either refreshes a token `refresh_minutes` before it expires and saves it.
  The authorize result is cached per token, so an event does not cost an `auth.test`.
* Uninstalls. `forget` deletes a workspace's (or an org's) tokens and names the workspaces whose subscriptions
  must pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Boolean, Column, MetaData, String, Table, and_, delete, desc, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

_metadata = MetaData()
WORKSPACES = Table(
    "slack_workspaces",
    _metadata,
    Column("client_id", String(32), primary_key=True),
    Column("team_id", String(32), primary_key=True),
    Column("enterprise_id", String(32), nullable=False),
    Column("is_enterprise_install", Boolean, nullable=False),
)
"""The Enterprise Grid org of each Grid workspace that sent the app a request (only Grid workspaces are here).
Created, like slack_sdk's tables, by migration 0004; this is the adapter's view of it."""


@dataclass(frozen=True, slots=True)
class Org:
    """Where a workspace's token lives: its enterprise (None outside Grid) and whether the install is org-wide."""

    enterprise_id: str | None = None
    is_enterprise_install: bool = False


class Tokens(Protocol):
    """What the publisher and the uninstall listeners need, whichever way the app is installed."""

    async def token(self, team_id: str) -> str | None:
        """The bot token for a workspace (refreshed first if it rotates and expires soon); None: not installed."""
        ...

    async def remember(self, team_id: str, org: Org) -> None:
        """Note a workspace's Enterprise Grid org (from a request it sent)."""
        ...

    async def forget(self, team_id: str, org: Org, *, bot: bool = True) -> list[str]:
        """Delete the tokens of a workspace (or of a whole org for an org-wide install); returns the workspaces
        that lost their bot token."""
        ...


class StaticTokens:
    """Single-workspace installs: the bot token from the environment, for every channel, until it is revoked."""

    def __init__(self, token: str) -> None:
        self._token: str | None = token

    async def token(self, team_id: str) -> str | None:
        return self._token

    async def remember(self, team_id: str, org: Org) -> None:
        return None

    async def forget(self, team_id: str, org: Org, *, bot: bool = True) -> list[str]:
        if bot:
            self._token = None  # Slack no longer takes it; a new one comes with a restart and SLACK_BOT_TOKEN
        return [team_id] if bot else []


class InstalledTokens:
    """OAuth installs in slack_sdk's store, plus the Grid directory, rotation and deletion."""

    def __init__(
        self,
        store: AsyncSQLAlchemyInstallationStore,
        engine: AsyncEngine,
        *,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
        refresh_minutes: int,
    ) -> None:
        self.store = store
        self._engine = engine
        self._client_id, self._client_secret, self._client = client_id, client_secret, client
        self._rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=client)
        self.refresh_minutes = refresh_minutes
        self._orgs: dict[str, Org] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def authorize(self) -> AsyncInstallationStoreAuthorize:
        """bolt's authorize for incoming requests: the same store and rotation, the result cached per token."""
        return AsyncInstallationStoreAuthorize(
            logger=logging.getLogger("slack_bolt.authorize"),
            installation_store=self.store,
            client_id=self._client_id,
            client_secret=self._client_secret,
            token_rotation_expiration_minutes=self.refresh_minutes,
            bot_only=True,
            cache_enabled=True,
            client=self._client,  # the rotator's refresh goes to the configured API, never a default host
        )

    async def remember(self, team_id: str, org: Org) -> None:
        if not team_id or org.enterprise_id is None or self._orgs.get(team_id) == org:
            return
        key = and_(WORKSPACES.c.client_id == self._client_id, WORKSPACES.c.team_id == team_id)
        row = {
            "client_id": self._client_id,
            "team_id": team_id,
            "enterprise_id": org.enterprise_id,
            "is_enterprise_install": org.is_enterprise_install,
        }
        try:
            async with self._engine.begin() as connection:
                await connection.execute(delete(WORKSPACES).where(key))
                await connection.execute(WORKSPACES.insert().values(**row))
        except IntegrityError:  # a concurrent request of the same workspace wrote it first
            pass
        self._orgs[team_id] = org

    async def org_of(self, team_id: str) -> Org:
        """The workspace's org: remembered from its requests, else from a workspace-level install in the store."""
        if team_id in self._orgs:
            return self._orgs[team_id]
        bots = self.store.bots.c
        async with self._engine.connect() as connection:
            found = (
                await connection.execute(
                    select(WORKSPACES.c.enterprise_id, WORKSPACES.c.is_enterprise_install).where(
                        WORKSPACES.c.client_id == self._client_id, WORKSPACES.c.team_id == team_id
                    )
                )
            ).first()
            if found is None:
                found = (
                    await connection.execute(
                        select(bots.enterprise_id, bots.is_enterprise_install)
                        .where(bots.client_id == self._client_id, bots.team_id == team_id)
                        .order_by(desc(bots.installed_at))
                        .limit(1)
                    )
                ).first()
        org = Org(found[0], bool(found[1])) if found is not None else Org()
        if found is not None:
            self._orgs[team_id] = org
        return org

    async def token(self, team_id: str) -> str | None:
        org = await self.org_of(team_id)
        async with self._locks[team_id]:  # two digests of one workspace refresh its token once
            bot = await self.store.async_find_bot(
                enterprise_id=org.enterprise_id, team_id=team_id, is_enterprise_install=org.is_enterprise_install
            )
            if bot is None:
                return None
            if bot.bot_refresh_token is not None:
                refreshed = await self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=self.refresh_minutes
                )
                if refreshed is not None:
                    await self.store.async_save_bot(refreshed)
                    bot = refreshed
            return bot.bot_token

    async def forget(self, team_id: str, org: Org, *, bot: bool = True) -> list[str]:
        stored_team = None if org.is_enterprise_install else team_id
        if not bot:  # only user tokens were revoked: the app has none it uses
            return []
        await self.store.async_delete_all(enterprise_id=org.enterprise_id, team_id=stored_team)
        if not org.is_enterprise_install or org.enterprise_id is None:
            return [team_id] if team_id else []
        async with self._engine.connect() as connection:  # an org-wide install served every workspace of the org
            rows = await connection.execute(
                select(WORKSPACES.c.team_id).where(
                    WORKSPACES.c.client_id == self._client_id,
                    WORKSPACES.c.enterprise_id == org.enterprise_id,
                    WORKSPACES.c.is_enterprise_install,
                )
            )
            teams = [row[0] for row in rows]
        return sorted({*teams, *([team_id] if team_id else [])})
