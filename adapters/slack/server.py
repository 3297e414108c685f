"""Serving the app: an aiohttp site (events, OAuth install/redirect, health) and, in socket mode, the WebSocket.

Bolt's own `app.start()` blocks in `web.run_app`; this wraps the same request glue (`to_bolt_request` /
`to_aiohttp_response`) in an AppRunner so start and stop are awaitable and a test can bind port 0.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.app import SlackApp, build_app
from adapters.slack.publisher import SlackPublisher
from adapters.slack.settings import Secrets, Settings
from bot.domain.errors import ConfigError, UpstreamUnavailable

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)


class SlackServer:
    """Start/stop lifecycle around one SlackApp. `url` is the bound base URL once started."""

    def __init__(
        self,
        service: ChatService,
        settings: Settings,
        secrets: Secrets,
        *,
        engine: AsyncEngine | None = None,
        summary_max_chars: int = 3000,
    ) -> None:
        self._service = service
        self._settings = settings
        self._secrets = secrets
        self._engine = engine
        self._summary_max_chars = summary_max_chars
        self._slack: SlackApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.url = ""

    @property
    def app(self) -> SlackApp:
        if self._slack is None:
            raise RuntimeError("SlackServer.start() has not been awaited")
        return self._slack

    @property
    def publisher(self) -> SlackPublisher:
        return self.app.publisher

    async def start(self) -> None:
        """Build the app, bind the site and (socket mode) connect; anything half-started is stopped on failure."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self._slack = await build_app(
            self._service,
            self._settings,
            self._secrets,
            engine=self._engine,
            summary_max_chars=self._summary_max_chars,
        )
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        if self._settings.mode == "socket":
            self._socket = AsyncSocketModeHandler(
                self._slack.bolt, app_token=self._secrets.app_token, web_client=self._slack.client
            )
            await self._connect_socket(self._socket)
        log.info("Slack adapter up (%s mode) on %s", self._settings.mode, self.url)

    @staticmethod
    async def _connect_socket(handler: AsyncSocketModeHandler) -> None:
        """Ask for the WebSocket URL first: a refused app token is a ConfigError now, not an endless retry loop."""
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
            await handler.connect_async()
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            raise ConfigError(f"Slack refused SLACK_APP_TOKEN for Socket Mode: {code}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:  # as Discord's adapter: exit 4, one line
            raise UpstreamUnavailable(f"Slack is unreachable (Socket Mode): {type(error).__name__}") from None

    async def stop(self) -> None:
        """Disconnect, stop serving, then close the app's HTTP session (safe to call twice)."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._slack is not None:  # last: the handlers above may still have been calling Slack
            await self._slack.aclose()

    def web_app(self) -> web.Application:
        """Routes: POST events (HTTP mode), GET install + redirect (OAuth), GET health (always)."""
        routes = [web.get(self._settings.health_path, self._health)]
        if self._settings.mode == "http":
            routes.append(web.post(self._settings.events_path, self._events))
        flow = self.app.bolt.oauth_flow
        if flow is not None:
            routes += [web.get(flow.install_path, self._install), web.get(flow.redirect_uri_path, self._callback)]
        application = web.Application()
        application.add_routes(routes)
        return application

    async def _events(self, request: web.Request) -> web.Response:
        response = await self.app.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _install(self, request: web.Request) -> web.Response:
        flow = self.app.bolt.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def _callback(self, request: web.Request) -> web.Response:
        flow = self.app.bolt.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    async def _health(self, request: web.Request) -> web.Response:
        connected = await self._socket.client.is_connected() if self._socket is not None else None
        healthy = connected is not False
        body = {"ok": healthy, "mode": self._settings.mode, "socket_connected": connected}
        return web.json_response(body, status=200 if healthy else 503)
