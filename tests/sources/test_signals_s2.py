"""Semantic Scholar batch lookups against a loopback fake: citations, TLDRs, nulls, keys and S2's own 429."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiolimiter import AsyncLimiter
from pydantic import SecretStr

from bot.domain.errors import UpstreamUnavailable
from bot.sources.semantic_scholar import SemanticScholarSource
from tests.fakes.hf_server import FEATURED_DAY
from tests.fakes.json_service import LOADED_MACHINE_TIMEOUT, RecordingSleep, quick_retry
from tests.fakes.s2_server import FakeSemanticScholar
from tests.fakes.signal_papers import DAILY_ONLY, FEATURED, OLD_STYLE, UNKNOWN, papers


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeSemanticScholar]:
    async with FakeSemanticScholar() as server:
        yield server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def source(session: aiohttp.ClientSession, fake: FakeSemanticScholar, sleep: RecordingSleep) -> SemanticScholarSource:
    # S2's real pace (1 request/s) is tested on its own below; here it would only slow the suite down.
    return SemanticScholarSource(
        session, fake.url, timeout=LOADED_MACHINE_TIMEOUT, retry=quick_retry(sleep), limiter=AsyncLimiter(100, 1)
    )


async def test_one_batch_request_gives_citation_counts_and_unknown_papers_are_absent(
    source: SemanticScholarSource, fake: FakeSemanticScholar
) -> None:
    readings = await source.fetch(papers(FEATURED, DAILY_ONLY, UNKNOWN, OLD_STYLE), FEATURED_DAY)

    assert {paper_id: signal.label for paper_id, signal in readings.items()} == {
        FEATURED: "S2 12 cites",
        DAILY_ONLY: "S2 0 cites",
    }
    assert readings[FEATURED].value == 12.0
    assert readings[FEATURED].url == f"https://www.semanticscholar.org/arxiv/{FEATURED}"
    [request] = fake.requests
    assert request.method == "POST"
    assert request.query["fields"] == "citationCount,tldr"
    assert request.json() == {
        "ids": [f"ArXiv:{FEATURED}", f"ArXiv:{DAILY_ONLY}", f"ArXiv:{UNKNOWN}", f"ArXiv:{OLD_STYLE}"]
    }
    assert "x-api-key" not in request.headers


async def test_tldrs_become_summaries_from_the_cached_batch(
    source: SemanticScholarSource, fake: FakeSemanticScholar
) -> None:
    wanted = papers(FEATURED, DAILY_ONLY, UNKNOWN)
    await source.fetch(wanted, FEATURED_DAY)

    summaries = await source.summaries(wanted)

    assert len(fake.requests) == 1
    assert set(summaries) == {FEATURED}
    tldr = summaries[FEATURED]
    assert tldr.text.startswith("Large multimodal models, prompted with a few examples")
    assert (tldr.source, tldr.model) == ("s2", "Semantic Scholar TLDR")


async def test_the_api_key_is_sent_as_x_api_key(session: aiohttp.ClientSession, fake: FakeSemanticScholar) -> None:
    source = SemanticScholarSource(session, fake.url, api_key=SecretStr("s2-key-123"))

    await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert fake.requests[0].headers["x-api-key"] == "s2-key-123"


async def test_s2_429_without_retry_after_backs_off_exponentially_then_succeeds(
    source: SemanticScholarSource, fake: FakeSemanticScholar, sleep: RecordingSleep
) -> None:
    fake.fail("429", times=2)

    readings = await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert readings[FEATURED].value == 12.0
    assert len(fake.requests) == 3
    assert len(sleep.waits) == 2 and all(0 < wait <= 2.0 for wait in sleep.waits)


async def test_an_answer_that_does_not_match_the_request_is_unavailable(
    source: SemanticScholarSource, fake: FakeSemanticScholar
) -> None:
    fake.fail("html", times=1)
    with pytest.raises(UpstreamUnavailable, match="S2: answered text/html"):
        await source.fetch(papers(FEATURED), FEATURED_DAY)

    fake.fail("malformed", times=1)
    with pytest.raises(UpstreamUnavailable, match="S2: malformed JSON"):
        await source.fetch(papers(FEATURED), FEATURED_DAY)


async def test_a_junk_entry_is_treated_as_unknown(source: SemanticScholarSource, fake: FakeSemanticScholar) -> None:
    fake.papers[f"arxiv:{FEATURED}"] = {"paperId": "x", "citationCount": "lots", "tldr": {"text": 5}}

    assert await source.fetch(papers(FEATURED), FEATURED_DAY) == {}
    assert await source.summaries(papers(FEATURED)) == {}


async def test_more_than_500_papers_are_split_into_batches(
    source: SemanticScholarSource, fake: FakeSemanticScholar
) -> None:
    many = papers(*(f"2601.{n:05d}" for n in range(501)))

    assert await source.fetch(many, FEATURED_DAY) == {}

    assert [len(request.json()["ids"]) for request in fake.requests] == [500, 1]


async def test_requests_are_paced_by_the_client_side_rate_limit(
    session: aiohttp.ClientSession, fake: FakeSemanticScholar
) -> None:
    source = SemanticScholarSource(session, fake.url, limiter=AsyncLimiter(1, 0.2))
    many = papers(*(f"2601.{n:05d}" for n in range(1001)))
    started = time.monotonic()

    await source.fetch(many, FEATURED_DAY)

    assert len(fake.requests) == 3
    assert time.monotonic() - started >= 0.35  # three requests at one per 0.2 s: two waits
