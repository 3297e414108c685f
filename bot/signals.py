"""The popularity sources, run side by side: each with its own deadline, each failing alone.

A signal outage must never reach a user as an error: the hub turns it into a label ("HN unavailable") next to
whatever the other sources returned, logs it under the source's name, and remembers it for the health report.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import aiohttp
from pydantic import SecretStr

from bot.clock import SystemClock
from bot.config import SignalConfig
from bot.errors import ConfigError, UpstreamUnavailable
from bot.model import Paper, Signal, Summary
from bot.ports import Clock, SignalSource
from bot.sources import bluesky, hf, hn, semantic_scholar
from bot.sources._http import RetryPolicy

log = logging.getLogger(__name__)

BLUESKY_HANDLE_ENV = "BLUESKY_HANDLE"
BLUESKY_PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
S2_KEY_ENV = "S2_API_KEY"
BLUESKY_NEEDS = f"needs {BLUESKY_HANDLE_ENV}/{BLUESKY_PASSWORD_ENV}"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    enabled: bool
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_latency_ms: float | None = None
    note: str | None = None
    failing: bool = False
    """The latest attempt failed."""


@dataclass(frozen=True, slots=True)
class SignalRefresh:
    """Readings by source then paper id, summaries by paper id (in source order), and labels of sources that failed."""

    readings: dict[str, dict[str, Signal]] = field(default_factory=dict)
    summaries: dict[str, list[Summary]] = field(default_factory=dict)
    unavailable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Context:
    session: aiohttp.ClientSession
    config: SignalConfig
    env: Mapping[str, str]
    clock: Clock
    retry: RetryPolicy | None


class SignalHub:
    """The enabled sources with their weights and timeouts, plus what we last saw of each."""

    def __init__(
        self,
        sources: Mapping[str, SignalSource],
        *,
        configs: Mapping[str, SignalConfig] | None = None,
        disabled: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._sources = dict(sources)
        self._configs = {name: (configs or {}).get(name) or SignalConfig() for name in self._sources}
        self._clock = clock or SystemClock()
        self.on_error: Callable[[str], None] = lambda name: None
        """Told the name of each source that fails (the Prometheus error counter)."""
        notes = dict(disabled or {})
        self._health: dict[str, SourceHealth] = {}
        self._reported: set[str] = set()
        """Sources whose current outage was logged: one warning per outage, then one line when it recovers."""
        for name in dict.fromkeys([*(configs or {}), *self._sources, *notes]):
            if name in self._sources:
                self._health[name] = SourceHealth(name=name, enabled=True)
            elif name in notes:
                self._health[name] = SourceHealth(name=name, enabled=False, note=notes[name])

    @classmethod
    def from_config(
        cls,
        signals: Mapping[str, SignalConfig],
        *,
        session: aiohttp.ClientSession,
        env: Mapping[str, str] = os.environ,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
    ) -> SignalHub:
        """Build the sources named in `[signals.<name>]`; a section that is off, or lacks its secrets, is noted."""
        hub_clock: Clock = clock or SystemClock()
        sources: dict[str, SignalSource] = {}
        disabled: dict[str, str] = {}
        for name, config in signals.items():
            builder = _BUILDERS.get(name)
            if builder is None:
                known = ", ".join(_BUILDERS)
                raise ConfigError(f"signals.{name}: unknown signal source (known: {known})")
            if not config.enabled:
                disabled[name] = "disabled in config"
                continue
            built = builder(_Context(session, config, env, hub_clock, retry))
            if isinstance(built, str):
                disabled[name] = built
            else:
                sources[name] = built
        return cls(sources, configs=signals, disabled=disabled, clock=hub_clock)

    def weights(self) -> dict[str, float]:
        return {name: self._configs[name].weight for name in self._sources}

    def health(self) -> list[SourceHealth]:
        return list(self._health.values())

    def unavailable(self) -> tuple[str, ...]:
        """Labels ("HN unavailable") of enabled sources whose latest attempt failed."""
        return tuple(
            f"{self._sources[h.name].label} unavailable"
            for h in self._health.values()
            if h.enabled and h.name in self._sources and h.failing
        )

    async def refresh(self, papers: Sequence[Paper], day: date) -> SignalRefresh:
        """Every enabled source at once for these papers; failures become `unavailable` labels, never exceptions."""
        if not papers or not self._sources:
            return SignalRefresh()
        names = list(self._sources)
        outcomes = await asyncio.gather(*(self._run(name, papers, day) for name in names))
        wanted = {paper.id for paper in papers}
        refresh = SignalRefresh()
        unavailable = []
        for name, (readings, summaries) in zip(names, outcomes, strict=True):
            if readings is None:
                unavailable.append(f"{self._sources[name].label} unavailable")
                continue
            refresh.readings[name] = {pid: signal for pid, signal in readings.items() if pid in wanted}
            for paper_id, summary in summaries.items():
                if paper_id in wanted:
                    refresh.summaries.setdefault(paper_id, []).append(summary)
        return replace(refresh, unavailable=tuple(unavailable))

    async def _run(
        self, name: str, papers: Sequence[Paper], day: date
    ) -> tuple[Mapping[str, Signal] | None, Mapping[str, Summary]]:
        source, timeout = self._sources[name], self._configs[name].timeout
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                readings = await source.fetch(papers, day)
        except Exception as error:
            self._failed(name, error, started, timeout)
            return None, {}
        self._succeeded(name, started)
        try:
            async with asyncio.timeout(timeout):
                return readings, await source.summaries(papers)
        except Exception as error:
            self._failed(name, error, started, timeout, what="summaries")
            return readings, {}

    def _succeeded(self, name: str, started: float) -> None:
        latency = (time.monotonic() - started) * 1000
        if name in self._reported:
            self._reported.discard(name)
            log.info("signal source %s: recovered", name)
        self._health[name] = replace(
            self._health[name], last_success=self._clock.now(), last_latency_ms=latency, failing=False
        )

    def _failed(self, name: str, error: Exception, started: float, timeout: float, *, what: str = "signals") -> None:
        self.on_error(name)
        latency = (time.monotonic() - started) * 1000
        expected = isinstance(error, UpstreamUnavailable | TimeoutError)
        if isinstance(error, TimeoutError):
            reason = f"{self._sources[name].label}: timed out after {timeout:g}s"
        elif isinstance(error, UpstreamUnavailable):
            reason = str(error)
        else:
            reason = f"unexpected {type(error).__name__}"
        # Our own messages name the service and the status only. A bug's message could hold anything (a token in a
        # URL, a header), so the warning names its type and the traceback goes to DEBUG for whoever is debugging.
        if name not in self._reported:  # once per outage and source, not once per card
            self._reported.add(name)
            log.warning("signal source %s: %s failed: %s (logged once until it recovers)", name, what, reason)
        else:
            log.debug("signal source %s: %s failed again: %s", name, what, reason)
        if not expected:
            log.debug("signal source %s: traceback of the unexpected failure", name, exc_info=error)
        self._health[name] = replace(
            self._health[name],
            last_error=reason,
            last_error_at=self._clock.now(),
            last_latency_ms=latency,
            failing=True,
        )


def _hf(ctx: _Context) -> SignalSource:
    base = ctx.config.base_url or hf.DEFAULT_BASE_URL
    return hf.HuggingFaceSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _hn(ctx: _Context) -> SignalSource:
    base = ctx.config.base_url or hn.DEFAULT_BASE_URL
    return hn.HackerNewsSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _bluesky(ctx: _Context) -> SignalSource | str:
    handle, password = ctx.env.get(BLUESKY_HANDLE_ENV), ctx.env.get(BLUESKY_PASSWORD_ENV)
    if not handle or not password:
        return BLUESKY_NEEDS
    return bluesky.BlueskySource(
        ctx.session,
        ctx.config.base_url or bluesky.DEFAULT_BASE_URL,
        handle=handle,
        app_password=SecretStr(password),
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


def _s2(ctx: _Context) -> SignalSource:
    key = ctx.env.get(S2_KEY_ENV)
    return semantic_scholar.SemanticScholarSource(
        ctx.session,
        ctx.config.base_url or semantic_scholar.DEFAULT_BASE_URL,
        api_key=SecretStr(key) if key else None,
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


_BUILDERS: dict[str, Callable[[_Context], SignalSource | str]] = {"hf": _hf, "hn": _hn, "bluesky": _bluesky, "s2": _s2}
