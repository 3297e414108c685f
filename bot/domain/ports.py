"""The protocols at the edges of the core: the chat use cases in, chat platforms out, data sources in, the clock,
and storage (the unit of work and its repositories)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from bot.domain.model import (
    Channel,
    ChannelRef,
    ChannelSettings,
    Digest,
    DigestEntry,
    DigestResult,
    Discussion,
    Paper,
    PaperCard,
    PastWinner,
    Pause,
    PollClose,
    PollDraft,
    PollOutcome,
    PollStart,
    PollTally,
    PostedMessage,
    PostKey,
    PublishAnswer,
    ReplyEvent,
    Roundup,
    RoundupResult,
    Signal,
    Summary,
    ThreadOpened,
    VoteEvent,
    VoteTally,
)
from bot.domain.records import (
    CardParts,
    ChannelActivity,
    Claim,
    CloseOutcome,
    DigestStatus,
    PageState,
    PaperView,
    PlanEntry,
    PlannedPost,
    PollRecord,
    Recorded,
    StartOutcome,
    ThreadRecord,
    Window,
)

if TYPE_CHECKING:
    from bot.domain.channel_settings import SettingsChange
    from bot.domain.vote_rules import Reaction, Vote, VoteKey


class ChatService(Protocol):
    """The chat use cases: everything a chat adapter (Discord, Slack, the console) asks of the engine, and all it
    may ask. `bot.app.service.HotPapers` implements it; adapters type against this, tests can hand them a fake.

    Inputs are what people typed (references are parsed here, options are checked here); bad input raises
    `bot.domain.errors.BadInput`, unknown things `NotFound`, an outage `UpstreamUnavailable`. Results are plain
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

    async def record_reaction(self, event: VoteEvent) -> bool: ...

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

    # journal club (issue 19): `bot/app/journal_club.py`; the adapter checks that the person is a channel admin

    async def journal_club_start(
        self,
        channel: ChannelRef,
        publisher: Publisher,
        *,
        candidates: int | str | None = None,
        closes: str | None = None,
        by: str | None = None,
    ) -> PollStart: ...

    async def journal_club_weekly(self, channel: ChannelRef, publisher: Publisher) -> PollStart | None: ...

    async def journal_club_close(self, channel: ChannelRef, publisher: Publisher) -> PollClose: ...

    async def journal_club_history(self, channel: ChannelRef, *, limit: int = 10) -> list[PastWinner]: ...

    async def journal_club_poll(self, channel: ChannelRef) -> PollDraft | None: ...

    async def poll_vote(
        self, channel: ChannelRef, message_id: str, user_id: str, choice: int
    ) -> tuple[PollDraft, int | None]: ...

    async def poll_unvote(self, channel: ChannelRef, message_id: str, user_id: str, choice: int) -> PollDraft: ...

    async def close_due_polls(self, publisher_for: Callable[[str], Publisher | None]) -> list[PollClose]: ...


@runtime_checkable
class Publisher(Protocol):
    """The only thing the core asks of a chat adapter.

    A digest is published one entry at a time so that the engine can record each message the moment it exists.
    Every digest message carries its idempotency key (`PostKey`) inside it, so that a resumed or taken-over digest
    can `find` a message whose answer never arrived before deciding to post it again.

    Failures, in the core's words: `bot.domain.errors.UpstreamUnavailable` for what may pass (429 beyond the client's
    own
    retries, 5xx, network, timeouts; `retry_after` set when the platform gave one) and
    `bot.domain.errors.Undeliverable` for what will not (scope "message", "channel" or "workspace"). Once a message
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

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        """A link people can open to `message_id`, a message this bot posted in `channel` (Discord: the jump URL;
        Slack: the workspace's own link from the platform; console: the message id). Best effort: never raises,
        falls back to a plain reference to the message."""
        ...


@runtime_checkable
class PollPublisher(Publisher, Protocol):
    """A Publisher that can run journal-club polls (issue 19). Like digest messages, both messages carry their key
    (`bot.domain.model.poll_key`) so `find` adopts one whose answer was lost."""

    async def start_poll(self, channel: ChannelRef, draft: PollDraft, *, key: PostKey) -> PostedMessage:
        """Post the poll: the full titles and links, then the answers (Discord: a native poll lasting
        `draft.hours`; Slack: a button per paper, with `draft.counts`)."""
        ...

    async def end_poll(self, channel: ChannelRef, message_id: str, *, final: PollDraft) -> PollTally | None:
        """End the poll on the platform. Returns its final counts where the platform counted (Discord: expire it,
        read the answers' counts); None where the core recorded the votes (Slack: the message is updated to
        `final`, closed with the counts the core recorded)."""
        ...

    async def announce_winner(self, channel: ChannelRef, outcome: PollOutcome, *, key: PostKey) -> PostedMessage:
        """Post the winner: `bot.domain.messages.winner_announcement(outcome)` above the paper's card."""
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
    """What the engine reports (bot.runtime.metrics.Metrics exposes it to Prometheus)."""

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


# ── storage: the unit of work and its repositories ─────────────────────────────────────────────────────────────
# What the core (HotPapers, cards, the digest poster, votes, the ingestor) asks of storage, and all it may ask.
# `bot.storage.uow.UnitOfWork` implements them on SQLAlchemy; `tests/engine/fake_uow.py` in memory. Results are
# the model's dataclasses and `bot.domain.records`: no row crosses this line.


class Channels(Protocol):
    async def find(self, ref: ChannelRef) -> Channel | None: ...

    async def find_with_activity(self, ref: ChannelRef) -> tuple[Channel | None, ChannelActivity | None]:
        """`find` and `Votes.channel_activity` together (one round trip where the database can)."""
        ...

    async def id_of(self, ref: ChannelRef) -> int | None:
        """The channel's id (None if we have never seen it)."""
        ...

    async def ensure(self, ref: ChannelRef, *, defaults: ChannelSettings, now: datetime) -> Channel:
        """The channel, created (unsubscribed, with `defaults`) on first contact; safe under races."""
        ...

    async def save(self, channel: Channel, settings: ChannelSettings, *, by: str | None = None) -> None:
        """Store the settings a channel chose; `settings.paused` None lifts a pause, and `by` is who subscribed."""
        ...

    async def subscribed(self) -> list[tuple[ChannelRef, ChannelSettings]]: ...

    async def pause(self, refs: Sequence[ChannelRef], pause: Pause) -> None: ...

    async def unpause(self, ref: ChannelRef) -> None: ...

    async def subscriber(self, ref: ChannelRef) -> str | None: ...


class Votes(Protocol):
    async def clear_reactions(self, channel_id: int, paper_id: str, reaction: str | None) -> int: ...

    async def tallies(self, channel_id: int | None, paper_ids: Sequence[str]) -> dict[str, VoteTally]:
        """Up/down counts per paper; `channel_id=None` sums every channel."""
        ...

    async def channel_votes(self, channel_id: int) -> dict[str, tuple[int, int, int]]:
        """(up, down, net) per paper voted on in the channel."""
        ...

    async def channel_activity(self, channel_id: int) -> ChannelActivity: ...

    async def most_voted(self, channel_id: int, since: datetime, *, limit: int) -> list[tuple[str, VoteTally]]: ...

    async def forget(self, platform: str, user_id: str) -> int: ...


class VoteBatches(Protocol):
    """The set-wise reads and writes behind `bot.app.votes.record_votes`."""

    async def first_deliveries(self, keys: Sequence[tuple[str, str]], *, now: datetime) -> set[tuple[str, str]]: ...

    async def existing_papers(self, ids: Sequence[str]) -> set[str]: ...

    async def remember_and_lock(
        self,
        events: Sequence[tuple[str, str]],
        keys: Sequence[VoteKey],
        *,
        unknown: Sequence[tuple[int, str, str]] = (),
        now: datetime,
        sync_commit: bool = True,
    ) -> tuple[set[tuple[str, str]], dict[VoteKey, Vote], dict[tuple[int, str], str]]:
        """`first_deliveries(events)`; the papers of the messages of `unknown` (channel id, message id, user id)
        reactions; and the votes of `keys` and of those reactions, read and locked — or, where the database writes a
        group in one statement (PostgreSQL), only read: `apply_many` then remembers the events with its writes and
        raises `VotesChanged` (writing nothing) if another writer got there first. `sync_commit=False`: the commit
        will not wait for the disk (where the database can)."""
        ...

    async def apply_many(
        self,
        reactions: Sequence[Reaction],
        *,
        now: datetime,
        before: dict[VoteKey, Vote] | None = None,
        counted: Collection[tuple[int, str]] | None = None,
    ) -> tuple[list[bool], dict[tuple[int, str], VoteTally]]: ...

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]: ...


class Events(Protocol):
    async def first_delivery(self, platform: str, event_id: str, *, now: datetime) -> bool:
        """Record the event id; False when it was seen before (a retried delivery)."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget event ids seen before `before`; returns how many went."""
        ...


class Papers(Protocol):
    async def get(self, paper_id: str) -> Paper | None: ...

    async def get_many(self, ids: Sequence[str]) -> dict[str, Paper]: ...

    async def categories(self, ids: Sequence[str]) -> dict[str, tuple[str, ...]]: ...

    async def save(self, papers: Sequence[Paper], *, now: datetime) -> tuple[int, int]:
        """Insert new papers, move known ones to a newer version; returns (new, updated)."""
        ...

    async def mark_announced(self, ids: Sequence[str], day: date) -> None: ...

    async def announced_between(self, first: date, last: date) -> list[Paper]: ...

    async def window_fingerprint(self, first: date, last: date) -> tuple[object, ...]:
        """What changes when the papers announced in [first, last] or their signals change."""
        ...

    async def latest_announcement(self, on_or_before: date) -> date | None: ...


class Signals(Protocol):
    async def add(self, readings: Iterable[tuple[str, Signal]]) -> int: ...

    async def latest(self, ids: Sequence[str]) -> dict[str, tuple[Signal, ...]]:
        """The newest reading of each source for each paper."""
        ...


class Summaries(Protocol):
    async def add(
        self,
        paper_id: str,
        summary: Summary,
        *,
        version: int | None = None,
        author_id: str | None = None,
        channel_id: int | None = None,
    ) -> Summary: ...

    async def replace_source(self, paper_id: str, summary: Summary) -> None: ...

    async def vote(self, summary_id: int, user_id: str, value: int) -> None: ...

    async def get(self, summary_id: int) -> tuple[str, Summary] | None:
        """(paper id, summary) for a summary id."""
        ...

    async def forget_llm(self, paper_id: str, *, model: str) -> int: ...

    async def report(self, summary_id: int) -> bool: ...

    async def delete_by_author(self, author_id: str) -> int: ...


class Digests(Protocol):
    """The exactly-once claim on a (channel, day) digest, fenced (see `bot.app.digest`)."""

    async def last_for_channels(self, channel_ids: Sequence[int]) -> dict[int, DigestStatus]:
        """Each channel's latest daily digest (`hotpapers status`)."""
        ...

    async def claim(
        self, channel_id: int, day: date, *, holder: str, now: datetime, lease: timedelta, kind: str = "daily"
    ) -> Claim:
        """`kind` "roundup": the weekly roundup's claim, keyed by the week's last day, apart from that day's digest."""
        ...

    async def renew(
        self, digest_id: int, fence: int, *, until: datetime, header_intent: datetime | None = None
    ) -> bool:
        """Extend the lease (False: the fence is lost); with `header_intent`, write the header's intent with it."""
        ...

    async def renewed(self, digest_id: int, fence: int, until: datetime | None) -> bool:
        """`renew` when `until` is given, else True: the write that follows checks the fence."""
        ...

    async def intend_header(self, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool: ...

    async def record_header(
        self, digest_id: int, fence: int, message_id: str, *, until: datetime | None
    ) -> Recorded: ...

    async def header_of(self, digest_id: int) -> tuple[str | None, str]: ...

    async def finish(self, digest_id: int, fence: int, *, now: datetime) -> bool: ...

    async def release(self, digest_id: int, fence: int, *, now: datetime, error: str | None = None) -> None: ...

    async def abandon(self, digest_id: int, fence: int) -> bool: ...

    async def progress(self, digest_id: int) -> tuple[int, int]: ...


class Posts(Protocol):
    """A digest's planned entries and the messages that show them."""

    async def plan(self, digest_id: int, channel_id: int, day: date, entries: Sequence[PlanEntry]) -> list[PlannedPost]:
        """Store a digest's entries (keyed by its `day`, which each entry keeps a copy of) before anything is posted;
        returns them as `planned` would."""
        ...

    async def plan_fenced(
        self,
        digest_id: int,
        fence: int,
        channel_id: int,
        day: date,
        entries: Sequence[PlanEntry],
        *,
        until: datetime,
        header_intent: datetime | None,
    ) -> list[PlannedPost] | None:
        """`plan` while the fence holds, renewing the lease (and writing the header's intent, with `header_intent`)
        as `Digests.renew` does; None when the fence was lost, and then nothing is stored."""
        ...

    async def planned(self, digest_id: int) -> list[PlannedPost]: ...

    async def intend(
        self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime | None
    ) -> bool: ...

    async def record(
        self,
        post_id: int,
        digest_id: int,
        fence: int,
        message_id: str,
        *,
        now: datetime,
        until: datetime | None,
        next_id: int | None = None,
    ) -> Recorded:
        """With `next_id`, the intent of that entry is written by the same fenced statement."""
        ...

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime | None) -> bool: ...

    async def slot(self, post_id: int) -> str | None: ...

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]: ...

    def remembered_papers(
        self, keys: Sequence[tuple[int, str]]
    ) -> tuple[dict[tuple[int, str], str], list[tuple[int, str]]]:
        """The papers of these (channel id, message id) pairs that are remembered, and the pairs that are not."""
        ...

    async def papers_of_messages(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]: ...

    async def posted_versions_everywhere(self, paper_ids: Iterable[str]) -> dict[int, dict[str, int]]: ...


class CardPartsReader(Protocol):
    async def read(self, papers: Sequence[Paper]) -> CardParts:
        """The visible summaries and the postings of `papers`."""
        ...

    async def paper_view(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        """Everything a `/paper` card shows about a stored paper (None if it is not stored)."""
        ...


class ReadModel(Protocol):
    """What the use cases read through a cache instead of the unit of work alone: an announcement window's papers
    and signals shared by every channel's digest, the categories a channel's taste needs, what cards show besides
    the papers. `bot.storage.window.WindowCache` implements it; the composition root builds one per process and
    hands it in (`bot.app.cards.CardContext.windows`). Each method reads through `uow` when what it remembers is
    stale."""

    async def window(self, uow: UnitOfWork, first: date, last: date) -> Window:
        """The papers announced in [first, last] with their latest signals."""
        ...

    def category_lists(self) -> tuple[dict[str, int], list[tuple[str, ...]]]:
        """paper id -> index into the list of distinct category lists, and that list, for remembered papers."""
        ...

    async def remember_categories(self, uow: UnitOfWork, ids: Collection[str]) -> None:
        """Read and remember the categories of `ids`."""
        ...

    async def posted(self, uow: UnitOfWork, window: Window, channel_id: int) -> dict[str, int]:
        """{paper: highest version posted (or planned) in the channel} for the window's papers."""
        ...

    async def card_parts(self, uow: UnitOfWork, papers: Sequence[Paper]) -> CardParts:
        """`CardPartsReader.read`, remembered."""
        ...


class Pages(Protocol):
    """Channels' public pages (`bot.app.publishing`)."""

    async def state(self, channel_id: int) -> PageState | None: ...

    async def publish(self, channel_id: int, token_hash: str, *, now: datetime, rotated: bool = False) -> PageState: ...

    async def unpublish(self, channel_id: int) -> bool: ...


class Threads(Protocol):
    """Discussion threads on posted messages and who replied in them (never the text)."""

    async def on_message(self, channel_id: int, message_id: str) -> ThreadRecord | None: ...

    async def by_thread(self, channel_id: int, thread_id: str) -> ThreadRecord | None: ...

    def opening(self, channel_id: int, message_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a thread is opened on the message and recorded: one process at a time across replicas (any
        other waits for it, then finds the thread recorded). `UpstreamUnavailable` if another holds it too long."""
        ...

    async def open(self, channel_id: int, message_id: str, paper_id: str, thread_id: str, *, now: datetime) -> bool:
        """Record a thread; False when one was recorded already for that message."""
        ...

    async def add_reply(self, thread: ThreadRecord, message_id: str, user_id: str, *, now: datetime) -> bool:
        """Count one reply, once per reply message."""
        ...

    async def remove_reply(self, channel_id: int, message_id: str) -> str | None:
        """Forget a deleted reply; the paper it counted for, or None."""
        ...

    async def people(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """Distinct people who replied per paper in the channel (papers without replies absent)."""
        ...

    async def posted_message(self, channel_id: int, paper_id: str) -> str | None:
        """The latest message the paper was posted with in the channel's digests."""
        ...

    async def week_posts(self, channel_id: int, first: date, last: date) -> dict[str, str]:
        """paper → its latest message among the channel's daily digests of days [first, last]."""
        ...

    async def forget(self, platform: str, user_id: str) -> int: ...

    async def prune(self, before: datetime) -> int: ...


class Polls(Protocol):
    """Journal-club polls (issue 19, `bot.app.journal_club`): the fenced claims that start and close a poll once, the
    votes the core records, the channel's history."""

    async def claim_start(
        self,
        channel_id: int,
        *,
        holder: str,
        now: datetime,
        lease: timedelta,
        candidates: Sequence[str],
        closes_at: datetime,
        hours: int,
        week: str | None = None,
        by: str | None = None,
    ) -> tuple[StartOutcome, PollRecord | None]: ...

    async def resume_start(
        self, poll_id: int, *, holder: str, now: datetime, lease: timedelta
    ) -> PollRecord | None: ...

    async def intend_start(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool: ...

    async def record_start(self, poll_id: int, fence: int, message_id: str) -> Recorded: ...

    async def abandon(self, poll_id: int, fence: int) -> bool: ...

    async def release(self, poll_id: int, fence: int, *, now: datetime, error: str | None = None) -> None: ...

    async def claim_close(
        self, poll_id: int, *, holder: str, now: datetime, lease: timedelta, force: bool
    ) -> tuple[CloseOutcome, PollRecord | None]: ...

    async def store_result(
        self, poll_id: int, fence: int, counts: Sequence[int], winner: str, tie: str, *, until: datetime
    ) -> bool: ...

    async def intend_announce(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool: ...

    async def record_announce(self, poll_id: int, fence: int, message_id: str, *, now: datetime) -> Recorded: ...

    async def record_thread(self, poll_id: int, thread_id: str) -> None: ...

    async def get(self, poll_id: int) -> PollRecord | None: ...

    async def current(self, channel_id: int) -> PollRecord | None: ...

    async def by_message(self, channel_id: int, message_id: str) -> PollRecord | None: ...

    async def due(self, now: datetime, *, limit: int = 100) -> list[tuple[int, str, str, str, str]]: ...

    async def history(self, channel_id: int, *, limit: int) -> list[PollRecord]: ...

    async def posted_since(self, channel_id: int, since: date) -> list[str]: ...

    async def vote(self, poll_id: int, user_id: str, choice: int, *, now: datetime) -> None: ...

    async def unvote(self, poll_id: int, user_id: str, choice: int) -> bool: ...

    async def choice_of(self, poll_id: int, user_id: str) -> int | None: ...

    async def tally(self, poll_id: int, options: int) -> tuple[int, ...]: ...

    async def forget(self, platform: str, user_id: str) -> int: ...


class UnitOfWork(Protocol):
    """`async with uow: … await uow.commit()`: one transaction per use case, rolled back unless it commits."""

    @property
    def papers(self) -> Papers: ...
    @property
    def signals(self) -> Signals: ...
    @property
    def summaries(self) -> Summaries: ...
    @property
    def channels(self) -> Channels: ...
    @property
    def votes(self) -> Votes: ...
    @property
    def events(self) -> Events: ...
    @property
    def digests(self) -> Digests: ...
    @property
    def posts(self) -> Posts: ...
    @property
    def vote_batch(self) -> VoteBatches: ...
    @property
    def card_parts(self) -> CardPartsReader: ...
    @property
    def pages(self) -> Pages: ...
    @property
    def threads(self) -> Threads: ...
    @property
    def polls(self) -> Polls:
        """Journal-club polls (issue 19)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def read_only(self) -> None:
        """Declared before the first query by a unit of work that only reads."""
        ...

    async def one_statement(self) -> None:
        """Declared before the first query by a unit of work that writes with a single statement (plus reads that
        only explain its outcome): it runs without BEGIN and COMMIT round trips."""
        ...

    async def planning(self) -> None:
        """Declared before the first query by a unit of work that reads a digest's inputs and then stores its plan
        (`Posts.plan_fenced`): where that write is one statement it runs without BEGIN and COMMIT round trips, as
        `one_statement`; elsewhere in a transaction."""
        ...

    async def commit(self) -> None: ...
