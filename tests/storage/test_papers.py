"""Papers through the engine against the loopback arXiv: look-ups, versions, ingestion, summaries, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from bot.domain.errors import BadInput, BadReference, NotFound, UpstreamUnavailable
from bot.domain.model import ChannelRef, Summary
from bot.domain.ports import NullProgress
from bot.runtime.bootstrap import App
from tests.conftest import MakeApp
from tests.fakes.arxiv_server import FakeArxiv

CHANNEL = ChannelRef("console", "local", "test")
NO_SIGNALS = {name: {"enabled": False} for name in ("hf", "hn", "bluesky", "s2")}


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv() as fake:
        yield fake


@pytest.fixture
async def online(make_app: MakeApp, fake_arxiv: FakeArxiv) -> App:
    config = {
        "arxiv": {
            "api_url": fake_arxiv.api_url,
            "rss_url": fake_arxiv.rss_url,
            "delay_seconds": 0,
            "num_retries": 0,
            "timeout": 2,
        },
        "signals": NO_SIGNALS,
    }
    return await make_app(offline=False, config=config)


async def test_paper_fetches_once_from_arxiv_then_answers_from_the_store(online: App, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.add_paper("2202.12139", title="Testing Deep Learning Models", abstract="We test. We compare.")
    card = await online.service.paper("https://arxiv.org/abs/2202.12139", CHANNEL)
    again = await online.service.paper("arXiv:2202.12139", CHANNEL)
    assert card.paper.title == again.paper.title == "Testing Deep Learning Models"
    assert card.summary.source == "extractive"
    assert len(fake_arxiv.requests_to("api")) == 1


async def test_a_new_version_updates_the_paper_and_never_duplicates_it(online: App, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.add_paper("2010.00577", version=1, title="First title")
    assert (await online.service.paper("2010.00577", CHANNEL)).paper.version == 1
    fake_arxiv.add_paper("2010.00577", version=2, title="Revised title")
    card = await online.service.paper("2010.00577v2", CHANNEL)
    assert (card.paper.version, card.paper.title) == (2, "Revised title")
    async with online.uow() as uow:
        assert await uow.papers.count() == 1


async def test_an_unknown_id_is_not_found_and_a_malformed_one_makes_no_request(
    online: App, fake_arxiv: FakeArxiv
) -> None:
    with pytest.raises(NotFound, match=r"arXiv has no paper 2101\.99999"):
        await online.service.paper("2101.99999", CHANNEL)
    requests = len(fake_arxiv.requests)
    with pytest.raises(BadReference):
        await online.service.paper("not-a-paper", CHANNEL)
    assert len(fake_arxiv.requests) == requests


@pytest.mark.parametrize("fault", ["rate_limit", "unavailable", "malformed"])
async def test_arxiv_trouble_is_upstream_unavailable(online: App, fake_arxiv: FakeArxiv, fault: str) -> None:
    fake_arxiv.add_paper("2010.00577")
    fake_arxiv.fail("api", fault, times=None)  # type: ignore[arg-type]
    with pytest.raises(UpstreamUnavailable):
        await online.service.paper("2010.00577", CHANNEL)


async def test_ingest_stores_the_announcement_and_its_digest_follows(online: App, fake_arxiv: FakeArxiv) -> None:
    ids = fake_arxiv.load_sample(announce_day="2020-10-02")
    report = await online.operations.ingest(None, progress=NullProgress())
    assert report.day == date(2020, 10, 2) and report.announced == 11 and report.new_papers == 11
    assert report.requests == 2  # one feed, one batched metadata request
    digest = await online.service.digest(CHANNEL, date(2020, 10, 2))
    assert len(digest.entries) == 5 and {e.card.paper.id for e in digest.entries} <= set(ids)
    again = await online.operations.ingest(None, progress=NullProgress())
    assert (again.new_papers, again.updated_papers) == (0, 0)


async def test_ingest_on_a_weekend_stores_nothing(online: App, fake_arxiv: FakeArxiv) -> None:
    report = await online.operations.ingest(None, progress=NullProgress())
    assert report.announced == 0 and report.requests == 1


async def test_community_summary_wins_and_bad_summaries_write_nothing(app: App) -> None:
    with pytest.raises(BadInput, match="empty"):
        await app.service.add_summary("2011.02519", CHANNEL, author="ada", text=" \n\x00 ")
    with pytest.raises(BadInput, match="limit is 3000"):
        await app.service.add_summary("2011.02519", CHANNEL, author="ada", text="x" * 3001)
    with pytest.raises(BadReference):
        await app.service.add_summary("@everyone", CHANNEL, author="ada", text="fine")
    assert (await app.service.paper("2011.02519", CHANNEL)).summary.source == "extractive"
    hostile = "**Great** paper <@123> @everyone [link](http://evil)\x07 shows X."
    saved = await app.service.add_summary("2011.02519", CHANNEL, author="ada <@1>", text=hostile)
    card = await app.service.paper("2011.02519", CHANNEL)
    assert card.summary.id == saved.id and card.summary.source == "community"
    assert card.summary.text == "**Great** paper <@123> @everyone [link](http://evil) shows X."  # escaping: adapters
    assert card.summary.provenance == "Community summary by ada <@1>"


async def test_an_llm_summary_is_cached_per_version_and_model(app: App) -> None:
    async with app.uow() as uow:
        paper = await uow.papers.get("2011.02519")
        assert paper is not None
        llm = Summary("An LLM wrote this.", "llm", datetime(2020, 11, 7, tzinfo=UTC), model="tiny-1")
        await uow.summaries.add(paper.id, llm, version=paper.version)
        await uow.summaries.add(paper.id, llm, version=paper.version + 1)
        stored = await uow.summaries.for_papers([paper])
    assert [(s.source, s.model) for s in stored[paper.id]] == [("llm", "tiny-1")]


async def test_hostile_paper_text_round_trips_unchanged(app: App) -> None:
    hostile = "@everyone <!channel> **x** `y` ' OR 1=1; -- " + "é" * 10_000
    async with app.uow() as uow:
        paper = await uow.papers.get("2011.02519")
        assert paper is not None
        from dataclasses import replace

        await uow.papers.save([replace(paper, version=2, title=hostile)], now=datetime.now(UTC))
        await uow.commit()
    assert (await app.service.paper("2011.02519")).paper.title == hostile
