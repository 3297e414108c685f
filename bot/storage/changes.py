"""This process's write counters, which the caches of derived data check (`bot.storage.window`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession


class Changes:
    """Counts this process's writes to papers and signals, so caches of derived data (`cards.WindowCache`) know
    when to rebuild. Bumped when a write is sent and again when it commits; other processes' writes are caught by
    `PaperRepository.window_fingerprint`."""

    generation = 0
    cards = 0
    """Writes to what cards show besides the paper: summaries (and their votes and reports) and posts."""

    @classmethod
    def bump(cls, session: AsyncSession | None = None) -> None:
        cls.generation += 1
        if session is not None:
            session.info["papers_changed"] = True

    plans = 0
    """Writes of digest plans (new rows in posts), which is what the versions posted in each channel depend on:
    recording a planned entry's message changes what cards show, not those. A plan's rows have no message yet, so
    no card shows them: a plan leaves `cards` as it is."""
    planned_at: ClassVar[dict[int, int]] = {}
    """Channel id → the `plans` count of this process's latest plan for that channel: what was read of the versions
    posted in each channel (`bot.storage.window.WindowCache.posted`) stays exact for every other channel."""

    @classmethod
    def bump_cards(cls, session: AsyncSession | None = None) -> None:
        cls.cards += 1
        if session is not None:
            session.info["cards_changed"] = True

    @classmethod
    def bump_plans(cls, channels: Iterable[int], session: AsyncSession | None = None) -> None:
        """A plan written for `channels` (sent, or committed)."""
        cls.plans += 1
        for channel_id in channels:
            cls.planned_at[channel_id] = cls.plans
            if session is not None:
                session.info.setdefault("planned_channels", set()).add(channel_id)
        if session is not None:
            session.info["plans_changed"] = True
