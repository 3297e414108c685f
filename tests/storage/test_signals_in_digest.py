"""Signals through the whole engine, on SQLite and PostgreSQL: ingest → snapshots → why-lines; a source down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from bot.domain.model import ChannelRef
from bot.domain.ports import NullProgress
from bot.runtime.bootstrap import App
from tests.conftest import MakeApp
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.hf_server import FEATURED_DAY, FakeHuggingFace
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.signal_papers import DAILY_ONLY, FEATURED, LOOKUP_ONLY

CHANNEL = ChannelRef("slack", "T1", "C1")


@pytest.fixture
async def online(make_app: MakeApp) -> AsyncIterator[tuple[App, FakeHackerNews]]:
    async with FakeArxiv() as arxiv, FakeHuggingFace() as hf, FakeHackerNews() as hn:
        arxiv.rss_day = FEATURED_DAY
        for paper_id in (FEATURED, DAILY_ONLY, LOOKUP_ONLY):
            arxiv.add_paper(paper_id, title=f"Paper {paper_id}", abstract="We propose a method. It works well.")
            arxiv.announce(paper_id)
        config = {
            "arxiv": {"api_url": arxiv.api_url, "rss_url": arxiv.rss_url, "delay_seconds": 0, "num_retries": 0},
            "signals": {
                "hf": {"base_url": hf.url, "timeout": 2},
                "hn": {"base_url": hn.url, "timeout": 2, "weight": 0.7},
            },
        }
        app = await make_app(offline=False, config=config)
        await app.operations.ingest(None, progress=NullProgress())
        yield app, hn


async def test_why_lines_combine_several_sources(online: tuple[App, FakeHackerNews]) -> None:
    app, _ = online
    digest = await app.service.digest(CHANNEL, FEATURED_DAY)
    top = digest.entries[0].card
    assert top.paper.id == FEATURED
    assert any(term.startswith("HF 41") for term in top.why) and any(term.startswith("HN ") for term in top.why)
    assert {s.source for s in top.signals} == {"hf", "hn"}
    assert top.summary.source == "hf" and top.summary.provenance.startswith("Hugging Face AI summary")


async def test_a_source_that_is_down_is_named_and_ranking_goes_on(online: tuple[App, FakeHackerNews]) -> None:
    app, hn = online
    hn.fail("5xx")
    await app.operations.refresh_signals(FEATURED_DAY)
    digest = await app.service.digest(CHANNEL, FEATURED_DAY)
    assert digest.entries[0].card.paper.id == FEATURED
    assert all("HN unavailable" in e.card.why for e in digest.entries)
    assert digest.entries[0].card.unavailable == ("HN unavailable",)
    health = {h.name: h for h in await app.operations.probe_signals()}
    assert health["hn"].failing and not health["hf"].failing and health["hf"].last_latency_ms is not None
    hn.heal()
    await app.operations.refresh_signals(FEATURED_DAY)
    assert "HN unavailable" not in (await app.service.digest(CHANNEL, FEATURED_DAY)).entries[0].card.why


async def test_refresh_keeps_timestamped_snapshots(online: tuple[App, FakeHackerNews]) -> None:
    app, _ = online
    stored = await app.operations.refresh_signals(date(2026, 3, 6))
    assert stored >= 3
    card = await app.service.paper(FEATURED, CHANNEL)
    assert {s.source for s in card.signals} == {"hf", "hn"}
