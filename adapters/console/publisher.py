"""ConsolePublisher: the Publisher port printing to a terminal.

Message ids must stay unique across processes (a resumed digest records its messages beside the first run's), so
each publisher numbers its messages under a random prefix: `console-3f9a1c2b-1`, `console-3f9a1c2b-2`, …
"""

from __future__ import annotations

import itertools
import uuid

from rich.console import Console
from rich.text import Text

from adapters.console.render import paper_panel
from bot.model import ChannelRef, DigestEntry, PostedMessage


class ConsolePublisher:
    platform = "console"

    def __init__(self, console: Console, *, abstracts: bool = False) -> None:
        self._console = console
        self._abstracts = abstracts
        self._prefix = f"console-{uuid.uuid4().hex[:8]}"
        self._ids = itertools.count(1)
        self.posted: list[tuple[PostedMessage, DigestEntry | None]] = []

    async def publish(self, channel: ChannelRef, entry: DigestEntry) -> PostedMessage:
        self._console.print(paper_panel(entry.card, rank=entry.rank, abstract=self._abstracts, updated=entry.updated))
        return self._record(channel, entry)

    async def say(self, channel: ChannelRef, text: str) -> PostedMessage:
        self._console.print(Text(text, style="bold magenta"))
        return self._record(channel, None)

    def _record(self, channel: ChannelRef, entry: DigestEntry | None) -> PostedMessage:
        message = PostedMessage(channel, f"{self._prefix}-{next(self._ids)}")
        self.posted.append((message, entry))
        return message
