"""`hotpapers run` and `hotpapers status`: the long-running service around the engine.

Adapters are loaded by module name only (the core never imports a platform library). Each enabled adapter runs as
a task that registers its Publisher in `publishers`; the scheduler posts through whichever is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING

from bot.domain.channel_settings import DAY_NAMES
from bot.domain.config import Config
from bot.domain.errors import ConfigError
from bot.domain.ports import Publisher
from bot.runtime import collector
from bot.runtime.bootstrap import App, build
from bot.runtime.health import HealthSettings, database_probe, start_health_server
from bot.runtime.logging_setup import configure_logging
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import DigestScheduler, SchedulerSettings
from bot.runtime.sections import console_log

if TYPE_CHECKING:  # rich only for `status` and a console publisher: an idle `run` does not carry it
    from rich.console import Console

    from bot.web.server import WebServer

log = logging.getLogger(__name__)
PLATFORMS = ("discord", "slack")


def _enabled_adapters(config: Config, adapters: Mapping[str, str]) -> dict[str, ModuleType]:
    modules = {}
    for name in PLATFORMS:
        if not getattr(config, name).get("enabled", False):
            continue
        try:
            modules[name] = importlib.import_module(adapters[name])
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"[{name}] is enabled but {error.name} is missing: pip install 'hotpapers[{name}]'"
            ) from None
    return modules


async def run(config: Config, *, adapters: Mapping[str, str], ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM / SIGINT: adapters, scheduler, health server. A stop finishes the message in flight."""
    configure_logging(config.logging)
    scheduler_settings = SchedulerSettings.from_config(config)
    health_settings = HealthSettings.from_config(config)
    modules = _enabled_adapters(config, adapters)
    metrics = Metrics()
    async with await build(config, metrics=metrics) as app:
        publishers: dict[str, Publisher] = {}
        if config.console.get("enabled", False):
            from rich.console import Console

            console_adapter = importlib.import_module(adapters["console"] + ".publisher")
            publishers["console"] = console_adapter.ConsolePublisher(Console(), log=console_log(config))
        scheduler = DigestScheduler(
            app.operations, app.service, config=config, clock=app.clock, publisher_for=publishers.get, metrics=metrics
        )
        app.service.on_settings_changed(scheduler.on_settings_changed)
        server = None
        if health_settings.enabled:
            server = await start_health_server(
                health_settings,
                metrics=metrics,
                check_database=database_probe(app.engine),
                signal_health=app.signal_health,
            )
        web_server = await _start_web(config, app)
        tasks = {
            asyncio.create_task(
                module.run(app.service, getattr(config, name), config=config, publishers=publishers, engine=app.engine),
                name=name,
            )
            for name, module in modules.items()
        }
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stopper = asyncio.create_task(stop.wait(), name="stop")
        try:
            if not modules and "console" not in publishers:
                log.warning(
                    "no adapter is enabled ([discord] or [slack] enabled = true): digests are posted nowhere; "
                    "only ingest and signal refreshes run"
                )
            if not await _adapters_started(tasks, publishers, stopper):
                return
            if scheduler_settings.enabled:
                scheduler.start()
            metrics.set_up()
            collector.settle()
            log.info(
                "hotpapers running: adapters %s, scheduler %s", sorted(modules) or "none", scheduler_settings.enabled
            )
            if ready is not None:
                ready.set()
            done, _ = await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopper}:
                task.result()  # an adapter that failed (e.g. a rejected token) ends the run with its error
        finally:
            log.info("hotpapers stopping: finishing the message in flight and releasing claims")
            stopper.cancel()
            await app.service.stop()
            metrics.set_up(False)
            await scheduler.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if server is not None:
                await server.stop()
            if web_server is not None:
                await web_server.stop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signum)


async def _start_web(config: Config, app: App) -> WebServer | None:
    """The channel pages (issue 20) on their own `[web] host:port`, when `[web] enabled = true`."""
    from bot.domain.web_settings import WebSettings

    settings = WebSettings.from_config(config)
    if not settings.enabled:
        return None
    from bot.web.archive import ChannelArchive
    from bot.web.server import start_web_server

    return await start_web_server(settings, ChannelArchive(app.uow))


async def _adapters_started(
    tasks: set[asyncio.Task[None]], publishers: Mapping[str, Publisher], stopper: asyncio.Task[bool]
) -> bool:
    """Wait until every adapter is up (it registered its publisher), so "running" is logged only once start-up
    succeeded. An adapter that fails to start raises its error here (one line, e.g. a rejected token); False
    when a stop signal came first."""
    waiting = set(tasks)
    while waiting:
        for task in [t for t in waiting if t.done()]:
            task.result()  # its error ends the run
            waiting.discard(task)  # returned without serving (disabled in its own table)
        waiting = {task for task in waiting if task.get_name() not in publishers}
        if not waiting:
            break
        await asyncio.wait({*waiting, stopper}, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
        if stopper.done():
            return False
    return True


async def print_status(config: Config, console: Console) -> None:
    """Subscriptions with their next run and last digest, then each signal source's configuration and state."""
    from rich.table import Table
    from rich.text import Text

    async with await build(config) as app:
        scheduler = DigestScheduler(
            app.operations, app.service, config=config, clock=app.clock, publisher_for=lambda _: None
        )
        await scheduler.resync()
        next_runs = dict(scheduler.next_runs())
        subscriptions = await app.operations.subscriptions()
        last = await app.operations.last_digests()
        health = app.signal_health()
    table = Table(title=f"Subscriptions ({len(subscriptions)})", expand=False)
    for column in ("channel", "schedule", "filters", "next run", "last digest"):
        table.add_column(column)
    for channel, settings in subscriptions:
        days = ",".join(DAY_NAMES[d] for d in settings.weekdays)
        filters = ", ".join(settings.categories) or "all categories"
        status = last.get(channel)
        last_text = (
            f"{status.day} {status.state}" + (f" ({status.last_error[:40]})" if status.last_error else "")
            if status
            else "never"
        )
        when = next_runs.get(f"digest {channel.key}")
        if settings.paused is not None:
            last_text += f"\nPAUSED since {settings.paused.since:%Y-%m-%d %H:%M} UTC: {settings.paused.reason}"
            last_text += f"\nto fix it: {settings.paused.fix}"
        table.add_row(
            Text(channel.name or channel.key) if channel.name else Text(channel.key),
            f"top {settings.top_n} at {settings.post_time} {settings.timezone} {days}",
            Text(filters),
            f"{when:%Y-%m-%d %H:%M %Z}" if when else "—",
            Text(last_text),
        )
    console.print(table)
    jobs = Table(title="Jobs", expand=False)
    jobs.add_column("job")
    jobs.add_column("next run")
    for name, when in sorted(next_runs.items()):
        if not name.startswith("digest "):
            jobs.add_row(name, f"{when:%Y-%m-%d %H:%M %Z}" if when else "—")
    console.print(jobs)
    sources = [f"{h.name}: {'on' if h.enabled else 'off'}{f' ({h.note})' if h.note else ''}" for h in health]
    console.print(Text("Signal sources: " + ("; ".join(sources) or "none configured")))
