"""A read-through cache of an announcement window's papers and signals, shared by every channel's digest.

A thousand channels digesting the same 5,000 papers would otherwise read them — and their signals — a thousand
times. The cache is exact for this process's writes (`Changes.generation`, bumped by every paper and signal write)
and re-checks the database (`PaperRepository.window_fingerprint`: count, newest fetch, sum of versions, newest
signal) when last checked more than `RECHECK_SECONDS` ago, so another replica's ingest shows within that time.
Consumers keep what they derive from a window (scores, filter matches) in `Window.derived`; it goes with the window.
This is the storage side of `bot.domain.ports.ReadModel`: the composition root builds one and hands it to the use cases.
What cards show besides the papers (summaries, postings) is remembered for the same time, under its own counter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from datetime import date

from cachetools import FIFOCache

from bot.domain.model import Paper, PostRecord, Summary
from bot.domain.ports import UnitOfWork
from bot.domain.records import CardParts, Window
from bot.storage.changes import Changes

RECHECK_SECONDS = 1.0
"""How stale another process's writes may be seen (this process's own writes are seen at once)."""
WINDOWS = 4
CATEGORIES_SECONDS = 600.0
CATEGORIES_LIMIT = 200_000


class WindowCache:
    """Windows by (first, last) day, and the categories of papers outside them (what a channel's taste needs)."""

    def __init__(self) -> None:
        self._windows: FIFOCache[tuple[date, date], Window] = FIFOCache(maxsize=WINDOWS)
        self._locks: dict[tuple[date, date], asyncio.Lock] = {}
        self._cards: dict[tuple[str, int], tuple[list[Summary], list[PostRecord]]] = {}
        self._cards_at = _cards_stamp()
        self._categories: dict[str, int] = {}
        self._lists: list[tuple[str, ...]] = []
        self._list_index: dict[tuple[str, ...], int] = {}
        self._categories_at = (Changes.generation, time.monotonic())

    async def window(self, uow: UnitOfWork, first: date, last: date) -> Window:
        """The papers announced in [first, last] with their latest signals; one cheap statement when cached.
        Digests started together wait for one read of the window instead of each reading it."""
        async with self._locks.setdefault((first, last), asyncio.Lock()):
            return await self._window(uow, first, last)

    async def _window(self, uow: UnitOfWork, first: date, last: date) -> Window:
        cached = self._windows.get((first, last))
        now = time.monotonic()
        if cached is not None and cached.generation == Changes.generation:
            if now - cached.checked < RECHECK_SECONDS:
                return cached
            fingerprint = await uow.papers.window_fingerprint(first, last)
            if fingerprint == cached.fingerprint:
                cached.checked = now
                return cached
        generation = Changes.generation  # before reading: a write meanwhile makes the next use rebuild
        fingerprint = await uow.papers.window_fingerprint(first, last)
        papers = await uow.papers.announced_between(first, last)
        signals = await uow.signals.latest([paper.id for paper in papers])
        window = Window(first, last, papers, signals, generation, fingerprint, now)
        self._windows.pop((first, last), None)  # a rebuilt window counts as the newest
        self._windows[(first, last)] = window
        return window

    def category_lists(self) -> tuple[dict[str, int], list[tuple[str, ...]]]:
        """Each remembered paper's categories as an index into a list of distinct category lists (a channel's
        taste sums its votes per list: integers are cheaper to group by than tuples). A paper's categories change
        only with a new version: forgotten when this process writes papers, and every `CATEGORIES_SECONDS` for
        other processes' writes. `remember_categories` adds papers."""
        generation, since = self._categories_at
        if generation != Changes.generation or time.monotonic() - since > CATEGORIES_SECONDS:
            self._categories.clear()
            self._categories_at = (Changes.generation, time.monotonic())
        return self._categories, self._lists

    async def remember_categories(self, uow: UnitOfWork, ids: Collection[str]) -> None:
        """Read and remember the categories of `ids`, in one query."""
        known = self._categories
        if len(known) + len(ids) > CATEGORIES_LIMIT:
            known.clear()
        for paper_id, categories in (await uow.papers.categories(list(ids))).items():
            index = self._list_index.get(categories)
            if index is None:
                index = self._list_index[categories] = len(self._lists)
                self._lists.append(categories)
            known[paper_id] = index

    async def posted(self, uow: UnitOfWork, window: Window, channel_id: int) -> dict[str, int]:
        """{paper: highest version posted there} for the window's papers in one channel, from one read for every
        channel, remembered for `RECHECK_SECONDS` and until this process plans a digest *in that channel*: recording
        the messages of 100 digests posting at once does not make each of them read it again, and neither do the
        plans of 100 digests starting together (each changes its own channel's versions only)."""
        async with window.derived.posted_lock:  # one read for digests started together
            cached = window.derived.posted
            if cached is None or not _plans_fresh(cached[0], channel_id):
                stamp = _plans_stamp()  # before reading: a write meanwhile makes the next use read again
                cached = window.derived.posted = (stamp, await uow.posts.posted_versions_everywhere(window.by_id))
            return cached[1].get(channel_id, {})

    async def card_parts(self, uow: UnitOfWork, papers: Sequence[Paper]) -> CardParts:
        """`CardPartsRepository.read`, remembered for `RECHECK_SECONDS` and until this process writes a summary or a
        post: a day's top papers are the same in many channels' digests."""
        if not _cards_fresh(self._cards_at):
            self._cards.clear()
            self._cards_at = _cards_stamp()
        found = {paper.id: self._cards.get((paper.id, paper.version)) for paper in papers}
        missing = [paper for paper in papers if found[paper.id] is None]
        if missing:
            summaries, postings = await uow.card_parts.read(missing)
            for paper in missing:
                found[paper.id] = self._cards[(paper.id, paper.version)] = (
                    summaries.get(paper.id, []),
                    postings.get(paper.id, []),
                )
        return (
            {paper_id: parts[0] for paper_id, parts in found.items() if parts},
            {paper_id: parts[1] for paper_id, parts in found.items() if parts},
        )


def _cards_stamp() -> tuple[int, float]:
    """When what cards show besides the papers (summaries, posts) was read: this process's write counter, and the
    time."""
    return Changes.cards, time.monotonic()


def _plans_stamp() -> tuple[int, float]:
    return Changes.plans, time.monotonic()


def _plans_fresh(stamp: tuple[int, float], channel_id: int) -> bool:
    """Whether the versions posted in `channel_id`, as read at `stamp`, may still be used: no plan by this process
    for that channel since, and another process's plans may have been missed for at most `RECHECK_SECONDS`."""
    generation, since = stamp
    return Changes.planned_at.get(channel_id, 0) <= generation and time.monotonic() - since <= RECHECK_SECONDS


def _cards_fresh(stamp: tuple[int, float]) -> bool:
    """Whether what was read at `stamp` may still be used: no write by this process since, and another process's
    writes may have been missed for at most `RECHECK_SECONDS`."""
    generation, since = stamp
    return generation == Changes.cards and time.monotonic() - since <= RECHECK_SECONDS
