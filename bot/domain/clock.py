"""Clocks: the system's in production, a frozen one in tests. Waiting goes through the clock too, so a test's
backoff of an hour takes no time at all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FrozenClock:
    """A clock that moves only when told to, or by as much as someone sleeps on it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)

    def set(self, at: datetime) -> None:
        self._at = at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._at += timedelta(seconds=seconds)
        await asyncio.sleep(0)
