"""`HotPapers` on the in-memory unit of work (`fake_uow.py`): the engine's use cases without a database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.app.cards import CardContext
from bot.app.digest import PostingPolicy
from bot.app.ingest import Ingestor, Signals
from bot.app.service import HotPapers
from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.domain.ranking import ranking_weights
from bot.runtime.sample import load_sample
from bot.storage.window import WindowCache
from tests.engine.fake_uow import FakeDatabase


@dataclass
class Engine:
    service: HotPapers
    db: FakeDatabase
    clock: FrozenClock


def make_engine(
    clock: FrozenClock,
    config: dict[str, Any] | None = None,
    *,
    signals: Signals | None = None,
    policy: PostingPolicy | None = None,
    **ingestor: Any,
) -> Engine:
    """Wired as `bot.runtime.bootstrap.build(offline=True)` does, on a `FakeDatabase` instead of an engine; with
    `signals`, the ingestor refreshes signals from it (`ingestor` holds its other options); `policy` for posting."""
    settings = parse_config(config or {})
    db = FakeDatabase()
    service = HotPapers(
        db.uow,
        config=settings,
        clock=clock,
        context=CardContext(ranking_weights(settings), settings.summaries, WindowCache()),
        ingestor=Ingestor(db.uow, clock, signals=signals, **ingestor),
        holder="engine-test",
        policy=policy,
    )
    return Engine(service, db, clock)


@pytest.fixture
async def engine(clock: FrozenClock) -> Engine:
    """The engine on a fake database holding the bundled sample (papers, tweet counts, ShortScience summaries)."""
    built = make_engine(clock)
    await load_sample(built.db.uow, now=clock.now())
    return built
