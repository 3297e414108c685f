"""RequestBudget: keeps the bot's REST requests under Discord's global rate limit before Discord has to say so.

Discord allows a bot 50 requests a second in total (its "global" limit) and answers the rest 429. discord.py only
*reacts* to those answers, and gives a request up after five of them; when many channels share a post time, a
hundred digests posting at once collide on that limit again and again, and the digests that lose stop half-way
(they resume on the next run, but late). One budget per bot process paces every request the publisher makes so the
429s do not come in the first place. Interaction responses (slash commands, buttons) are not bound by the global
limit, so only the publisher spends from it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WINDOW = 1.0
"""Discord counts the global limit per second."""


class RequestBudget:
    """At most `per_second` requests in flight or answered within the last second, let through in arrival order.

    A request occupies its place from the moment it is let go until one second after its answer came. Discord saw
    it somewhere in between, so a request let go after that second can never share one of Discord's seconds with
    it, however unevenly the network or the event loop delays either: counting from the answer is what makes the
    guarantee hold without a safety margin on the rate. A rolling window rather than an even spacing, so a late
    turn of the event loop is caught up within the window instead of lost. Clock and sleep are injectable so tests
    can check the spacing without waiting for it.
    """

    def __init__(self, per_second: int, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if per_second < 1:
            raise ValueError("per_second must be >= 1")
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self._in_flight = 0
        self._answered: collections.deque[float] = collections.deque()  # answer times within the last WINDOW
        self._answer = asyncio.Event()
        self._turn = asyncio.Lock()  # waiters queue here, so they are let through in arrival order

    @asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """`async with budget.request(): …` around one REST request: waits for a free place, holds it meanwhile."""
        await self._take()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._answered.append(self._clock())  # an error or a cancellation may have reached Discord too
            self._answer.set()

    async def _take(self) -> None:
        async with self._turn:
            now = self._clock()
            while True:
                while self._answered and self._answered[0] + WINDOW <= now:  # the same sum as free_at below
                    self._answered.popleft()
                if self._in_flight + len(self._answered) < self.per_second:
                    self._in_flight += 1
                    return
                if self._answered:
                    free_at = self._answered[0] + WINDOW
                    await self._sleep(free_at - now)
                    now = max(self._clock(), free_at)  # never a float's width short of it
                else:  # every place is held by a request still in flight: its answer starts the clock
                    self._answer.clear()
                    await self._answer.wait()
                    now = self._clock()
