from __future__ import annotations

import io

from rich.console import Console

from adapters.console.publisher import ConsolePublisher
from bot.model import ChannelRef

CHANNEL = ChannelRef("console", "local", "x")


async def test_message_ids_are_unique_across_publishers_so_a_resumed_digest_never_collides() -> None:
    first, second = (ConsolePublisher(Console(file=io.StringIO())) for _ in range(2))
    ids = [(await p.say(CHANNEL, "hello")).message_id for p in (first, second, first)]
    assert len(set(ids)) == 3
