"""Issue 15 §12–13: Slack unreachable and hostile request lines — one warning line and a proper status, never a
traceback; Socket Mode offline is UpstreamUnavailable (exit 4), as Discord offline is."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from adapters.slack.server import SlackServer
from adapters.slack.settings import Secrets, Settings
from bot.app.service import HotPapers
from bot.domain.errors import UpstreamUnavailable
from bot.runtime.health import HealthSettings, start_health_server
from bot.runtime.logging_setup import configure_logging
from bot.runtime.metrics import Metrics
from tests.adapters.slack.support import SECRET, SlackSide

CLOSED = "http://127.0.0.1:9/api/"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What `hotpapers run` writes to stderr (its own logging set-up), captured."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging({"level": "INFO"}, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_signed_request_while_slack_is_unreachable_is_one_warning_and_a_503(
    hotpapers: HotPapers, log_lines: io.StringIO
) -> None:
    settings = Settings.parse({"enabled": True, "host": "127.0.0.1", "port": 0, "api_url": CLOSED})
    server = SlackServer(hotpapers, settings, Secrets(signing_secret=SECRET, bot_token="xoxb-1-offline"))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            reply = await SlackSide(http, server.url + settings.events_path).command(
                "/paper", "2010.00577", response_url=CLOSED + "hook"
            )
    finally:
        await server.stop()
    assert reply.status == 503
    problems = [line for line in log_lines.getvalue().splitlines() if "WARNING" in line or "ERROR" in line]
    assert len(problems) == 1 and "Slack API unreachable while handling a request: ClientConnectorError" in problems[0]
    assert "Traceback" not in log_lines.getvalue()


async def test_socket_mode_without_a_network_is_upstream_unavailable(hotpapers: HotPapers) -> None:
    settings = Settings.parse({"enabled": True, "mode": "socket", "host": "127.0.0.1", "port": 0, "api_url": CLOSED})
    server = SlackServer(hotpapers, settings, Secrets(bot_token="xoxb-1-offline", app_token="xapp-1-offline"))
    with pytest.raises(UpstreamUnavailable, match=r"^Slack is unreachable \(Socket Mode\): Client\w*Error$"):
        await server.start()


async def raw_request(port: int, line: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line + b"\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    answer = await reader.read(200)
    writer.close()
    return answer


async def test_a_20_kb_request_line_on_the_slack_port_is_a_400_and_one_warning(
    hotpapers: HotPapers, log_lines: io.StringIO
) -> None:
    settings = Settings.parse({"enabled": True, "host": "127.0.0.1", "port": 0, "api_url": CLOSED})
    server = SlackServer(hotpapers, settings, Secrets(signing_secret=SECRET, bot_token="xoxb-1"))
    await server.start()
    try:
        answer = await raw_request(int(server.url.rsplit(":", 1)[1]), b"GET /" + b"a" * 20_000 + b" HTTP/1.1")
    finally:
        await server.stop()
    assert answer.startswith(b"HTTP/1.0 400 Bad Request") or answer.startswith(b"HTTP/1.1 400 Bad Request")
    lines = log_lines.getvalue().splitlines()
    rejected = [line for line in lines if "rejected a malformed request" in line]
    assert len(rejected) == 1 and "WARNING" in rejected[0] and "LineTooLong" in rejected[0]
    assert "Traceback" not in log_lines.getvalue() and not any("ERROR" in line for line in lines)


async def test_a_20_kb_request_line_on_the_health_port_is_a_400_and_one_warning(log_lines: io.StringIO) -> None:
    async def healthy() -> None:
        return None

    server = await start_health_server(
        HealthSettings(enabled=True, port=0), metrics=Metrics(), check_database=healthy, signal_health=list
    )
    try:
        answer = await raw_request(server.port, b"GET /healthz?" + b"x" * 20_000 + b" HTTP/1.1")
    finally:
        await server.stop()
    assert b" 400 Bad Request" in answer.split(b"\r\n", 1)[0]
    assert log_lines.getvalue().count("rejected a malformed request") == 1
    assert "Traceback" not in log_lines.getvalue()
