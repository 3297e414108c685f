"""The protocols at the edges of the core: the chat use cases in, chat platforms out, data sources in, the clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.model import (
    ChannelRef,
    ChannelSettings,
    Digest,
    DigestEntry,
    DigestResult,
    Discussion,
    Paper,
    PaperCard,
    PostedMessage,
    PostKey,
    ReplyEvent,
    Roundup,
    RoundupResult,
    Signal,
    Summary,
    ThreadOpened,
    VoteEvent,
    VoteTally,
)

if TYPE_CHECKING:
    from bot.channel_settings import SettingsChange
    from bot.web.publishing import PublishAnswer


class ChatService(Protocol):
    """The chat use cases: everything a chat adapter (Discord, Slack, the console) asks of the engine, and all it
    may ask. `bot.service.HotPapers` implements it; adapters type against this, tests can hand them a fake.

    Inputs are what people typed (references are parsed here, options are checked here); bad input raises
    `bot.errors.BadInput`, unknown things `NotFound`, an outage `UpstreamUnavailable`. Results are plain
    dataclasses the adapter renders."""

    async def paper(self, ref: str, channel: ChannelRef | None = None, *, user: str | None = None) -> PaperCard: ...

    async def top(self, channel: ChannelRef, days: int = 7, *, limit: int = 10) -> list[PaperCard]: ...

    async def add_summary(
        self, ref: str, channel: ChannelRef, *, author: str, text: str, author_id: str | None = None
    ) -> Summary: ...

    async def vote_summary(self, channel: ChannelRef, user_id: str, summary_id: int, value: int) -> Summary: ...

    async def report_summary(self, ref: str, channel: ChannelRef, *, user_id: str) -> PaperCard: ...

    async def regenerate_summary(self, ref: str, channel: ChannelRef | None = None) -> PaperCard: ...

    async def record_vote(self, event: VoteEvent) -> VoteTally | None: ...

    async def clear_reactions(
        self, channel: ChannelRef, message_id: str, reaction: str | None = None
    ) -> VoteTally | None: ...

    async def forget_user(self, platform: str, user_id: str) -> int: ...

    async def digest(self, channel: ChannelRef, day: date | None = None) -> Digest: ...

    async def post_digest(self, channel: ChannelRef, day: date | None, publisher: Publisher) -> DigestResult: ...

    async def pause_workspace(self, platform: str, workspace: str, *, reason: str, fix: str) -> int: ...

    async def subscribe(
        self, channel: ChannelRef, options: Mapping[str, str] | SettingsChange | None = None, *, by: str | None = None
    ) -> ChannelSettings: ...

    async def unsubscribe(self, channel: ChannelRef) -> None: ...

    async def settings(self, channel: ChannelRef) -> ChannelSettings: ...

    async def publish(self, channel: ChannelRef, action: str, *, command: str = ...) -> PublishAnswer: ...

    async def discuss(self, channel: ChannelRef, target: str, publisher: Publisher) -> ThreadOpened: ...

    async def record_reply(self, event: ReplyEvent) -> Discussion | None: ...

    async def remove_reply(self, channel: ChannelRef, message_id: str) -> Discussion | None: ...

    async def roundup(self, channel: ChannelRef, day: date | None = None) -> Roundup: ...

    async def post_roundup(
        self, channel: ChannelRef, publisher: Publisher, day: date | None = None
    ) -> RoundupResult: ...


@runtime_checkable
class Publisher(Protocol):
    """The only thing the core asks of a chat adapter.

    A digest is published one entry at a time so that the engine can record each message the moment it exists.
    Every digest message carries its idempotency key (`PostKey`) inside it, so that a resumed or taken-over digest
    can `find` a message whose answer never arrived before deciding to post it again.

    Failures, in the core's words: `bot.errors.UpstreamUnavailable` for what may pass (429 beyond the client's own
    retries, 5xx, network, timeouts; `retry_after` set when the platform gave one) and
    `bot.errors.Undeliverable` for what will not (scope "message", "channel" or "workspace"). Once a message
    exists, nothing may make `publish` fail: seed reactions and other follow-ups are best effort.
    """

    platform: str

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        """Post one digest entry as its own message (so it can be voted on) and return its handle."""
        ...

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        """Post a plain line, e.g. the digest header or "no announcements today"."""
        ...

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        """The messages this bot posted in `channel` since `since` that carry one of `keys`, oldest first.
        Deleted messages are not found; a key with no message is absent."""
        ...

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        """Remove a message this bot posted (an extra copy nobody recorded)."""
        ...

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        """Tell the person who subscribed `channel` something privately (a DM), where the platform allows it.
        Returns whether it was delivered; never raises."""
        ...

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        """Open the discussion thread on `message_id`, a message this bot posted, or find the one already open
        (idempotent: a second call opens nothing and returns the same id). Returns the thread's id, which replies
        carry: Discord: the thread channel's id (equal to the message id); Slack: the parent message's `ts`, after
        the bot's short reply `opener` in the thread; console: the message id. `name` is the thread's title where
        the platform shows one. Fails like `publish` (UpstreamUnavailable / Undeliverable)."""
        ...


class SignalSource(Protocol):
    """A popularity signal (Hugging Face, Hacker News, …). Each may fail alone without breaking the others."""

    name: str
    label: str

    async def fetch(self, papers: Sequence[Paper], day: date) -> Mapping[str, Signal]:
        """Readings keyed by canonical paper id; papers the source does not know are absent."""
        ...

    async def summaries(self, papers: Sequence[Paper]) -> Mapping[str, Summary]:
        """Summaries this source offers (HF ai_summary, S2 TLDR); most sources return {}."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait (a frozen test clock moves forward instead)."""
        ...


class Progress(Protocol):
    """Where long work reports progress (a rich bar in the CLI, nothing in a service)."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, steps: int = 1) -> None: ...


class NullProgress:
    def start(self, description: str, total: int | None) -> None:
        return None

    def advance(self, steps: int = 1) -> None:
        return None


class MetricsSink(Protocol):
    """What the engine reports (bot.metrics.Metrics exposes it to Prometheus)."""

    def observe_paper(self, seconds: float) -> None: ...

    def digest_posted(self, platform: str, messages: int) -> None: ...

    def vote(self, platform: str, result: str) -> None: ...


class NullMetrics:
    def observe_paper(self, seconds: float) -> None:
        return None

    def digest_posted(self, platform: str, messages: int) -> None:
        return None

    def vote(self, platform: str, result: str) -> None:
        return None
