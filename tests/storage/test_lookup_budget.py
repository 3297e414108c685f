"""Issue 15 §19: a per-user limit on look-ups that reach arXiv, and a negative cache of ids arXiv lacks.
Time moves with a FrozenClock; nothing sleeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.app.ingest import Ingestor
from bot.app.lookups import LookupGuard, LookupLimit, LookupPolicy
from bot.domain.clock import FrozenClock
from bot.domain.errors import NotFound
from bot.domain.model import ArxivId, Paper
from bot.runtime.bootstrap import App
from bot.runtime.sample import sample_days
from tests.conftest import MakeApp


class CountingArxiv:
    """A metadata source that knows only `known` and counts the requests that reached it."""

    def __init__(self, known: Sequence[Paper] = ()) -> None:
        self.known = {paper.id: paper for paper in known}
        self.requests = 0

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        self.requests += 1
        return [self.known[i] for i in ids if i in self.known]


def ingestor(app: App, clock: FrozenClock, arxiv: CountingArxiv, **policy: object) -> Ingestor:
    guard = LookupGuard(clock, LookupPolicy(**policy))  # type: ignore[arg-type]
    return Ingestor(app.uow, clock, metadata=arxiv, guard=guard)


async def test_a_user_gets_a_clear_message_after_the_hourly_limit_and_again_an_hour_later(
    app: App, clock: FrozenClock
) -> None:
    arxiv = CountingArxiv()
    lookups = ingestor(app, clock, arxiv, per_user_per_hour=3, missing_for=timedelta(0))
    for n in range(3):
        with pytest.raises(NotFound):
            await lookups.lookup(ArxivId(f"2501.0000{n}"), user="slack:U1")
    with pytest.raises(LookupLimit, match="you have looked up 3 papers that are not stored here within the hour"):
        await lookups.lookup(ArxivId("2501.00009"), user="slack:U1")
    assert arxiv.requests == 3  # the fourth never reached arXiv
    with pytest.raises(NotFound):  # someone else is not held back
        await lookups.lookup(ArxivId("2501.00009"), user="slack:U2")
    stored = sample_days()[0].papers[0]
    assert (await lookups.lookup(ArxivId(stored.id), user="slack:U1")).id == stored.id  # stored papers always work
    clock.advance(minutes=61)
    with pytest.raises(NotFound):
        await lookups.lookup(ArxivId("2501.00009"), user="slack:U1")
    assert arxiv.requests == 5


async def test_an_id_arxiv_lacks_is_answered_from_memory_for_the_configured_hours(app: App, clock: FrozenClock) -> None:
    arxiv = CountingArxiv()
    lookups = ingestor(app, clock, arxiv, per_user_per_hour=0, missing_for=timedelta(hours=6))
    with pytest.raises(NotFound, match=r"arXiv has no paper 2501\.00001$"):
        await lookups.lookup(ArxivId("2501.00001"), user="console:ada")
    clock.advance(hours=5)
    with pytest.raises(NotFound, match=r"it said so 300 min ago"):
        await lookups.lookup(ArxivId("2501.00001"), user="console:grace")
    assert arxiv.requests == 1
    clock.advance(hours=2)
    with pytest.raises(NotFound, match=r"arXiv has no paper 2501\.00001$"):
        await lookups.lookup(ArxivId("2501.00001"), user=None)
    assert arxiv.requests == 2


async def test_the_operators_cli_is_never_limited(app: App, clock: FrozenClock) -> None:
    arxiv = CountingArxiv()
    lookups = ingestor(app, clock, arxiv, per_user_per_hour=1, missing_for=timedelta(0))
    for n in range(3):
        with pytest.raises(NotFound):
            await lookups.lookup(ArxivId(f"2501.0000{n}"), user=None)
    assert arxiv.requests == 3


async def test_the_limits_come_from_the_config(make_app: MakeApp) -> None:
    app = await make_app(config={"arxiv": {"lookups_per_user_per_hour": 7, "missing_paper_hours": 2}})
    guard = app.service._ingestor._guard
    assert guard.policy == LookupPolicy(per_user_per_hour=7, missing_for=timedelta(hours=2))


async def test_processed_events_older_than_the_retention_are_pruned(app: App, clock: FrozenClock) -> None:
    async with app.uow() as uow:
        assert await uow.events.first_delivery("slack", "Ev-old", now=clock.now() - timedelta(days=40))
        assert await uow.events.first_delivery("slack", "Ev-new", now=clock.now() - timedelta(days=1))
        await uow.commit()
    assert await app.operations.prune_events(timedelta(days=30)) == 1
    async with app.uow() as uow:
        assert await uow.events.first_delivery("slack", "Ev-old", now=clock.now())  # forgotten: new again
        assert not await uow.events.first_delivery("slack", "Ev-new", now=clock.now())
        await uow.commit()
