"""Prometheus metrics, counted here and written in Prometheus' text exposition format (version 0.0.4).

Each `Metrics` counts on its own, so several apps in one process (tests, replicas in a benchmark) never share or
clash over a series. The service calls the small methods below; nothing else in the core counts. `render` writes
what `/metrics` serves: three counters families, one histogram and the up gauge need a few lines, while the
prometheus_client package would load an HTTP server, WSGI and multiprocess support with it (30 modules, 1 MB of an
idle `hotpapers run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PAPER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""/paper is a cache hit in milliseconds or an arXiv fetch paced at one request every 3 s."""


@dataclass
class _Family:
    """A counter or gauge: one value per combination of label values (a series appears once it is counted)."""

    name: str
    help: str
    kind: str
    labels: tuple[str, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def add(self, amount: float, *label_values: str) -> None:
        self.values[label_values] = self.values.get(label_values, 0.0) + amount

    def lines(self) -> Iterator[str]:
        yield from _header(self.name, self.help, self.kind)
        for label_values, value in self.values.items():
            yield f"{self.name}{_labels(zip(self.labels, label_values, strict=True))} {_number(value)}"


@dataclass
class _Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf

    def observe(self, value: float) -> None:
        self.counts[next((i for i, bound in enumerate(self.buckets) if value <= bound), len(self.buckets))] += 1
        self.total += value

    def lines(self) -> Iterator[str]:
        yield from _header(self.name, self.help, "histogram")
        cumulative = 0
        for bound, count in zip((*self.buckets, math.inf), self.counts, strict=True):
            cumulative += count
            yield f"{self.name}_bucket{_labels([('le', _number(bound))])} {_number(cumulative)}"
        yield f"{self.name}_count {_number(cumulative)}"
        yield f"{self.name}_sum {_number(self.total)}"


class Metrics:
    """The bot's counters, one histogram and the up gauge."""

    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self._digests = _Family(
            "hotpapers_digests_posted_total", "Digests posted (or resumed) to a channel.", "counter", ("platform",)
        )
        self._messages = _Family(
            "hotpapers_digest_messages_total", "Digest entry messages posted.", "counter", ("platform",)
        )
        self._votes = _Family(
            "hotpapers_votes_recorded_total",
            "Vote events by outcome (recorded, ignored, …).",
            "counter",
            ("platform", "result"),
        )
        self._source_errors = _Family(
            "hotpapers_source_errors_total", "Failed calls to a paper or signal source.", "counter", ("source",)
        )
        self._job_errors = _Family(
            "hotpapers_job_errors_total", "Scheduled jobs that failed, by job kind.", "counter", ("job",)
        )
        self._paper = _Histogram("hotpapers_paper_seconds", "Latency of the /paper engine call.", PAPER_BUCKETS)
        self._up = _Family("hotpapers_up", "1 while the bot is running.", "gauge", values={(): 0.0})

    def observe_paper(self, seconds: float) -> None:
        self._paper.observe(max(seconds, 0.0))

    def digest_posted(self, platform: str, messages: int) -> None:
        """One digest finished in a channel, having posted `messages` entry messages (0 for an empty day)."""
        self._digests.add(1, platform)
        if messages > 0:
            self._messages.add(messages, platform)

    def vote(self, platform: str, result: str) -> None:
        """`result` is a small fixed vocabulary, e.g. "recorded", "removed", "ignored" (never a user id)."""
        self._votes.add(1, platform, result)

    def source_error(self, source: str) -> None:
        self._source_errors.add(1, source)

    def job_error(self, job: str) -> None:
        """A scheduler job failed; `job` is its kind ("ingest", "refresh", "digest", …), not a channel."""
        self._job_errors.add(1, job)

    def set_up(self, up: bool = True) -> None:
        self._up.values[()] = 1.0 if up else 0.0

    def render(self) -> bytes:
        """Every family in the Prometheus text exposition format (serve with `content_type`)."""
        families = (self._digests, self._messages, self._votes, self._source_errors, self._job_errors)
        lines = [*(line for family in families for line in family.lines()), *self._paper.lines(), *self._up.lines()]
        return ("\n".join(lines) + "\n").encode()


def _header(name: str, help_text: str, kind: str) -> Iterator[str]:
    escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    yield f"# HELP {name} {escaped}"
    yield f"# TYPE {name} {kind}"


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return f"{{{text}}}" if text else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
