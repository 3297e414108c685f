"""Fixtures for the arXiv sources: the loopback fake, a zero-interval gate, and sources pointed at the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sources.arxiv_api import ArxivApiSource
from bot.sources.arxiv_rss import ArxivRssSource
from bot.sources.pacing import PacingGate
from tests.fakes.arxiv_server import FakeArxiv


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it, so pacing is checked without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def gate() -> PacingGate:
    return PacingGate(0.0)


@pytest.fixture
def api(fake_arxiv: FakeArxiv, gate: PacingGate) -> ArxivApiSource:
    return ArxivApiSource(api_url=fake_arxiv.api_url, num_retries=1, timeout=5.0, gate=gate)


@pytest.fixture
def rss(http: aiohttp.ClientSession, fake_arxiv: FakeArxiv, gate: PacingGate) -> ArxivRssSource:
    return ArxivRssSource(http, rss_url=fake_arxiv.rss_url, gate=gate, timeout=5.0, num_retries=1)
