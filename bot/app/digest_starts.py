"""First messages first: the digests starting in a process (`Starts`), which runs already posting give way to.

`bot.app.digest.DigestPoster` counts a run as starting from when it asks for the start gate (its database phase:
the channel, the claim, the plan) until its first message was attempted (`Opening`), and holds a posting run's next
entry back while any start is counted, for a bounded time (`PostingPolicy.give_way_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib


class Opening:
    """One run's start, counted by `Starts` until it ends (idempotent)."""

    __slots__ = ("_starts", "open")

    def __init__(self, starts: Starts) -> None:
        self._starts, self.open = starts, True

    def end(self) -> None:
        if self.open:
            self.open = False
            self._starts.ended()


class Starts:
    """The digests starting in this process: at most `at_once` in their database phase (the gate), and counted from
    when they ask for the gate until their first message was attempted. Runs already posting hold their next entry
    back while any is counted (`give_way`), so a fan-out's CPU and connections go to starts first: with a hundred
    channels sharing a post time, the last one's first message otherwise waits behind the first ones' bursts. A
    run's start is counted across the service's read of the channel and the poster's claim and plan, which follow
    each other with no await in between."""

    def __init__(self, at_once: int) -> None:
        self._gate = asyncio.Semaphore(at_once)
        self._counted = 0
        self._none = asyncio.Event()
        self._none.set()

    async def __aenter__(self) -> None:
        self._begun()
        try:
            await self._gate.acquire()
        except BaseException:
            self.ended()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._gate.release()
        self.ended()

    def opening(self) -> Opening:
        """Count a run's start until its `end`."""
        self._begun()
        return Opening(self)

    def _begun(self) -> None:
        self._counted += 1
        self._none.clear()

    def ended(self) -> None:
        self._counted -= 1
        if not self._counted:
            self._none.set()

    async def give_way(self, seconds: float) -> float:
        """Wait until no start is counted, for at most `seconds`; returns how long it waited."""
        if not self._counted or seconds <= 0:
            return 0.0
        loop = asyncio.get_running_loop()
        began = loop.time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._none.wait()
        return loop.time() - began
