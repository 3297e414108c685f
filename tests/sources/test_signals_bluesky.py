"""Bluesky post search against a loopback PDS: login, URL forms, dedupe by uri, token expiry and bad credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiolimiter import AsyncLimiter
from pydantic import SecretStr

from bot.domain.errors import UpstreamUnavailable
from bot.sources.bluesky import BlueskySource, search_queries
from tests.fakes.bluesky_server import APP_PASSWORD, HANDLE, FakeBluesky
from tests.fakes.hf_server import FEATURED_DAY
from tests.fakes.json_service import LOADED_MACHINE_TIMEOUT, RecordingSleep, quick_retry
from tests.fakes.signal_papers import FEATURED, UNKNOWN, make_paper, papers


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


def make_source(session: aiohttp.ClientSession, fake: FakeBluesky, *, password: str = APP_PASSWORD) -> BlueskySource:
    return BlueskySource(
        session,
        fake.url,
        handle=HANDLE,
        app_password=SecretStr(password),
        timeout=LOADED_MACHINE_TIMEOUT,
        retry=quick_retry(RecordingSleep()),
        limiter=AsyncLimiter(100, 1),
    )


async def test_engagement_of_distinct_posts_is_summed_and_the_top_post_is_linked(
    session: aiohttp.ClientSession, fake: FakeBluesky
) -> None:
    readings = await make_source(session, fake).fetch(papers(FEATURED, UNKNOWN), FEATURED_DAY)

    assert set(readings) == {FEATURED}
    signal = readings[FEATURED]
    # (40 + 12 + 2 + 3) from the abs-link post, found twice, + (9 + 3 + 0 + 1) from the HF-link post; the fuzzy
    # text search also returned a 605-engagement post about 2602.23228, which must not count.
    assert (signal.source, signal.value) == ("bluesky", 70.0)
    assert signal.label == "Bluesky 70 ♥ · 2 posts"
    assert signal.url == "https://bsky.app/profile/mlresearcher.bsky.social/post/3lhxyzabc2k2a"


async def test_it_logs_in_once_and_searches_every_url_form_with_the_bearer_token(
    session: aiohttp.ClientSession, fake: FakeBluesky
) -> None:
    await make_source(session, fake).fetch(papers(FEATURED, UNKNOWN), FEATURED_DAY)

    [login] = fake.requests_to("createSession")
    assert login.json() == {"identifier": HANDLE, "password": APP_PASSWORD}
    searches = fake.requests_to("searchPosts")
    assert len(searches) == 2 * len(search_queries(make_paper(FEATURED)))
    assert {request.headers["Authorization"] for request in searches} == {
        "Bearer eyJhbGciOiJFUzI1NksifQ.access-1.signature"
    }
    featured_urls = {r.query["url"] for r in searches if "url" in r.query and FEATURED in r.query["url"]}
    assert featured_urls == {
        f"https://arxiv.org/abs/{FEATURED}",
        f"https://arxiv.org/pdf/{FEATURED}",
        f"https://arxiv.org/abs/{FEATURED}v1",
        f"https://huggingface.co/papers/{FEATURED}",
        f"https://alphaxiv.org/abs/{FEATURED}",
    }
    assert f'"{FEATURED}"' in {request.query["q"] for request in searches}


async def test_an_expired_token_earns_one_new_login(session: aiohttp.ClientSession, fake: FakeBluesky) -> None:
    source = make_source(session, fake)
    await source.fetch(papers(UNKNOWN), FEATURED_DAY)
    fake.expire_tokens()

    readings = await source.fetch(papers(FEATURED), FEATURED_DAY)

    assert readings[FEATURED].value == 70.0
    assert fake.logins == 2


async def test_wrong_credentials_make_the_source_unavailable_without_echoing_the_password(
    session: aiohttp.ClientSession, fake: FakeBluesky
) -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        await make_source(session, fake, password="wrong-password").fetch(papers(FEATURED), FEATURED_DAY)

    assert str(caught.value) == "Bluesky: login failed (HTTP 401)"
    assert fake.requests_to("searchPosts") == []


async def test_an_html_block_page_is_unavailable(session: aiohttp.ClientSession, fake: FakeBluesky) -> None:
    fake.fail("html", path="searchPosts")

    with pytest.raises(UpstreamUnavailable, match="Bluesky: answered text/html"):
        await make_source(session, fake).fetch(papers(FEATURED), FEATURED_DAY)


async def test_malformed_search_answers_are_unavailable(session: aiohttp.ClientSession, fake: FakeBluesky) -> None:
    fake.fail("malformed", path="searchPosts")

    with pytest.raises(UpstreamUnavailable, match="malformed JSON"):
        await make_source(session, fake).fetch(papers(FEATURED), FEATURED_DAY)
