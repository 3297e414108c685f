"""ArxivRssSource: real aiohttp + feedparser against the loopback fake of rss.arxiv.org."""

from __future__ import annotations

import asyncio
import threading
from datetime import date

import aiohttp
import feedparser
import pytest

from bot.domain.config import ArxivConfig
from bot.domain.errors import BadInput, UpstreamUnavailable
from bot.sources.arxiv_rss import ArxivRssSource
from bot.sources.pacing import PacingGate
from tests.fakes.arxiv_server import FakeArxiv


def _mailing(fake: FakeArxiv) -> None:
    """One day's mailing: new in cs.LG, new in cs.CL cross-listed to cs.LG, and two replacements."""
    fake.rss_day = date(2025, 9, 18)
    fake.add_paper("2509.13332", title="Explicit  Reasoning\n Makes Better Judges", categories=["cs.LG", "cs.AI"])
    fake.add_paper("2509.13400", categories=["cs.CL", "cs.LG"])
    fake.add_paper("2203.01250", version=3, categories=["cs.LG"])
    fake.add_paper("hep-th/9901001", version=2, categories=["hep-th", "cs.CL"])
    fake.announce("2509.13332")
    fake.announce("2509.13400")
    fake.announce("2203.01250", replacement=True)
    fake.announce("hep-th/9901001", replacement=True)


async def test_mailing_lists_new_cross_and_replacement_kinds_with_versions(
    fake_arxiv: FakeArxiv, rss: ArxivRssSource
) -> None:
    _mailing(fake_arxiv)

    found = await rss.announcements(["cs.LG"])

    assert [(a.id, a.version, a.kind) for a in found] == [
        ("2509.13332", 1, "new"),
        ("2509.13400", 1, "cross"),
        ("2203.01250", 3, "replace"),
    ]
    assert {a.day for a in found} == {date(2025, 9, 18)}
    assert found[0].title == "Explicit Reasoning Makes Better Judges"
    assert found[0].categories == ("cs.LG", "cs.AI")
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.LG"]


async def test_paper_listed_under_several_categories_comes_back_once_with_its_strongest_kind(
    fake_arxiv: FakeArxiv, rss: ArxivRssSource
) -> None:
    _mailing(fake_arxiv)

    found = await rss.announcements(["cs.LG", "cs.CL"])

    kinds = {a.id: a.kind for a in found}
    assert len(found) == len(kinds) == 4
    assert kinds == {
        "2509.13332": "new",
        "2509.13400": "new",  # cross in cs.LG, new in its primary cs.CL
        "2203.01250": "replace",
        "hep-th/9901001": "replace-cross",
    }
    assert fake_arxiv.requests[0].path == "/rss/cs.LG+cs.CL"
    assert rss.requests == 1


async def test_weekend_feed_without_items_is_an_empty_list(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    fake_arxiv.rss_day = date(2026, 9, 27)

    assert await rss.announcements(["cs.LG"]) == []
    assert [r.status for r in fake_arxiv.requests] == [200]


async def test_asking_for_another_day_than_the_feed_holds_gives_nothing(
    fake_arxiv: FakeArxiv, rss: ArxivRssSource
) -> None:
    _mailing(fake_arxiv)

    assert await rss.announcements(["cs.LG"], date(2025, 9, 17)) == []
    assert len(await rss.announcements(["cs.LG"], date(2025, 9, 18))) == 3


async def test_rate_limited_feed_is_upstream_unavailable_after_the_retries(
    fake_arxiv: FakeArxiv, rss: ArxivRssSource
) -> None:
    fake_arxiv.fail("rss", "rate_limit", times=None)

    with pytest.raises(UpstreamUnavailable) as caught:
        await rss.announcements(["cs.LG"])

    assert "429" in str(caught.value) and "127.0.0.1" not in str(caught.value)
    assert [r.status for r in fake_arxiv.requests] == [429, 429]


async def test_one_503_is_retried_and_the_retry_is_used(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    _mailing(fake_arxiv)
    fake_arxiv.fail("rss", "unavailable")

    assert len(await rss.announcements(["cs.LG"])) == 3
    assert [r.status for r in fake_arxiv.requests] == [503, 200]


async def test_html_page_instead_of_a_feed_is_upstream_unavailable(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    fake_arxiv.fail("rss", "html", times=None)

    with pytest.raises(UpstreamUnavailable, match="not an RSS feed"):
        await rss.announcements(["cs.LG"])


async def test_truncated_feed_is_upstream_unavailable(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    _mailing(fake_arxiv)
    fake_arxiv.fail("rss", "malformed", times=None)

    with pytest.raises(UpstreamUnavailable, match="not an RSS feed"):
        await rss.announcements(["cs.LG"])


async def test_slow_feed_is_cut_off_by_the_timeout(fake_arxiv: FakeArxiv, http: aiohttp.ClientSession) -> None:
    fake_arxiv.fail("rss", "slow", times=None)
    rss = ArxivRssSource(http, rss_url=fake_arxiv.rss_url, gate=PacingGate(0), timeout=0.2, num_retries=0)

    with pytest.raises(UpstreamUnavailable, match=r"no answer within 0\.2 s"):
        await rss.announcements(["cs.LG"])


async def test_malformed_category_is_bad_input_before_any_request(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    with pytest.raises(BadInput, match="not an arXiv category"):
        await rss.announcements(["cs.LG", "../../etc"])
    with pytest.raises(BadInput):
        await rss.announcements([])

    assert fake_arxiv.requests == []


async def test_parsing_a_2000_item_feed_leaves_the_event_loop_responsive(
    fake_arxiv: FakeArxiv, rss: ArxivRssSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Structural, not timed: the parse runs off the loop's thread, and the loop keeps running other tasks while it
    does (the parse waits until a heartbeat task has had control several times; on the loop's thread it never could).
    Timing lives in bench/."""
    for n in range(2000):
        fake_arxiv.add_paper(f"2509.{n:05d}", abstract="A long abstract. " * 40)
        fake_arxiv.announce(f"2509.{n:05d}")
    real_parse = feedparser.parse
    loop_thread = threading.get_ident()
    beats_needed = 5
    heart_beat_enough = threading.Event()
    seen: dict[str, object] = {}
    beats = 0
    parsing = threading.Event()

    def parse(body: bytes) -> object:
        seen["thread"] = threading.get_ident()
        parsing.set()
        # Deadlock guard only (a failure, not a time bound): on the loop's thread the heartbeat never runs.
        seen["loop_ran"] = heart_beat_enough.wait(timeout=60)
        return real_parse(body)

    monkeypatch.setattr(feedparser, "parse", parse)
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal beats
        while not done.is_set():
            await asyncio.sleep(0)
            if parsing.is_set():
                beats += 1
                if beats >= beats_needed:
                    heart_beat_enough.set()

    beat = asyncio.create_task(heartbeat())
    try:
        found = await rss.announcements(["cs.LG"])
    finally:
        done.set()
        await beat

    assert len(found) == 2000
    assert seen["thread"] != loop_thread
    assert seen["loop_ran"] is True
    assert beats >= beats_needed


async def test_from_config_reads_url_timeout_and_retries(fake_arxiv: FakeArxiv, http: aiohttp.ClientSession) -> None:
    cfg = ArxivConfig(rss_url=fake_arxiv.rss_url, delay_seconds=0, num_retries=0, timeout=5)
    rss = ArxivRssSource.from_config(http, cfg)
    fake_arxiv.fail("rss", "unavailable")

    with pytest.raises(UpstreamUnavailable, match="1 attempt"):
        await rss.announcements(["cs.LG"])


async def test_sample_day_is_announced_by_the_fake_and_read_back(fake_arxiv: FakeArxiv, rss: ArxivRssSource) -> None:
    fake_arxiv.load_sample(announce_day="2020-10-02")

    found = await rss.announcements(["cs.LG", "cs.CL", "stat.ML", "cs.GR"], date(2020, 10, 2))

    assert "2010.00577" in {a.id for a in found}
    assert len(found) == len({a.id for a in found}) == 11
