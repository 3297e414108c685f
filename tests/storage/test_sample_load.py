"""`hotpapers sample load` on both databases: the sample once, then "already loaded"; and channel keys the columns
cannot hold are refused by the engine, whichever adapter built them."""

from __future__ import annotations

import pytest

from bot.domain.clock import FrozenClock
from bot.domain.errors import BadInput
from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from bot.runtime.sample import load_sample_once
from tests.conftest import MakeApp


async def test_the_sample_loads_once_on_either_database(make_app: MakeApp, clock: FrozenClock) -> None:
    app = await make_app()
    first = await load_sample_once(app.uow, now=clock.now())
    again = await load_sample_once(app.uow, now=clock.now())
    assert (first.already, again.already) == (False, True)
    assert first.papers == 41 and str(first.last_day) == "2020-11-06"
    digest = await app.service.digest(ChannelRef("console", "local", "try"))
    assert digest.entries[0].card.paper.id == "2011.02519"


async def test_a_channel_part_longer_than_its_column_is_bad_input_in_the_engine(app: App) -> None:
    with pytest.raises(BadInput, match="the channel part is 65 characters; the limit is 64"):
        await app.service.subscribe(ChannelRef("slack", "T1", "C" * 65))
