"""RecordingPublisher: the reference Publisher for engine tests. Records every call, can crash or pause mid-digest."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Literal

from bot.errors import HotPapersError
from bot.model import ChannelRef, DigestEntry, PostedMessage


class SimulatedCrash(HotPapersError):
    """Raised by `fail_after`. A HotPapersError so DigestPoster does not retry it: like a crash, it stops the run
    after the messages already recorded, and the next run must resume with only the rest."""


@dataclass(frozen=True, slots=True)
class Call:
    kind: Literal["say", "publish"]
    channel: ChannelRef
    message: PostedMessage
    text: str | None = None
    entry: DigestEntry | None = None


class RecordingPublisher:
    """Implements bot.ports.Publisher in memory.

    `fail_after=k`: the (k+1)-th publish and every later one raise SimulatedCrash (k messages made it out).
    `pause_after=k`: the (k+1)-th publish sets `paused` and waits for `resume` before posting, so a test can act
    while a digest is half-way (start a second run, shut down, take the claim over).
    """

    _ids = itertools.count(1)
    """Shared by every instance: a platform never reuses a message id, not even after the bot restarts."""

    def __init__(self, platform: str = "console", *, fail_after: int | None = None, pause_after: int | None = None):
        self.platform = platform
        self.fail_after = fail_after
        self.pause_after = pause_after
        self.calls: list[Call] = []
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    @property
    def published(self) -> list[DigestEntry]:
        return [call.entry for call in self.calls if call.entry is not None]

    @property
    def said(self) -> list[str]:
        return [call.text for call in self.calls if call.text is not None]

    def published_ids(self, channel: ChannelRef | None = None) -> list[str]:
        """Paper ids published, in order (optionally only in `channel`)."""
        return [
            call.entry.card.paper.id
            for call in self.calls
            if call.entry is not None and (channel is None or call.channel == channel)
        ]

    async def say(self, channel: ChannelRef, text: str) -> PostedMessage:
        message = self._message(channel)
        self.calls.append(Call("say", channel, message, text=text))
        return message

    async def publish(self, channel: ChannelRef, entry: DigestEntry) -> PostedMessage:
        done = len(self.published)
        if self.fail_after is not None and done >= self.fail_after:
            raise SimulatedCrash(f"simulated crash after {done} published messages")
        if self.pause_after is not None and done == self.pause_after and not self.resume.is_set():
            self.paused.set()
            await self.resume.wait()
        message = self._message(channel)
        self.calls.append(Call("publish", channel, message, entry=entry))
        return message

    def _message(self, channel: ChannelRef) -> PostedMessage:
        return PostedMessage(channel, f"{self.platform}-{next(self._ids)}")
