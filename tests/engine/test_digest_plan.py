"""The daily digest's path on the in-memory unit of work: how many units of work run before its first message, when
its cards are built, and what a resumed digest shows (bot/app/digest_plan.py, bot/app/digest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bot.app.digest_plan import DigestPlanner
from bot.domain.model import ChannelRef, DigestEntry, PostedMessage, PostKey
from tests.conftest import SAMPLE_DAY
from tests.engine.conftest import Engine
from tests.fakes.recording_publisher import RecordingPublisher, SimulatedCrash

CHANNEL = ChannelRef("console", "local", "ml-papers", "#ml-papers")


class CountingPublisher(RecordingPublisher):
    """Notes how many units of work the engine had opened when its first message went out."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        super().__init__(**options)
        self._engine = engine
        self.units_before_first: int | None = None
        self.transactions_before_first: int | None = None

    def _first(self) -> None:
        if self.units_before_first is None:
            self.units_before_first = self._engine.db.units
            self.transactions_before_first = self._engine.db.transactions

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        self._first()
        return await super().say(channel, text, key=key)

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        self._first()
        return await super().publish(channel, entry, key=key)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the planner ranked a new digest (`build`) and rebuilt the cards of a stored plan (`rebuild`)."""
    counts = {"build": 0, "rebuild": 0}
    build, rebuild = DigestPlanner.build, DigestPlanner.rebuild

    async def counted_build(self: DigestPlanner, *args: Any, **kwargs: Any) -> Any:
        counts["build"] += 1
        return await build(self, *args, **kwargs)

    async def counted_rebuild(self: DigestPlanner, *args: Any, **kwargs: Any) -> Any:
        counts["rebuild"] += 1
        return await rebuild(self, *args, **kwargs)

    monkeypatch.setattr(DigestPlanner, "build", counted_build)
    monkeypatch.setattr(DigestPlanner, "rebuild", counted_rebuild)
    return counts


async def test_a_new_digest_claims_and_plans_with_one_transaction_and_builds_its_cards_once(
    engine: Engine, builds: dict[str, int]
) -> None:
    await engine.service.subscribe(CHANNEL, {"top": "3"})
    publisher = CountingPublisher(engine)
    units, transactions = engine.db.units, engine.db.transactions

    result = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)

    assert result.state == "posted" and result.posted == 3
    # 1: the channel, its settings and day (read only); 2: the claim, one statement; 3: the plan with the header's
    # intent and the lease's renewal, the one transaction
    assert publisher.units_before_first == units + 3
    assert publisher.transactions_before_first == transactions + 1
    assert builds == {"build": 1, "rebuild": 0}


async def test_a_resumed_digest_rebuilds_its_cards_from_the_stored_plan_with_the_channel_settings(
    engine: Engine, builds: dict[str, int]
) -> None:
    preview = await engine.service.digest(CHANNEL, SAMPLE_DAY)
    followed = preview.entries[2].card.paper.authors[0]
    await engine.service.subscribe(CHANNEL, {"top": "3", "follow": followed})
    planned = await engine.service.digest(CHANNEL, SAMPLE_DAY)
    assert any(f"follows: {followed}" in " ".join(entry.card.why) for entry in planned.entries)
    with pytest.raises(SimulatedCrash):  # after the header, before the first entry
        await engine.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher(fail_after=0))
    assert builds == {"build": 3, "rebuild": 0}  # two previews and the crashed run

    resumer = RecordingPublisher()
    result = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, resumer)

    assert result.state == "resumed" and builds == {"build": 3, "rebuild": 1}
    assert [_shown(e) for e in resumer.published] == [_shown(e) for e in planned.entries]


async def test_a_resumed_digest_posts_its_plan_even_when_the_filters_changed_meanwhile(
    engine: Engine, builds: dict[str, int]
) -> None:
    await engine.service.subscribe(CHANNEL, {"top": "3"})
    planned = await engine.service.digest(CHANNEL, SAMPLE_DAY)
    with pytest.raises(SimulatedCrash):
        await engine.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher(fail_after=1))
    last = planned.entries[2].card.paper
    await engine.service.subscribe(CHANNEL, {"categories": "q-bio", "exclude": last.title.split()[0]})

    resumer = RecordingPublisher()
    result = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, resumer)

    assert result.state == "resumed"
    assert [_shown(e) for e in resumer.published] == [_shown(e) for e in planned.entries[1:]]


def _shown(entry: DigestEntry) -> tuple[int, str, float, Sequence[str], float]:
    """What an entry shows and how it ranked: rank, paper, score, why-line, the channel's ranking score."""
    card = entry.card
    return entry.rank, card.paper.id, card.score, card.why, card.rank_score
