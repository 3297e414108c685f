"""Hugging Face Daily Papers against a loopback fake: upvotes, stars, ai_summary, and every way it can fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.domain.errors import UpstreamUnavailable
from bot.sources.hf import HuggingFaceSource
from tests.fakes.hf_server import FEATURED_DAY, FakeHuggingFace
from tests.fakes.json_service import LOADED_MACHINE_TIMEOUT, RecordingSleep, quick_retry
from tests.fakes.signal_papers import DAILY_ONLY, FEATURED, LOOKUP_ONLY, OLD_STYLE, UNKNOWN, papers

NOW = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


class FrozenClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeHuggingFace]:
    async with FakeHuggingFace() as server:
        yield server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def source(session: aiohttp.ClientSession, fake: FakeHuggingFace, sleep: RecordingSleep) -> HuggingFaceSource:
    return HuggingFaceSource(
        session, fake.url, timeout=LOADED_MACHINE_TIMEOUT, retry=quick_retry(sleep), clock=FrozenClock()
    )


async def test_upvotes_come_from_the_daily_list_and_from_lookups_for_papers_not_on_it(
    source: HuggingFaceSource, fake: FakeHuggingFace
) -> None:
    readings = await source.fetch(papers(FEATURED, DAILY_ONLY, LOOKUP_ONLY, UNKNOWN), FEATURED_DAY)

    assert {paper_id: signal.value for paper_id, signal in readings.items()} == {
        FEATURED: 41.0,
        DAILY_ONLY: 7.0,
        LOOKUP_ONLY: 3.0,
    }
    assert readings[FEATURED].label == "HF 41 · ★1.2k"
    assert readings[DAILY_ONLY].label == "HF 7"
    assert readings[LOOKUP_ONLY].label == "HF 3"  # zero stars are not worth a mention
    assert readings[FEATURED].url == f"https://huggingface.co/papers/{FEATURED}"
    assert readings[FEATURED].fetched_at == NOW
    daily = fake.requests_to("/daily_papers")
    assert [request.query["date"] for request in daily] == ["2026-03-06"]
    assert sorted(request.path for request in fake.requests_to("/papers/")) == [
        f"/api/papers/{UNKNOWN}",
        f"/api/papers/{LOOKUP_ONLY}",
    ]


async def test_old_style_ids_are_not_looked_up_because_hf_does_not_index_them(
    source: HuggingFaceSource, fake: FakeHuggingFace
) -> None:
    assert await source.fetch(papers(OLD_STYLE), FEATURED_DAY) == {}
    assert fake.requests_to("/papers/") == []


async def test_ai_summary_becomes_a_cleaned_hf_summary_without_new_requests_after_fetch(
    source: HuggingFaceSource, fake: FakeHuggingFace
) -> None:
    wanted = papers(FEATURED, DAILY_ONLY, LOOKUP_ONLY)
    await source.fetch(wanted, FEATURED_DAY)
    before = len(fake.requests)

    summaries = await source.summaries(wanted)

    assert len(fake.requests) == before
    assert set(summaries) == {FEATURED, LOOKUP_ONLY}
    featured = summaries[FEATURED]
    assert featured.text.startswith("Large Multimodal Models demonstrate superior performance")
    assert "\n" not in featured.text and "  " not in featured.text
    assert (featured.source, featured.model, featured.created) == ("hf", "Hugging Face", NOW)


async def test_summaries_alone_look_the_paper_up(source: HuggingFaceSource, fake: FakeHuggingFace) -> None:
    summaries = await source.summaries(papers(LOOKUP_ONLY))

    assert summaries[LOOKUP_ONLY].text.startswith("Influence matching distils a dataset")
    assert [request.path for request in fake.requests] == [f"/api/papers/{LOOKUP_ONLY}"]


async def test_a_day_without_featured_papers_gives_no_readings(source: HuggingFaceSource) -> None:
    assert await source.fetch(papers(UNKNOWN), datetime(2026, 3, 7).date()) == {}


async def test_429_with_retry_after_is_waited_out_then_retried(
    source: HuggingFaceSource, fake: FakeHuggingFace, sleep: RecordingSleep
) -> None:
    fake.fail("429", times=1, retry_after="3", path="/daily_papers")

    readings = await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert readings[FEATURED].value == 41.0
    assert sleep.waits == [3.0]
    assert len(fake.requests_to("/daily_papers")) == 2


async def test_retry_after_is_capped(source: HuggingFaceSource, fake: FakeHuggingFace, sleep: RecordingSleep) -> None:
    fake.fail("429", times=1, retry_after="86400", path="/daily_papers")

    await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert sleep.waits == [10.0]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("malformed", "HF: malformed JSON"), ("html", "HF: answered text/html, not JSON"), ("5xx", "HF: HTTP 502")],
)
async def test_a_broken_answer_is_upstream_unavailable_naming_hf(
    source: HuggingFaceSource, fake: FakeHuggingFace, kind: str, message: str
) -> None:
    fake.fail(kind)  # type: ignore[arg-type]

    with pytest.raises(UpstreamUnavailable) as caught:
        await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert str(caught.value) == message


async def test_a_5xx_is_retried_a_bounded_number_of_times(
    source: HuggingFaceSource, fake: FakeHuggingFace, sleep: RecordingSleep
) -> None:
    fake.fail("5xx")

    with pytest.raises(UpstreamUnavailable):
        await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert len(fake.requests) == 3
    assert len(sleep.waits) == 2 and all(0 < wait <= 2.0 for wait in sleep.waits)


async def test_a_daily_answer_of_the_wrong_shape_is_unavailable_and_junk_entries_are_skipped(
    source: HuggingFaceSource, fake: FakeHuggingFace
) -> None:
    day = FEATURED_DAY.isoformat()
    fake.daily[day] = [
        None,
        "x",
        {"paper": {"id": FEATURED, "upvotes": "many"}},
        {"paper": {"id": DAILY_ONLY, "upvotes": 5}},
    ]
    assert {k: s.value for k, s in (await source.fetch(papers(DAILY_ONLY), FEATURED_DAY)).items()} == {DAILY_ONLY: 5.0}

    fake.daily[day] = {"papers": []}  # type: ignore[assignment]
    with pytest.raises(UpstreamUnavailable, match="did not return a list"):
        await source.fetch(papers(DAILY_ONLY), FEATURED_DAY)
