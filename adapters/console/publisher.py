"""ConsolePublisher: the Publisher port printing to a terminal; message ids are `console-N`."""

from __future__ import annotations

import itertools

from rich.console import Console
from rich.text import Text

from adapters.console.render import paper_panel
from bot.model import ChannelRef, DigestEntry, PostedMessage


class ConsolePublisher:
    platform = "console"

    def __init__(self, console: Console, *, abstracts: bool = False) -> None:
        self._console = console
        self._abstracts = abstracts
        self._ids = itertools.count(1)
        self.posted: list[tuple[PostedMessage, DigestEntry | None]] = []

    async def publish(self, channel: ChannelRef, entry: DigestEntry) -> PostedMessage:
        self._console.print(paper_panel(entry.card, rank=entry.rank, abstract=self._abstracts, updated=entry.updated))
        return self._record(channel, entry)

    async def say(self, channel: ChannelRef, text: str) -> PostedMessage:
        self._console.print(Text(text, style="bold magenta"))
        return self._record(channel, None)

    def _record(self, channel: ChannelRef, entry: DigestEntry | None) -> PostedMessage:
        message = PostedMessage(channel, f"console-{next(self._ids)}")
        self.posted.append((message, entry))
        return message
