"""SignalHub with all four real sources against their loopback fakes: each source fails alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import aiohttp
import pytest

from bot.app.signals import SignalHub, SignalRefresh, SourceHealth
from bot.domain.config import SignalConfig
from bot.domain.errors import ConfigError, UpstreamUnavailable
from bot.domain.model import Paper, Signal, Summary
from bot.runtime.signal_sources import BLUESKY_NEEDS, health_before_use, hub_from_config
from tests.fakes.bluesky_server import APP_PASSWORD, HANDLE, FakeBluesky
from tests.fakes.hf_server import FEATURED_DAY, FakeHuggingFace
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.json_service import LOADED_MACHINE_TIMEOUT, RecordingSleep, quick_retry
from tests.fakes.s2_server import FakeSemanticScholar
from tests.fakes.signal_papers import FEATURED, LOOKUP_ONLY, UNKNOWN, papers

NOW = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
S2_KEY = "s2-secret-key-42"
CREDENTIALS = {"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": APP_PASSWORD, "S2_API_KEY": S2_KEY}


class FrozenClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Fakes:
    hf: FakeHuggingFace
    hn: FakeHackerNews
    bluesky: FakeBluesky
    s2: FakeSemanticScholar

    def config(
        self, timeout: float = LOADED_MACHINE_TIMEOUT, *, timeouts: Mapping[str, float] | None = None, **weights: float
    ) -> dict[str, SignalConfig]:
        urls = {"hf": self.hf.url, "hn": self.hn.url, "bluesky": self.bluesky.url, "s2": self.s2.url}
        return {
            name: SignalConfig(base_url=url, timeout=(timeouts or {}).get(name, timeout), weight=weights.get(name, 1.0))
            for name, url in urls.items()
        }


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with FakeHuggingFace() as hf, FakeHackerNews() as hn, FakeBluesky() as bluesky, FakeSemanticScholar() as s2:
        yield Fakes(hf, hn, bluesky, s2)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def build(
    fakes: Fakes,
    session: aiohttp.ClientSession,
    sleep: RecordingSleep,
    *,
    env: Mapping[str, str] = CREDENTIALS,
    timeouts: Mapping[str, float] | None = None,
) -> SignalHub:
    return hub_from_config(
        fakes.config(timeouts=timeouts), session=session, env=env, clock=FrozenClock(), retry=quick_retry(sleep)
    )


def health_of(hub: SignalHub, name: str) -> SourceHealth:
    return next(entry for entry in hub.health() if entry.name == name)


async def test_every_source_reports_readings_and_summaries_come_in_source_order(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep)

    refresh = await hub.refresh(papers(FEATURED, LOOKUP_ONLY, UNKNOWN), FEATURED_DAY)

    assert refresh.unavailable == ()
    assert {name: sorted(found) for name, found in refresh.readings.items()} == {
        "hf": [FEATURED, LOOKUP_ONLY],
        "hn": [FEATURED, LOOKUP_ONLY],
        "bluesky": [FEATURED],
        "s2": [FEATURED],
    }
    assert [s.label for s in (refresh.readings[name][FEATURED] for name in ("hf", "hn", "bluesky", "s2"))] == [
        "HF 41 · ★1.2k",
        "HN 155 pts",
        "Bluesky 70 ♥ · 2 posts",
        "S2 12 cites",
    ]
    assert [summary.source for summary in refresh.summaries[FEATURED]] == ["hf", "s2"]
    assert [summary.source for summary in refresh.summaries[LOOKUP_ONLY]] == ["hf"]
    assert fakes.s2.requests[0].headers["x-api-key"] == S2_KEY


async def test_an_hn_outage_is_a_label_while_the_other_sources_still_report(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    hub = build(fakes, session, sleep)
    fakes.hn.fail("5xx")

    with caplog.at_level(logging.WARNING, logger="bot.app.signals"):
        refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert refresh.unavailable == ("HN unavailable",)
    assert set(refresh.readings) == {"hf", "bluesky", "s2"}
    assert "signal source hn: signals failed: HN: HTTP 502" in caplog.text
    hn = health_of(hub, "hn")
    assert (hn.last_error, hn.last_error_at, hn.last_success) == ("HN: HTTP 502", NOW, None)


async def test_a_slow_source_is_cut_off_at_its_configured_timeout(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep, timeouts={"hf": 0.3})  # the others keep a timeout a loaded machine meets
    fakes.hf.fail("slow", delay=10.0)

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    # Structural: the slow fake would have answered (successfully) after 10 s; the timeout made it unavailable.
    assert refresh.unavailable == ("HF unavailable",)
    assert set(refresh.readings) == {"hn", "bluesky", "s2"}
    hf = health_of(hub, "hf")
    assert hf.last_error == "HF: timed out after 0.3s"  # the hub's deadline or the request's, whichever fires first
    assert hf.last_latency_ms is not None and 250 <= hf.last_latency_ms < 10_000  # cut off before the fake answered


async def test_a_429_with_retry_after_is_retried_and_the_source_then_reports(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep)
    fakes.hn.fail("429", times=1, retry_after="2")

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert refresh.unavailable == ()
    assert refresh.readings["hn"][FEATURED].value == 155.0
    assert 2.0 in sleep.waits


async def test_malformed_payloads_mark_only_that_source_unavailable(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep)
    fakes.s2.fail("malformed")
    fakes.hf.fail("html")

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert refresh.unavailable == ("HF unavailable", "S2 unavailable")
    assert set(refresh.readings) == {"hn", "bluesky"}
    assert health_of(hub, "s2").last_error == "S2: malformed JSON"


async def test_bluesky_without_credentials_is_disabled_with_a_note(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep, env={})

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert BLUESKY_NEEDS == "needs BLUESKY_HANDLE/BLUESKY_APP_PASSWORD"
    assert health_of(hub, "bluesky") == SourceHealth(name="bluesky", enabled=False, note=BLUESKY_NEEDS)
    assert "bluesky" not in refresh.readings and "bluesky" not in hub.weights()
    assert refresh.unavailable == ()
    assert fakes.bluesky.requests == []
    assert "x-api-key" not in fakes.s2.requests[0].headers


async def test_health_after_success_shows_when_and_how_long(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    hub = build(fakes, session, sleep)
    assert all(entry.last_success is None for entry in hub.health())

    await hub.refresh(papers(FEATURED), FEATURED_DAY)

    for entry in hub.health():
        assert (entry.enabled, entry.last_success, entry.last_error) == (True, NOW, None)
        assert entry.last_latency_ms is not None and entry.last_latency_ms > 0
    assert [entry.name for entry in hub.health()] == ["hf", "hn", "bluesky", "s2"]


async def test_logs_and_health_never_carry_secrets(
    fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**CREDENTIALS, "BLUESKY_APP_PASSWORD": "wrong-but-secret-pw"}
    hub = build(fakes, session, sleep, env=env)
    fakes.s2.fail("malformed")

    with caplog.at_level(logging.DEBUG):
        refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert refresh.unavailable == ("Bluesky unavailable", "S2 unavailable")
    shown = caplog.text + repr(hub.health())
    assert "wrong-but-secret-pw" not in shown and S2_KEY not in shown


def test_weights_and_switches_come_from_config(session: aiohttp.ClientSession) -> None:
    signals = {
        "hf": SignalConfig(weight=2.0),
        "hn": SignalConfig(weight=0.5),
        "s2": SignalConfig(enabled=False, weight=9.0),
    }

    hub = hub_from_config(signals, session=session, env={})

    assert hub.weights() == {"hf": 2.0, "hn": 0.5}
    assert health_of(hub, "s2") == SourceHealth(name="s2", enabled=False, note="disabled in config")


def test_an_unknown_source_name_is_a_config_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match=r"signals\.reddit: unknown signal source \(known: hf, hn, bluesky, s2\)"):
        hub_from_config({"reddit": SignalConfig()}, session=session, env={})
    with pytest.raises(ConfigError, match=r"signals\.reddit: unknown signal source"):
        health_before_use({"reddit": SignalConfig()}, env={})


@pytest.mark.parametrize("bluesky_env", [{}, {"BLUESKY_HANDLE": "a.bsky.social", "BLUESKY_APP_PASSWORD": "pw"}])
def test_health_before_use_is_what_a_new_hub_reports(
    session: aiohttp.ClientSession, bluesky_env: dict[str, str]
) -> None:
    """`/healthz` on an idle `run` reports the hub's health without building it: the same rows, in the same order."""
    signals = {"hn": SignalConfig(), "s2": SignalConfig(enabled=False), "bluesky": SignalConfig(), "hf": SignalConfig()}

    expected = hub_from_config(signals, session=session, env=bluesky_env).health()

    assert health_before_use(signals, env=bluesky_env) == expected
    assert [h.name for h in expected] == ["hn", "s2", "bluesky", "hf"]
    assert expected[2].enabled == bool(bluesky_env)


class ScriptedSource:
    """A SignalSource whose behaviour each test scripts (a port double, no network)."""

    name = "scripted"
    label = "Scripted"

    def __init__(
        self, *, fetch_error: Exception | None = None, summaries_error: Exception | None = None, hang: bool = False
    ) -> None:
        self.fetch_error, self.summaries_error, self.hang = fetch_error, summaries_error, hang

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        if self.hang:
            await asyncio.Event().wait()  # never set: only the hub's deadline ends this
        if self.fetch_error:
            raise self.fetch_error
        return {paper_id: Signal("scripted", 1.0, "Scripted 1", NOW) for paper_id in (FEATURED, "9999.99999")}

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        if self.summaries_error:
            raise self.summaries_error
        return {FEATURED: Summary("text", "scripted", NOW)}


async def test_a_failing_summaries_call_keeps_the_readings_and_unasked_papers_are_dropped() -> None:
    hub = SignalHub({"scripted": ScriptedSource(summaries_error=UpstreamUnavailable("Scripted: HTTP 503"))})

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert list(refresh.readings["scripted"]) == [FEATURED]
    assert refresh.summaries == {} and refresh.unavailable == ()
    assert health_of(hub, "scripted").last_error == "Scripted: HTTP 503"


async def test_a_bug_in_a_source_is_contained_and_named_by_type_only(caplog: pytest.LogCaptureFixture) -> None:
    hub = SignalHub({"scripted": ScriptedSource(fetch_error=RuntimeError("token=abc leaked in a bug"))})

    with caplog.at_level(logging.INFO, logger="bot.app.signals"):
        refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)

    assert refresh.unavailable == ("Scripted unavailable",)
    assert health_of(hub, "scripted").last_error == "unexpected RuntimeError"
    assert "signal source scripted: signals failed: unexpected RuntimeError" in caplog.text
    assert "token=abc" not in caplog.text  # the traceback, with the message, is only logged at DEBUG


async def test_the_hub_enforces_each_sources_deadline_even_if_the_source_never_returns() -> None:
    hub = SignalHub(
        {"scripted": ScriptedSource(hang=True), "other": ScriptedSource()},
        configs={"scripted": SignalConfig(timeout=0.1)},
    )

    refresh = await hub.refresh(papers(FEATURED), FEATURED_DAY)  # a hang would never return without the deadline

    assert refresh.unavailable == ("Scripted unavailable",)
    assert list(refresh.readings) == ["other"]
    assert health_of(hub, "scripted").last_error == "Scripted: timed out after 0.1s"


async def test_no_papers_means_no_requests(fakes: Fakes, session: aiohttp.ClientSession, sleep: RecordingSleep) -> None:
    hub = build(fakes, session, sleep)

    assert await hub.refresh([], FEATURED_DAY) == SignalRefresh()
    assert [fakes.hf.requests, fakes.hn.requests, fakes.bluesky.requests, fakes.s2.requests] == [[], [], [], []]


async def test_an_outage_is_logged_once_per_source_then_once_on_recovery(caplog: pytest.LogCaptureFixture) -> None:
    source = ScriptedSource(fetch_error=UpstreamUnavailable("Scripted: HTTP 503"))
    hub = SignalHub({"scripted": source})
    with caplog.at_level(logging.INFO, logger="bot.app.signals"):
        for _ in range(3):  # three cards, one outage
            await hub.refresh(papers(FEATURED), FEATURED_DAY)
        source.fetch_error = None
        await hub.refresh(papers(FEATURED), FEATURED_DAY)
        await hub.refresh(papers(FEATURED), FEATURED_DAY)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.app.signals" and r.levelno >= logging.INFO]
    assert lines == [
        "signal source scripted: signals failed: Scripted: HTTP 503 (logged once until it recovers)",
        "signal source scripted: recovered",
    ]
