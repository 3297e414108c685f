"""The shared JSON client under the signal sources: Retry-After parsing, dead hosts, error bodies, helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiolimiter import AsyncLimiter

from bot.domain.errors import UpstreamUnavailable
from bot.sources._http import JsonClient, UpstreamStatus, bounded_map, compact_count, parse_retry_after
from bot.sources.llm import shorten
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.json_service import RecordingSleep, quick_retry


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("Fri, 06 Mar 2026 09:00:30 GMT", 30.0),
        ("Fri, 06 Mar 2026 08:59:00 GMT", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_as_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=datetime(2026, 3, 6, 9, 0, tzinfo=UTC)) == seconds


async def test_a_host_that_refuses_connections_is_unavailable_after_bounded_retries(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeBluesky() as fake:
        dead_url = fake.url
    sleep = RecordingSleep()
    client = JsonClient(session, dead_url, service="Dead", limiter=AsyncLimiter(100, 1), retry=quick_retry(sleep))

    with pytest.raises(UpstreamUnavailable, match=r"^Dead: connection failed \(\w+\)$"):
        await client.get("anything")

    assert len(sleep.waits) == 2


async def test_a_4xx_is_not_retried_and_carries_the_services_error_name(session: aiohttp.ClientSession) -> None:
    async with FakeBluesky() as fake:
        client = JsonClient(session, fake.url, service="Bluesky", limiter=AsyncLimiter(100, 1))

        with pytest.raises(UpstreamStatus) as caught:
            await client.get("app.bsky.feed.searchPosts", params={"q": "x"})

    assert (caught.value.status, caught.value.code) == (401, "AuthMissing")
    assert str(caught.value) == "Bluesky: HTTP 401 (AuthMissing)"
    assert len(fake.requests) == 1


async def test_bounded_map_raises_our_own_error_rather_than_a_group() -> None:
    async def boom(item: int) -> int:
        if item == 2:
            raise UpstreamUnavailable("X: HTTP 503")
        return item

    assert await bounded_map(boom, [1, 3], concurrency=2) == [1, 3]
    with pytest.raises(UpstreamUnavailable, match="X: HTTP 503"):
        await bounded_map(boom, [1, 2, 3], concurrency=2)


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0"), (999, "999"), (1000, "1k"), (1234, "1.2k"), (2_500_000, "2.5M")]
)
def test_counts_are_compact_in_labels(count: int, shown: str) -> None:
    assert compact_count(count) == shown


def test_a_cut_without_a_late_sentence_end_falls_back_to_a_word_boundary() -> None:
    text = "Short. " + "word " * 40

    assert shorten(text, 80) == ("Short. " + "word " * 14).rstrip() + "…"
    assert shorten("x" * 200, 80) == "x" * 79 + "…"
