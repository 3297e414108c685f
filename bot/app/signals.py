"""The popularity sources, run side by side: each with its own deadline, each failing alone.

A signal outage must never reach a user as an error: the hub turns it into a label ("HN unavailable") next to
whatever the other sources returned, logs it under the source's name, and remembers it for the health report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.domain.clock import SystemClock
from bot.domain.config import SignalConfig
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import Paper, Signal, Summary
from bot.domain.ports import Clock, SignalSource

log = logging.getLogger(__name__)


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
