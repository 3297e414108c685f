"""/healthz and /metrics over real HTTP on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app.signals import SourceHealth
from bot.domain.config import parse_config
from bot.domain.errors import ConfigError
from bot.runtime.health import HealthSettings, RunningServer, database_probe, start_health_server
from bot.runtime.metrics import Metrics

WHEN = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
LOOPBACK = HealthSettings(enabled=True, host="127.0.0.1", port=0, timeout_seconds=0.5)


async def fine() -> None:
    return None


async def broken() -> None:
    raise ConnectionRefusedError("postgresql://bot:hunter2@db:5432 refused")


def signal_report() -> list[SourceHealth]:
    return [
        SourceHealth("hf", True, last_success=WHEN, last_latency_ms=12.5),
        SourceHealth("hn", True, last_error="timed out", last_error_at=WHEN),
        SourceHealth("bluesky", False, note="needs BLUESKY_HANDLE/BLUESKY_APP_PASSWORD"),
    ]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    servers: list[RunningServer] = []

    async def start(check: Callable[[], Awaitable[None]] = fine, *, metrics: Metrics | None = None) -> RunningServer:
        server = await start_health_server(
            LOOPBACK, metrics=metrics or Metrics(), check_database=check, signal_health=signal_report
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def fetch(server: RunningServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_healthz_reports_the_database_and_each_signal_source(
    serve: Callable[..., Awaitable[RunningServer]],
) -> None:
    server = await serve()
    assert server.port > 0
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["signals"]["hf"]["last_success"] == "2024-03-04T09:00:00+00:00"
    assert body["signals"]["hn"]["last_error"] == "timed out"
    assert body["signals"]["bluesky"]["enabled"] is False


async def test_healthz_answers_503_without_the_drivers_message_when_the_database_fails(
    serve: Callable[..., Awaitable[RunningServer]],
) -> None:
    server = await serve(broken)
    status, _, text = await fetch(server, "/healthz")
    assert status == 503
    assert '"database": "error: ConnectionRefusedError"' in text
    assert "hunter2" not in text


async def test_healthz_answers_503_when_the_database_check_hangs(
    serve: Callable[..., Awaitable[RunningServer]],
) -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    status, _, text = await fetch(await serve(hangs), "/healthz")
    assert status == 503 and "timed out after 0.5 s" in text


async def test_metrics_serves_the_registry_in_prometheus_text_format(
    serve: Callable[..., Awaitable[RunningServer]],
) -> None:
    metrics = Metrics()
    metrics.digest_posted("slack", 4)
    status, content_type, text = await fetch(await serve(metrics=metrics), "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    assert 'hotpapers_digest_messages_total{platform="slack"} 4.0' in text
    assert "# TYPE hotpapers_paper_seconds histogram" in text


async def test_database_probe_runs_a_trivial_query_on_the_engine(tmp_path: object) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/probe.db")
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        await database_probe(engine)()
    finally:
        await engine.dispose()
    assert statements == ["SELECT 1"]


def test_bad_health_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^health\.port: .*65535"):
        HealthSettings.from_config(parse_config({"health": {"port": 70000}}))
    with pytest.raises(ConfigError, match=r"^health\.bind: "):
        HealthSettings.from_config(parse_config({"health": {"bind": "0.0.0.0"}}))
    assert HealthSettings.from_config(parse_config({})) == HealthSettings(enabled=False, host="127.0.0.1", port=9108)


async def test_a_busy_port_is_a_config_error_naming_the_address(serve: Callable[..., Awaitable[RunningServer]]) -> None:
    first = await serve()
    taken = HealthSettings(enabled=True, host="127.0.0.1", port=first.port)
    with pytest.raises(ConfigError, match=rf"health: cannot listen on 127\.0\.0\.1:{first.port}"):
        await start_health_server(taken, metrics=Metrics(), check_database=fine, signal_health=list)
