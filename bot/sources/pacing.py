"""One shared pacing gate for every request the bot sends to arXiv.

arXiv's terms allow one request every three seconds *summed over* the API, the RSS feeds and OAI-PMH, so a limiter
per client is not enough: the API source and the RSS source hold the same `PacingGate`. Its clock and sleep are
injectable so tests can check the spacing without waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class PacingGate:
    """Grants request slots at least `interval` seconds apart, in arrival order.

    `wait()` returns when the caller may send its request. `hold_off(seconds)` pushes the next slot back, which is how
    a 429 answer turns into a back-off for *every* arXiv client, not just the one that was throttled.
    """

    def __init__(self, interval: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = asyncio.Lock()
        self.granted = 0

    async def wait(self) -> float:
        """Wait for the next free slot, claim it and return the clock reading at which it was granted."""
        async with self._lock:
            now = self._clock()
            if self._next is not None and now < self._next:
                await self._sleep(self._next - now)
                now = max(self._clock(), self._next)
            self._next = now + self.interval
            self.granted += 1
            return now

    def hold_off(self, seconds: float) -> None:
        """No slot is granted before `seconds` from now (never brings the next slot forward)."""
        earliest = self._clock() + max(seconds, 0.0)
        self._next = earliest if self._next is None else max(self._next, earliest)
