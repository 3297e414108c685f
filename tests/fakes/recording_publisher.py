"""RecordingPublisher: the reference Publisher for engine tests, on an in-memory platform that replicas share.

`MemoryPlatform` is what a channel shows: every message ever created, with the key it carries, and which were
deleted. Publishers (one per replica) record their calls and can crash, stall, lose an answer or be refused.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.domain.errors import HotPapersError, Undeliverable, UpstreamUnavailable
from bot.domain.model import ChannelRef, DigestEntry, PostedMessage, PostKey


class SimulatedCrash(HotPapersError):
    """Raised by `fail_after`. A HotPapersError so DigestPoster does not retry it: like a crash, it stops the run
    after the messages already recorded, and the next run must resume with only the rest."""


@dataclass(frozen=True, slots=True)
class Call:
    kind: Literal["say", "publish", "thread"]
    channel: ChannelRef
    message: PostedMessage
    text: str | None = None
    entry: DigestEntry | None = None
    key: PostKey | None = None


@dataclass(slots=True)
class Shown:
    message_id: str
    channel: ChannelRef
    key: PostKey | None
    text: str
    deleted: bool = False


@dataclass
class MemoryPlatform:
    """The platform side: what exists in each channel, whoever posted it."""

    messages: dict[str, Shown] = field(default_factory=dict)
    finds: int = 0
    deletes: int = 0
    threads: dict[str, str] = field(default_factory=dict)
    """Open threads: the message they hang on → the thread's id (the message id, as on Discord)."""
    openers: Counter[str] = field(default_factory=Counter)
    """How many openers were posted under each message (more than one: two openers of one thread)."""

    def visible(self, channel: ChannelRef | None = None) -> list[Shown]:
        return [m for m in self.messages.values() if not m.deleted and (channel is None or m.channel == channel)]

    def copies(self, channel: ChannelRef) -> Counter[str]:
        """How many visible messages carry each key in `channel`."""
        return Counter(str(m.key) for m in self.visible(channel) if m.key is not None)


Outcome = Literal["ok", "lost", "killed"] | BaseException
"""What the next publish does: post; post and lose the answer (the client sees a 503); post and die before the
answer is recorded (kill -9 between the request and the record); or raise this error."""


class RecordingPublisher:
    """Implements bot.domain.ports.Publisher in memory.

    `fail_after=k`: the (k+1)-th publish and every later one raise SimulatedCrash (k messages made it out).
    `pause_after=k`: the (k+1)-th publish sets `paused` and waits for `resume` before posting, so a test can act
    while a digest is half-way (start a second run, shut down, take the claim over).
    `script`: outcomes for the next publishes, one each ("ok", "lost", or an exception to raise).
    """

    _ids = itertools.count(1)
    """Shared by every instance: a platform never reuses a message id, not even after the bot restarts."""

    def __init__(
        self,
        platform: str = "console",
        *,
        fail_after: int | None = None,
        pause_after: int | None = None,
        world: MemoryPlatform | None = None,
        script: list[Outcome] | None = None,
    ):
        self.platform = platform
        self.fail_after = fail_after
        self.pause_after = pause_after
        self.world = world if world is not None else MemoryPlatform()
        self.script: list[Outcome] = list(script or [])
        self.thread_script: list[Outcome] = []
        self.thread_flight = 0.0
        """Seconds between looking for a thread's opener and posting one (as Slack's two calls take): a second
        opener on the same message in that time is posted too, as on Slack (`openers` counts them)."""
        self.calls: list[Call] = []
        self.attempts = 0
        self.admin_notes: list[tuple[str, str]] = []
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    @property
    def published(self) -> list[DigestEntry]:
        return [call.entry for call in self.calls if call.entry is not None]

    @property
    def said(self) -> list[str]:
        return [call.text for call in self.calls if call.kind == "say" and call.text is not None]

    def published_ids(self, channel: ChannelRef | None = None) -> list[str]:
        """Paper ids published, in order (optionally only in `channel`)."""
        return [
            call.entry.card.paper.id
            for call in self.calls
            if call.entry is not None and (channel is None or call.channel == channel)
        ]

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        message = self._message(channel, key, text)
        self.calls.append(Call("say", channel, message, text=text, key=key))
        return message

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        self.attempts += 1
        done = len(self.published)
        if self.fail_after is not None and done >= self.fail_after:
            raise SimulatedCrash(f"simulated crash after {done} published messages")
        if self.pause_after is not None and done == self.pause_after and not self.resume.is_set():
            self.paused.set()
            await self.resume.wait()
        outcome = self.script.pop(0) if self.script else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        message = self._message(channel, key, entry.card.paper.title)
        self.calls.append(Call("publish", channel, message, entry=entry, key=key))
        if outcome == "lost":
            raise UpstreamUnavailable("503 Service Unavailable (the platform took the message anyway)")
        if outcome == "killed":
            raise SimulatedCrash("killed after the platform took the message, before it was recorded")
        return message

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        self.world.finds += 1
        found: dict[PostKey, list[str]] = {}
        for shown in self.world.visible(channel):
            if shown.key in keys:
                found.setdefault(shown.key, []).append(shown.message_id)
        return found

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        self.world.deletes += 1
        self.world.messages[message_id].deleted = True

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        self.admin_notes.append((user_id, text))
        return True

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        """Opens a thread once per message (a repeat returns the same id); `thread_script` outcomes as `script`."""
        outcome = self.thread_script.pop(0) if self.thread_script else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        shown = self.world.messages.get(message_id)
        if shown is None or shown.deleted or shown.channel != channel:
            raise Undeliverable("the message is gone", scope="message", fix="nothing to do")
        if message_id not in self.world.threads:
            if self.thread_flight:
                await asyncio.sleep(self.thread_flight)
            self.world.openers[message_id] += 1
            self.world.threads[message_id] = message_id
            self.calls.append(Call("thread", channel, PostedMessage(channel, message_id), text=opener))
        return self.world.threads[message_id]

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        """A link naming the channel and the message (what a platform's link would point at)."""
        return f"https://chat.example/{self.platform}/{channel.channel}/{message_id}"

    @property
    def opened(self) -> list[str]:
        """The message ids this publisher opened a thread on, in order."""
        return [call.message.message_id for call in self.calls if call.kind == "thread"]

    def _message(self, channel: ChannelRef, key: PostKey | None, text: str) -> PostedMessage:
        message = PostedMessage(channel, f"{self.platform}-{next(self._ids)}")
        self.world.messages[message.message_id] = Shown(message.message_id, channel, key, text)
        return message


def refused(scope: Literal["message", "channel", "workspace"], reason: str = "refused") -> Undeliverable:
    return Undeliverable(reason, scope=scope, fix="do something")
