"""One HTTP session for every Web API call the adapter makes, owned by the server: opened on start, closed on stop.

Without it slack_sdk opens a session and a TCP connection per call (1,041 connections for the bench's 1,000 posts).
A counting TCP relay in front of the fake Slack sees how many connections the adapter opens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from adapters.slack.server import SlackServer
from adapters.slack.settings import Secrets, Settings
from bot.app.service import HotPapers
from bot.domain.errors import ConfigError
from bot.domain.model import ChannelRef
from tests.adapters.slack.support import CHANNEL, SECRET, TEAM, serving
from tests.fakes.slack_server import FakeSlack


class Relay:
    """127.0.0.1:<port> → the fake, byte for byte; `connections` counts the TCP connections accepted."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/api/"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._port)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()


@pytest.fixture
async def relay(fake: FakeSlack) -> AsyncIterator[Relay]:
    async with Relay(int(fake.api_url.split(":")[2].split("/")[0])) as relay:
        yield relay


async def test_every_web_api_call_goes_through_one_session_and_its_kept_alive_connection(
    hotpapers: HotPapers, fake: FakeSlack, relay: Relay
) -> None:
    token = fake.add_workspace(TEAM).bot_token
    secrets = Secrets(signing_secret=SECRET, bot_token=token)
    async with serving(hotpapers, fake, secrets=secrets, api_url=relay.url) as bot:
        channel = ChannelRef("slack", TEAM, CHANNEL)
        for n in range(5):
            await bot.server.publisher.say(channel, f"line {n}")
        app = bot.server.app
        assert app.bolt.client is app.client and app.client.session is app.session  # bolt's per-request clients
        assert not app.session.closed
    assert len(fake.calls_to("chat.postMessage")) == 5
    assert relay.connections == 1  # slack_sdk on its own: one per call
    assert app.session.closed


async def test_a_server_that_fails_to_start_closes_its_session(hotpapers: HotPapers, fake: FakeSlack) -> None:
    """Socket Mode with an app token Slack refuses: start raises, and nothing is left open."""
    token = fake.add_workspace(TEAM).bot_token
    table = {"enabled": True, "mode": "socket", "host": "127.0.0.1", "port": 0, "api_url": fake.api_url}
    server = SlackServer(hotpapers, Settings.parse(table), Secrets(bot_token=token, app_token="xapp-1-refused"))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        await server.start()
    assert server.app.session.closed
