"""ArxivApiSource: the real `arxiv` package against the loopback fake of export.arxiv.org."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.domain.config import ArxivConfig
from bot.domain.errors import BadReference, UpstreamUnavailable
from bot.sources.arxiv_api import ArxivApiSource
from bot.sources.arxiv_rss import ArxivRssSource
from bot.sources.pacing import PacingGate
from tests.fakes.arxiv_server import FakeArxiv
from tests.sources.conftest import FakeClock


class RecordingGate(PacingGate):
    """The real gate, noting the clock reading of every slot it grants."""

    def __init__(self, interval: float, **kwargs: Any) -> None:
        super().__init__(interval, **kwargs)
        self.times: list[float] = []

    async def wait(self) -> float:
        granted = await super().wait()
        self.times.append(granted)
        return granted


def _ids(count: int) -> list[str]:
    return [f"2010.{10000 + n:05d}" for n in range(count)]


def _sent_ids(fake: FakeArxiv) -> list[list[str]]:
    return [request.query["id_list"][0].split(",") for request in fake.requests_to("api")]


async def test_recorded_2026_entry_maps_to_a_complete_paper(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    fake_arxiv.add_recorded_entry("2202.12139", "entry_2202.12139.xml")

    [paper] = await api.fetch(["2202.12139"])

    assert paper.id == "2202.12139"
    assert paper.version == 1
    assert paper.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert paper.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert paper.categories == ("cs.SE", "cs.LG")
    assert paper.primary_category == "cs.SE"
    assert paper.published == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert paper.published.utcoffset() is not None and paper.updated == paper.published
    assert paper.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert paper.journal_ref is not None and paper.journal_ref.startswith("Artificial Intelligence in Software Testing")
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert fake_arxiv.requests[0].user_agent.startswith("arxiv.py/")


async def test_230_ids_take_three_requests_of_at_most_100_each_with_max_results_set(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    wanted = _ids(230)
    for paper_id in wanted:
        fake_arxiv.add_paper(paper_id)

    papers = await api.fetch(wanted)

    assert [paper.id for paper in papers] == wanted
    batches = _sent_ids(fake_arxiv)
    assert [len(batch) for batch in batches] == [100, 100, 30]
    assert [r.query["max_results"] for r in fake_arxiv.requests_to("api")] == [["100"], ["100"], ["30"]]
    assert api.requests == 3


async def test_version_bump_returns_the_latest_version_with_updated_after_published(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    first = fake_arxiv.add_paper("2010.00577", title="Interpreting GNNs")
    fake_arxiv.add_paper(
        "2010.00577", version=2, title="Interpreting GNNs", updated=datetime(2021, 3, 1, 9, 30, tzinfo=UTC)
    )

    [paper] = await api.fetch(["2010.00577v1"])  # a versioned reference still asks for the latest

    assert paper.version == 2
    assert paper.published == first.published
    assert paper.updated == datetime(2021, 3, 1, 9, 30, tzinfo=UTC) > paper.published
    assert _sent_ids(fake_arxiv) == [["2010.00577"]]


async def test_old_style_id_keeps_its_slash_and_its_abstract_is_unwrapped(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    fake_arxiv.add_paper(
        "astro-ph/0601001",
        title="Frequency of\n  Hot Jupiters",
        abstract="  We derive the frequencies of hot Jupiters\nwith 3--5 day periods.\n\n  A second paragraph.",
        authors=[("Andrew Gould", ["Ohio State", "Harvard-Smithsonian CfA"]), ("Shude Mao", [])],
        categories=["astro-ph"],
        journal_ref="ActaAstron.56:1-50,2006",
    )

    [paper] = await api.fetch(["astro-ph/0601001"])

    assert (paper.id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.title == "Frequency of Hot Jupiters"
    assert paper.abstract == "We derive the frequencies of hot Jupiters with 3--5 day periods.\n\nA second paragraph."
    assert paper.authors == ("Andrew Gould", "Shude Mao")
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert _sent_ids(fake_arxiv) == [["astro-ph/0601001"]]


async def test_entry_without_comment_journal_ref_or_doi_maps_them_to_none(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    fake_arxiv.add_paper("2010.00402", categories=["cs.DS", "cs.LG"])

    [paper] = await api.fetch(["2010.00402"])

    assert (paper.comment, paper.journal_ref, paper.doi) == (None, None, None)
    assert paper.primary_category == "cs.DS"


async def test_unknown_ids_are_absent_while_known_ones_come_back(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    fake_arxiv.add_paper("2010.00577")

    papers = await api.fetch(["2010.99999", "2010.00577", "2010.00577"])

    assert [paper.id for paper in papers] == ["2010.00577"]
    assert _sent_ids(fake_arxiv) == [["2010.99999", "2010.00577"]]


async def test_malformed_id_is_refused_before_any_request(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    with pytest.raises(BadReference, match="not an arXiv id"):
        await api.fetch(["2010.00577", "abc"])

    assert fake_arxiv.requests == []


async def test_400_error_feed_becomes_bad_reference_without_retrying(fake_arxiv: FakeArxiv, gate: PacingGate) -> None:
    fake_arxiv.reject_ids.add("2010.00577")
    api = ArxivApiSource(api_url=fake_arxiv.api_url, num_retries=3, gate=gate)

    with pytest.raises(BadReference, match=r"incorrect id format for 2010\.00577"):
        await api.fetch(["2010.00577"])

    assert [r.status for r in fake_arxiv.requests] == [400]


async def test_error_entry_served_with_200_is_not_mistaken_for_no_results(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    fake_arxiv.fail("api", "error_200")

    with pytest.raises(BadReference, match="arXiv rejected the request"):
        await api.fetch(["2010.00577"])


async def test_rate_limit_exhausts_the_configured_retries_then_reports_upstream_unavailable(
    fake_arxiv: FakeArxiv, gate: PacingGate
) -> None:
    fake_arxiv.fail("api", "rate_limit", times=None)
    api = ArxivApiSource(api_url=fake_arxiv.api_url, delay_seconds=0, num_retries=2, gate=gate)

    with pytest.raises(UpstreamUnavailable) as caught:
        await api.fetch(["2010.00577"])

    message = str(caught.value)
    assert "429" in message and "3 attempt" in message
    assert "\n" not in message and "127.0.0.1" not in message and "Traceback" not in message
    assert [r.status for r in fake_arxiv.requests] == [429, 429, 429]
    assert api.requests == 3


async def test_one_rate_limited_answer_is_retried_and_the_retry_succeeds(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    fake_arxiv.add_paper("2010.00577")
    fake_arxiv.fail("api", "rate_limit")

    [paper] = await api.fetch(["2010.00577"])

    assert paper.id == "2010.00577"
    assert [r.status for r in fake_arxiv.requests] == [429, 200]


async def test_503_html_page_is_upstream_unavailable(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    fake_arxiv.fail("api", "unavailable", times=None)

    with pytest.raises(UpstreamUnavailable, match="HTTP 503"):
        await api.fetch(["2010.00577"])


async def test_truncated_xml_is_upstream_unavailable_not_an_empty_result(
    fake_arxiv: FakeArxiv, api: ArxivApiSource
) -> None:
    for paper_id in _ids(5):
        fake_arxiv.add_paper(paper_id)
    fake_arxiv.fail("api", "malformed", times=None)

    with pytest.raises(UpstreamUnavailable, match="not well-formed XML"):
        await api.fetch(_ids(5))


async def test_html_page_with_status_200_is_upstream_unavailable(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    fake_arxiv.fail("api", "html", times=None)

    with pytest.raises(UpstreamUnavailable, match="arXiv API unavailable"):
        await api.fetch(["2010.00577"])


async def test_refused_connection_is_upstream_unavailable(gate: PacingGate) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = ArxivApiSource(api_url=f"http://127.0.0.1:{port}/api/query", num_retries=1, gate=gate)

    with pytest.raises(UpstreamUnavailable, match="could not connect"):
        await api.fetch(["2010.00577"])

    assert api.requests == 2


async def test_slow_answer_is_cut_off_by_the_configured_timeout(fake_arxiv: FakeArxiv, gate: PacingGate) -> None:
    fake_arxiv.add_paper("2010.00577")
    fake_arxiv.fail("api", "slow", times=None)
    api = ArxivApiSource(api_url=fake_arxiv.api_url, num_retries=0, timeout=0.2, gate=gate)

    # The message proves the client's timeout cut it off: the slow fake would answer (successfully) much later.
    with pytest.raises(UpstreamUnavailable, match=r"no answer within 0\.2 s"):
        await api.fetch(["2010.00577"])


async def test_from_config_caps_batches_at_100_and_uses_the_configured_url(fake_arxiv: FakeArxiv) -> None:
    cfg = ArxivConfig(api_url=fake_arxiv.api_url, delay_seconds=0, num_retries=0, page_size=500, timeout=5)
    api = ArxivApiSource.from_config(cfg)
    fake_arxiv.add_paper("2010.00577")

    assert api.batch_size == 100
    assert [paper.id for paper in await api.fetch(["2010.00577"])] == ["2010.00577"]


async def test_bundled_sample_papers_round_trip_through_the_fake(fake_arxiv: FakeArxiv, api: ArxivApiSource) -> None:
    ids = fake_arxiv.load_sample()

    papers = await api.fetch(ids)

    assert [paper.id for paper in papers] == ids
    assert api.requests == 1
    by_id = {paper.id: paper for paper in papers}
    assert by_id["2010.00402"].authors[-1] == "Christopher Ré"


async def test_api_and_rss_sharing_a_gate_never_request_closer_than_the_interval(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    gate = RecordingGate(3.0, clock=clock, sleep=clock.sleep)
    for paper_id in _ids(230):
        fake_arxiv.add_paper(paper_id)
        fake_arxiv.announce(paper_id)
    api = ArxivApiSource(api_url=fake_arxiv.api_url, num_retries=0, gate=gate)
    rss = ArxivRssSource(http, rss_url=fake_arxiv.rss_url, gate=gate, num_retries=0)

    await asyncio.gather(api.fetch(_ids(230)), rss.announcements(["cs.LG"]), rss.announcements(["cs.CL"]))

    assert len(fake_arxiv.requests) == len(gate.times) == 5  # every request, API or RSS, took its own slot
    assert all(later - earlier >= 3.0 for earlier, later in zip(gate.times, gate.times[1:], strict=False))
    assert sum(clock.sleeps) >= 4 * 3.0


async def test_shared_gate_keeps_a_strict_server_from_rate_limiting_us_in_real_time(
    http: aiohttp.ClientSession,
) -> None:
    # The gate's 0.5 s against the server's 0.05 s: a busy machine may delay one request by up to 0.45 s and
    # hurry the next, and the server still sees them far enough apart.
    gate = PacingGate(0.5)
    async with FakeArxiv(min_interval=0.05) as fake:
        for paper_id in _ids(150):
            fake.add_paper(paper_id)
        api = ArxivApiSource(api_url=fake.api_url, num_retries=0, gate=gate)
        rss = ArxivRssSource(http, rss_url=fake.rss_url, gate=gate, num_retries=0)

        papers, _ = await asyncio.gather(api.fetch(_ids(150)), rss.announcements(["cs.LG"]))

        assert len(papers) == 150
        assert [r.status for r in fake.requests] == [200, 200, 200]


async def test_gate_hold_off_delays_the_next_slot_for_every_client() -> None:
    clock = FakeClock()
    gate = PacingGate(3.0, clock=clock, sleep=clock.sleep)

    first = await gate.wait()
    gate.hold_off(10.0)
    second = await gate.wait()
    third = await gate.wait()

    assert (second - first, third - second) == (10.0, 3.0)
    assert gate.granted == 3
