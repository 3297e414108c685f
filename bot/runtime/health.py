"""A small HTTP server for operators: `/healthz` for liveness probes and `/metrics` for Prometheus.

It binds to loopback by default and is off unless `[health] enabled = true`: it says which sources are failing,
which is not for the open internet. The database check and the signal report are callables handed in by the
composition root, so this module knows nothing about engines or hubs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.domain.config import Config, parse_section
from bot.domain.errors import ConfigError
from bot.domain.settings import ConfigDict, Field, SettingsModel

if TYPE_CHECKING:  # the server's libraries load when it starts; every command checks [health] without them
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

CheckDatabase = Callable[[], Awaitable[None]]
SignalHealth = Callable[[], list[Any]]


class HealthSettings(SettingsModel):
    """The `[health]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)
    timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    """How long the database check may take before /healthz answers 503."""

    @classmethod
    def from_config(cls, config: Config) -> HealthSettings:
        return parse_section(cls, config.health, section="health")


@dataclasses.dataclass
class RunningServer:
    """An aiohttp site `hotpapers run` started (health and metrics, the channel pages): where it listens."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()


def database_probe(engine: AsyncEngine) -> CheckDatabase:
    """A `check_database` callable: one trivial query on a pooled connection."""

    from sqlalchemy import text

    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


async def start_health_server(
    settings: HealthSettings,
    *,
    metrics: Metrics,
    check_database: CheckDatabase,
    signal_health: SignalHealth,
) -> RunningServer:
    """Serve /healthz and /metrics on settings.host:settings.port (port 0 picks a free one; see `.port`)."""
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/healthz", _healthz(settings, check_database, signal_health))
    app.router.add_get("/metrics", _metrics(metrics))
    runner = web.AppRunner(app, access_log=None)
    port = await listen(runner, settings.host, settings.port, what="health")
    log.info("health server on http://%s:%d/healthz", settings.host, port)
    return RunningServer(runner, settings.host, port)


async def listen(runner: web.AppRunner, host: str, port: int, *, what: str) -> int:
    """Start `runner` on host:port (port 0: a free one) and return the port it got; a port it cannot take is a
    ConfigError naming `what` (the health server, the channel pages) and the reason."""
    from aiohttp import web

    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(f"{what}: cannot listen on {host}:{port}: {error.strerror}") from None
    bound: int = runner.addresses[0][1]
    return bound


def _healthz(settings: HealthSettings, check_database: CheckDatabase, signal_health: SignalHealth) -> Any:
    from aiohttp import web

    async def handle(_request: web.Request) -> web.Response:
        database = "ok"
        try:
            await asyncio.wait_for(check_database(), timeout=settings.timeout_seconds)
        except TimeoutError:
            database = f"timed out after {settings.timeout_seconds:g} s"
        except Exception as error:
            # The type only: driver messages can carry host names or credentials.
            database = f"error: {type(error).__name__}"
            log.warning("health check: database unavailable (%s)", type(error).__name__)
        body = {
            "status": "ok" if database == "ok" else "error",
            "database": database,
            "signals": _signals(signal_health),
        }
        return web.json_response(body, status=200 if database == "ok" else 503)

    return handle


def _metrics(metrics: Metrics) -> Any:
    from aiohttp import web

    async def handle(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = metrics.content_type
        return response

    return handle


def _signals(signal_health: SignalHealth) -> dict[str, Any]:
    """Each source's health by name. A signal outage degrades cards, not the bot, so it never fails the check."""
    try:
        reports = signal_health()
    except Exception as error:
        return {"error": type(error).__name__}
    found: dict[str, Any] = {}
    for report in reports:
        is_record = dataclasses.is_dataclass(report) and not isinstance(report, type)
        fields = dataclasses.asdict(report) if is_record else dict(report)
        name = str(fields.pop("name", len(found)))
        found[name] = {key: _plain(value) for key, value in fields.items()}
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
