"""RequestBudget: never more than the limit in any of Discord's seconds, the limit reached under load, arrival
order kept."""

from __future__ import annotations

import asyncio

import pytest

from adapters.discord.pacing import RequestBudget


class VirtualTime:
    """A clock that moves only when someone sleeps, so the budget's spacing is exact and the test instant."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def most_in_one_second(arrivals: list[float]) -> int:
    """Discord's view: the most requests that arrived within one second of each other."""
    return max(sum(1 for other in arrivals if start <= other < start + 1.0) for start in arrivals)


async def test_back_to_back_requests_reach_the_limit_and_never_exceed_it() -> None:
    time = VirtualTime()
    budget = RequestBudget(50, clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(250):
        async with budget.request():
            starts.append(time.now)
    assert most_in_one_second(starts) == 50
    assert starts[:50] == [0.0] * 50  # an idle budget lets a burst through at once
    assert starts[-1] == 4.0  # 250 requests in five seconds: the rate is the limit


async def test_a_slow_answer_keeps_its_place_so_discord_never_sees_two_of_them_in_one_second() -> None:
    time = VirtualTime()
    budget = RequestBudget(2, clock=time.clock, sleep=time.sleep)
    arrivals: list[float] = []
    for delay in (0.0, 0.9, 0.0, 0.0, 0.9, 0.0):  # time on the way to Discord; the answer comes at once after it
        async with budget.request():
            time.now += delay
            arrivals.append(time.now)
    assert most_in_one_second(arrivals) == 2
    # An even spacing from the start times would have let the third request go at 1.0, landing at 1.0 beside the
    # second one (0.9): three in one of Discord's seconds.


async def test_concurrent_callers_are_let_through_in_arrival_order() -> None:
    time = VirtualTime()
    budget = RequestBudget(2, clock=time.clock, sleep=time.sleep)
    order: list[int] = []
    starts: list[float] = []

    async def caller(n: int) -> None:
        async with budget.request():
            order.append(n)
            starts.append(time.now)
            await asyncio.sleep(0)  # in flight for a moment: the others wait for its answer

    await asyncio.gather(*(caller(n) for n in range(7)))
    assert order == list(range(7))
    assert most_in_one_second(starts) == 2 and starts[-1] >= 3.0  # 7 requests at 2 a second


async def test_a_failed_request_still_counts_and_a_quiet_spell_frees_the_budget() -> None:
    time = VirtualTime()
    budget = RequestBudget(1, clock=time.clock, sleep=time.sleep)
    with pytest.raises(RuntimeError):
        async with budget.request():
            raise RuntimeError("Discord answered 500")  # it reached Discord all the same
    async with budget.request():
        assert time.now == 1.0
    time.now += 5.0
    async with budget.request():
        assert time.now == 6.0  # no wait after a quiet spell


def test_a_budget_below_one_request_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match="per_second"):
        RequestBudget(0)
