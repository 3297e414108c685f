"""First messages first (`bot.app.digest_starts.Starts`): a run gives way to other digests' starts only for a
bounded time, so a start that hangs (a platform that never answers its first message) does not hold every other
digest back."""

from __future__ import annotations

import asyncio

from bot.app.digest import PostingPolicy
from bot.domain.clock import FrozenClock
from bot.domain.model import ChannelRef, PostedMessage, PostKey
from bot.runtime.sample import load_sample
from tests.conftest import SAMPLE_DAY
from tests.engine.conftest import make_engine
from tests.fakes.recording_publisher import RecordingPublisher

HANGING = ChannelRef("slack", "T1", "C-hanging", "#hanging")
OTHER = ChannelRef("slack", "T1", "C-other", "#other")


class HangingHeader(RecordingPublisher):
    """The first message in `HANGING` waits until released, like a platform that does not answer."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        if channel == HANGING:
            self.waiting.set()
            await self.release.wait()
        return await super().say(channel, text, key=key)


async def test_a_start_that_hangs_holds_another_digests_entries_back_only_for_the_bound(clock: FrozenClock) -> None:
    engine = make_engine(clock, policy=PostingPolicy(give_way_seconds=0.01))
    service = engine.service
    await load_sample(engine.db.uow, now=clock.now())
    for channel in (HANGING, OTHER):
        await service.subscribe(channel, {"top": "3"})
    publisher = HangingHeader()

    hanging = asyncio.create_task(service.post_digest(HANGING, SAMPLE_DAY, publisher))
    await publisher.waiting.wait()  # its start is counted until that first message was attempted
    other = await service.post_digest(OTHER, SAMPLE_DAY, publisher)
    assert (other.state, other.posted) == ("posted", 3)  # gave way for at most 0.01 s in all, then went on
    assert not hanging.done()

    publisher.release.set()
    assert (await hanging).posted == 3
    assert [call.kind for call in publisher.calls if call.channel == HANGING] == [
        "say",
        "publish",
        "publish",
        "publish",
    ]
