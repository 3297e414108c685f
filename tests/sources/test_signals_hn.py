"""Hacker News via the Algolia search API, against a loopback fake that is as fuzzy as Algolia."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.domain.errors import UpstreamUnavailable
from bot.sources._http import mentions_id
from bot.sources.hn import HackerNewsSource
from tests.fakes.hf_server import FEATURED_DAY
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.json_service import LOADED_MACHINE_TIMEOUT, RecordingSleep, quick_retry
from tests.fakes.signal_papers import FEATURED, LOOKUP_ONLY, UNKNOWN, make_paper, papers


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeHackerNews]:
    async with FakeHackerNews() as server:
        yield server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def source(session: aiohttp.ClientSession, fake: FakeHackerNews, sleep: RecordingSleep) -> HackerNewsSource:
    return HackerNewsSource(session, fake.url, timeout=LOADED_MACHINE_TIMEOUT, retry=quick_retry(sleep))


async def test_points_of_every_story_linking_the_paper_are_summed_and_the_best_thread_is_linked(
    source: HackerNewsSource, fake: FakeHackerNews
) -> None:
    readings = await source.fetch(papers(FEATURED, LOOKUP_ONLY, UNKNOWN), FEATURED_DAY)

    assert set(readings) == {FEATURED, LOOKUP_ONLY}
    featured = readings[FEATURED]
    assert (featured.source, featured.value, featured.label) == ("hn", 155.0, "HN 155 pts")
    assert featured.url == "https://news.ycombinator.com/item?id=43210001"
    assert readings[LOOKUP_ONLY].label == "HN 0 pts"  # Algolia's null points count as none
    queries = sorted(request.query["query"] for request in fake.requests)
    assert queries == sorted([FEATURED, LOOKUP_ONLY, UNKNOWN])
    assert {(r.query["restrictSearchableAttributes"], r.query["tags"]) for r in fake.requests} == {("url", "story")}


async def test_a_typo_tolerant_hit_for_a_neighbouring_id_is_not_counted(
    source: HackerNewsSource, fake: FakeHackerNews
) -> None:
    readings = await source.fetch(papers(FEATURED), FEATURED_DAY)

    answered_urls = [hit["url"] for hit in fake.stories if FEATURED[:-1] in hit["url"]]
    assert "https://arxiv.org/abs/2602.23228" in answered_urls  # the fake did send the 900-point decoy
    assert readings[FEATURED].value == 155.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://arxiv.org/abs/2602.23229", True),
        ("https://arxiv.org/pdf/2602.23229v3.pdf", True),
        ("arXiv:2602.23229", True),
        ("https://arxiv.org/abs/2602.232291", False),
        ("https://arxiv.org/abs/12602.23229", False),
        ("https://arxiv.org/abs/2602.23228", False),
    ],
)
def test_an_id_is_matched_exactly_inside_urls(text: str, expected: bool) -> None:
    assert mentions_id(text, FEATURED) is expected


async def test_requests_run_concurrently_but_never_more_than_the_bound(
    session: aiohttp.ClientSession, fake: FakeHackerNews
) -> None:
    fake.fail("slow", delay=0.05)
    source = HackerNewsSource(session, fake.url, timeout=5, concurrency=3)
    many = [make_paper(f"2602.{n:05d}") for n in range(12)]

    assert await source.fetch(many, FEATURED_DAY) == {}

    assert len(fake.requests) == 12
    assert 2 <= fake.max_in_flight <= 3


async def test_a_persistent_outage_is_upstream_unavailable_after_bounded_retries(
    source: HackerNewsSource, fake: FakeHackerNews, sleep: RecordingSleep
) -> None:
    fake.fail("5xx")

    with pytest.raises(UpstreamUnavailable, match=r"^HN: HTTP 502$"):
        await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert len(fake.requests) == 3
    assert len(sleep.waits) == 2


async def test_a_429_with_retry_after_is_honoured(
    source: HackerNewsSource, fake: FakeHackerNews, sleep: RecordingSleep
) -> None:
    fake.fail("429", times=2, retry_after="1")

    readings = await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert readings[FEATURED].value == 155.0
    assert sleep.waits == [1.0, 1.0]


async def test_malformed_json_is_unavailable_and_junk_hits_are_ignored(
    source: HackerNewsSource, fake: FakeHackerNews
) -> None:
    fake.fail("malformed", times=1)
    with pytest.raises(UpstreamUnavailable, match="malformed JSON"):
        await source.fetch(papers(FEATURED), FEATURED_DAY)

    fake.stories = [{"url": f"https://arxiv.org/abs/{FEATURED}", "objectID": 7, "points": 10}]  # objectID not a str
    assert await source.fetch(papers(FEATURED), FEATURED_DAY) == {}


async def test_summaries_are_not_offered(source: HackerNewsSource, fake: FakeHackerNews) -> None:
    assert await source.summaries(papers(FEATURED)) == {}
    assert fake.requests == []
