from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from adapters.console.publisher import ConsolePublisher, read_log
from bot.domain.model import ChannelRef

CHANNEL = ChannelRef("console", "local", "x")


async def test_message_ids_are_unique_across_publishers_so_a_resumed_digest_never_collides() -> None:
    first, second = (ConsolePublisher(Console(file=io.StringIO())) for _ in range(2))
    ids = [(await p.say(CHANNEL, "hello")).message_id for p in (first, second, first)]
    assert len(set(ids)) == 3


async def test_a_thread_opens_once_per_message_even_from_another_process_sharing_the_log(tmp_path: Path) -> None:
    log = tmp_path / "posts.jsonl"
    out = io.StringIO()
    first, second = (ConsolePublisher(Console(file=out, width=200), log=log) for _ in range(2))
    posted = await first.say(CHANNEL, "a card")
    thread = await first.open_thread(CHANNEL, posted.message_id, name="A paper", opener="Discuss it here")
    again = await second.open_thread(CHANNEL, posted.message_id, name="A paper", opener="Discuss it here")
    assert thread == again == posted.message_id
    assert out.getvalue().count("Discuss it here") == 1
    assert [line["thread"] for line in read_log(log) if "thread" in line] == [posted.message_id]
    assert second.threads(ChannelRef("console", "local", "other")) == set()
