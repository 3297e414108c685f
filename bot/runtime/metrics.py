"""Prometheus metrics on a registry of their own.

Each `Metrics` owns its `CollectorRegistry` instead of using prometheus_client's global one, so several apps in one
process (tests, replicas in a benchmark) never clash over "Duplicated timeseries". The service calls the small
methods below; nothing else in the core touches prometheus_client.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PAPER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""/paper is a cache hit in milliseconds or an arXiv fetch paced at one request every 3 s."""


class Metrics:
    """The bot's counters, one histogram and the up gauge."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._digests = Counter(
            "hotpapers_digests_posted_total", "Digests posted (or resumed) to a channel.", ["platform"], registry=r
        )
        self._messages = Counter(
            "hotpapers_digest_messages_total", "Digest entry messages posted.", ["platform"], registry=r
        )
        self._votes = Counter(
            "hotpapers_votes_recorded_total",
            "Vote events by outcome (recorded, ignored, …).",
            ["platform", "result"],
            registry=r,
        )
        self._source_errors = Counter(
            "hotpapers_source_errors_total", "Failed calls to a paper or signal source.", ["source"], registry=r
        )
        self._job_errors = Counter(
            "hotpapers_job_errors_total", "Scheduled jobs that failed, by job kind.", ["job"], registry=r
        )
        self._paper = Histogram(
            "hotpapers_paper_seconds", "Latency of the /paper engine call.", buckets=PAPER_BUCKETS, registry=r
        )
        self._up = Gauge("hotpapers_up", "1 while the bot is running.", registry=r)

    def observe_paper(self, seconds: float) -> None:
        self._paper.observe(max(seconds, 0.0))

    def digest_posted(self, platform: str, messages: int) -> None:
        """One digest finished in a channel, having posted `messages` entry messages (0 for an empty day)."""
        self._digests.labels(platform=platform).inc()
        if messages > 0:
            self._messages.labels(platform=platform).inc(messages)

    def vote(self, platform: str, result: str) -> None:
        """`result` is a small fixed vocabulary, e.g. "recorded", "removed", "ignored" (never a user id)."""
        self._votes.labels(platform=platform, result=result).inc()

    def source_error(self, source: str) -> None:
        self._source_errors.labels(source=source).inc()

    def job_error(self, job: str) -> None:
        """A scheduler job failed; `job` is its kind ("ingest", "refresh", "digest", …), not a channel."""
        self._job_errors.labels(job=job).inc()

    def set_up(self, up: bool = True) -> None:
        self._up.set(1 if up else 0)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format (serve with `content_type`)."""
        return generate_latest(self.registry)
