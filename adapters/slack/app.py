"""The AsyncApp factory: Web API client, single-workspace or OAuth installs, listeners, and the publisher.

Everything the app talks to comes in through arguments (API base URL, the app's database engine, secrets), so tests
build the very same app against a loopback fake Slack and a temporary SQLite file. With OAuth, slack_sdk's stores
use the app's own engine; their tables come from the migrations (`bot/storage/migrations/versions/0004_…`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.actions import CardActions
from adapters.slack.commands import SlashCommands
from adapters.slack.errors import bolt_error
from adapters.slack.events import ReactionVotes, ThreadReplies
from adapters.slack.installs import InstalledTokens, StaticTokens, Tokens
from adapters.slack.journal_club import JournalClub
from adapters.slack.publisher import ChannelPacer, SlackPublisher
from adapters.slack.settings import Secrets, Settings
from adapters.slack.uninstalls import Uninstalls

if TYPE_CHECKING:
    from bot.domain.ports import ChatService


TIMEOUT_SECONDS = 30
"""A Web API call's whole time (slack_sdk's default, which it gives only the sessions it makes itself)."""


@dataclass(slots=True)
class SlackApp:
    """What `build_app` made: the bolt app, the digest publisher, (OAuth) the installation store, and the HTTP
    session every Web API call goes through — the app's to close (`aclose`)."""

    bolt: AsyncApp
    client: AsyncWebClient
    publisher: SlackPublisher
    session: aiohttp.ClientSession
    installation_store: AsyncSQLAlchemyInstallationStore | None = None

    async def aclose(self) -> None:
        await self.session.close()


def http_session() -> aiohttp.ClientSession:
    """One session (a pool of kept-alive connections) for every Web API call. Without one, slack_sdk opens a new
    session and TCP (and TLS) connection per call. Make it inside the running event loop; close it when done."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))


def web_client(
    settings: Settings, *, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The one Web API client; bolt copies its base URL, retry handlers and `session` into every per-request
    client, and the publisher copies it too, so all of them share the session's connections."""
    handlers = [
        AsyncConnectionErrorRetryHandler(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries),
    ]
    return AsyncWebClient(
        token=token, base_url=settings.api_url, timeout=TIMEOUT_SECONDS, session=session, retry_handlers=handlers
    )


async def build_app(
    service: ChatService,
    settings: Settings,
    secrets: Secrets,
    *,
    engine: AsyncEngine | None = None,
    summary_max_chars: int = 3000,
) -> SlackApp:
    """Build the app; with `oauth`, slack_sdk's installation and state stores live on `engine`, the app's own
    (migrated: the tables exist; the app disposes of the engine, not this adapter). The app owns one HTTP session
    from here on: `SlackApp.aclose` closes it (and a build that fails closes it before raising)."""
    if settings.oauth and engine is None:
        raise ValueError("[slack] oauth = true needs the app's database engine")
    session = http_session()
    try:
        return _build(service, settings, secrets, engine, session, summary_max_chars)
    except BaseException:
        await session.close()
        raise


def _build(
    service: ChatService,
    settings: Settings,
    secrets: Secrets,
    engine: AsyncEngine | None,
    session: aiohttp.ClientSession,
    summary_max_chars: int,
) -> SlackApp:
    client = web_client(settings, token=None if settings.oauth else secrets.bot_token, session=session)
    store: AsyncSQLAlchemyInstallationStore | None = None
    tokens: Tokens
    if settings.oauth:
        assert engine is not None  # checked by build_app
        store = AsyncSQLAlchemyInstallationStore(client_id=str(secrets.client_id), engine=engine)
        states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=settings.state_expiration_seconds, engine=engine)
        installed = InstalledTokens(
            store,
            engine,
            client_id=str(secrets.client_id),
            client_secret=str(secrets.client_secret),
            client=client,
            refresh_minutes=settings.token_refresh_minutes,
        )
        oauth = AsyncOAuthSettings(
            client_id=secrets.client_id,
            client_secret=secrets.client_secret,
            scopes=list(settings.scopes),
            redirect_uri=settings.redirect_uri,
            install_path=settings.install_path,
            redirect_uri_path=settings.redirect_path,
            authorization_url=settings.authorize_url,
            installation_store=store,
            installation_store_bot_only=True,
            state_store=states,
            state_expiration_seconds=settings.state_expiration_seconds,
            token_rotation_expiration_minutes=settings.token_refresh_minutes,
        )
        # bolt takes an `AsyncAuthorize` (it checks with isinstance) though its annotation names only functions.
        authorize = cast("Callable[..., Awaitable[AuthorizeResult]]", installed.authorize())
        bolt = AsyncApp(
            signing_secret=secrets.signing_secret or "", client=client, oauth_settings=oauth, authorize=authorize
        )
        tokens = installed
    else:
        bolt = AsyncApp(signing_secret=secrets.signing_secret or "", client=client)
        tokens = StaticTokens(str(secrets.bot_token))
    bolt.error(bolt_error)
    Uninstalls(service, tokens).register(bolt)
    SlashCommands(service, settings, summary_max_chars=summary_max_chars).register(bolt)
    pacer = ChannelPacer(settings.post_burst, settings.posts_per_second)
    publisher = SlackPublisher(client, tokens.token, pacer=pacer)
    CardActions(service, summary_wait_seconds=settings.summary_wait_seconds, publisher=publisher).register(bolt)
    ReactionVotes(service, settings).register(bolt)
    ThreadReplies(service).register(bolt)
    JournalClub(service, publisher).register(bolt)  # journal club (issue 19)
    return SlackApp(bolt=bolt, client=client, publisher=publisher, session=session, installation_store=store)
