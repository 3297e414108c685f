"""The domain objects that cross the port between the core and the adapters.

Every type here is a frozen, slotted dataclass: adapters receive plain values they can render, never ORM rows or
platform objects, and nothing they do to a value can change the engine's state behind its back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Platform = Literal["discord", "slack", "console"]
VoteValue = Literal[1, -1]


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A canonical arXiv identifier: the key without version, and the version apart (None = latest)."""

    id: str
    version: int | None = None

    @property
    def versioned(self) -> str:
        return f"{self.id}v{self.version}" if self.version else self.id

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.versioned}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.versioned}"

    def __str__(self) -> str:
        return self.versioned


CHANNEL_KEY_LIMITS = {"platform": 16, "workspace": 64, "channel": 64}
"""The longest part of a channel key the database stores (the columns of `channels`)."""


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a conversation happens: platform, workspace (guild / team) and channel id.

    `name` is a display label only ("#ml-papers"); identity is the first three fields.
    """

    platform: str
    workspace: str
    channel: str
    name: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @classmethod
    def parse(cls, key: str) -> ChannelRef:
        """Parse `platform:workspace:channel` (the CLI's `--channel KEY`)."""
        from bot.errors import BadInput

        shown = key[:60] + ("…" if len(key) > 60 else "")
        parts = [part.strip() for part in key.split(":")]
        if len(parts) != 3 or not all(parts):
            raise BadInput(f"channel key {shown!r} must look like platform:workspace:channel, e.g. console:local:demo")
        return cls(*parts).checked()

    def checked(self) -> ChannelRef:
        """This ref, or BadInput naming the part longer than the database stores (whatever built it)."""
        from bot.errors import BadInput

        shown = self.key[:60] + ("…" if len(self.key) > 60 else "")
        for (label, limit), part in zip(CHANNEL_KEY_LIMITS.items(), (self.platform, self.workspace, self.channel),
                                        strict=True):  # fmt: skip
            if len(part) > limit:
                raise BadInput(
                    f"channel key {shown!r}: the {label} part is {len(part)} characters; the limit is {limit}"
                )
        return self


@dataclass(frozen=True, slots=True)
class Paper:
    """arXiv metadata for the latest version we know of."""

    id: str
    version: int
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    primary_category: str
    published: datetime
    updated: datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    announced: date | None = None

    @property
    def ref(self) -> ArxivId:
        return ArxivId(self.id, self.version)

    @property
    def abs_url(self) -> str:
        return abs_url(self.id)

    @property
    def pdf_url(self) -> str:
        return pdf_url(self.id, self.version)


def abs_url(paper_id: str) -> str:
    """A paper's abstract page on arXiv (always its latest version)."""
    return f"https://arxiv.org/abs/{paper_id}"


def pdf_url(paper_id: str, version: int) -> str:
    return f"https://arxiv.org/pdf/{paper_id}v{version}"


@dataclass(frozen=True, slots=True)
class Announcement:
    """One item of a daily arXiv announcement (RSS): which paper, which version, and why it is listed."""

    id: str
    version: int
    kind: Literal["new", "cross", "replace", "replace-cross"]
    day: date
    categories: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True, slots=True)
class Signal:
    """One popularity reading for a paper from one source, with the moment it was taken.

    `value` is what ranking scales (upvotes, points, mentions); `label` is how the why-line names it ("HF 41").
    """

    source: str
    value: float
    label: str
    fetched_at: datetime
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary and where it came from. `source` is one of SUMMARY_SOURCES."""

    text: str
    source: str
    created: datetime
    author: str | None = None
    model: str | None = None
    votes: int = 0
    id: int | None = None

    @property
    def provenance(self) -> str:
        label = SUMMARY_SOURCES.get(self.source, self.source)
        if self.source == "community" and self.author:
            return f"{label} by {self.author}"
        if self.model:
            return f"{label} ({self.model}, {self.created:%Y-%m-%d})"
        return label


SUMMARY_SOURCES: dict[str, str] = {
    "community": "Community summary",
    "hf": "Hugging Face AI summary",
    "s2": "Semantic Scholar TLDR",
    "llm": "LLM summary",
    "extractive": "Key sentences from the abstract",
}


@dataclass(frozen=True, slots=True)
class VoteTally:
    up: int = 0
    down: int = 0

    @property
    def net(self) -> int:
        return self.up - self.down


POSTINGS_ON_A_CARD = 10
"""The most recent postings a `/paper` card carries (with the count of all of them)."""


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A paper was posted in a channel's digest on a day."""

    channel: ChannelRef
    day: date


@dataclass(frozen=True, slots=True)
class PaperCard:
    """Everything an adapter needs to render one paper: metadata, best summary, signals, votes and why it is hot."""

    paper: Paper
    summary: Summary
    signals: tuple[Signal, ...] = ()
    votes: VoteTally = field(default_factory=VoteTally)
    score: float = 0.0
    """How hot the paper is: its signals plus the votes counted (log scale); one value per paper and channel."""
    why: tuple[str, ...] = ()
    posted: tuple[PostRecord, ...] = ()
    """Where and when the paper was posted, oldest first: every posting on a digest's card, the most recent
    `POSTINGS_ON_A_CARD` on a `/paper` card (a popular paper was posted in hundreds of channels)."""
    posted_count: int = 0
    """How many digests carried the paper in all (`posted` may hold only the most recent)."""
    unavailable: tuple[str, ...] = ()
    rank_score: float = 0.0
    """What a digest sorts by: `score` plus the channel's keyword, author and taste terms, minus the age decay
    (comparable only within one digest). Equal to `score` outside a digest."""

    @property
    def why_line(self) -> str:
        return " · ".join(self.why)


@dataclass(frozen=True, slots=True)
class DigestEntry:
    rank: int
    card: PaperCard
    updated: bool = False


@dataclass(frozen=True, slots=True)
class Digest:
    channel: ChannelRef
    day: date
    entries: tuple[DigestEntry, ...]
    announced: bool = True
    ingested: bool = True
    """False when nothing was ingested for this day yet (a fresh database, or a weekday after the last ingest):
    the day may well have announcements, we just have not read them."""

    @property
    def header(self) -> str:
        if not self.ingested:
            return f"Nothing ingested for {self.day:%A %Y-%m-%d} yet — run `hotpapers ingest`."
        if not self.announced:
            return f"No new arXiv papers were announced for {self.day:%A %Y-%m-%d}."
        return f"🔥 Hot papers for {self.day:%A %Y-%m-%d} — top {len(self.entries)}"


_POST_KEY = re.compile(r"\bhp-(\d{4})(\d{2})(\d{2})-(\d{1,3})(?:-([A-Za-z0-9./-]{1,40}v\d+))?\b")


@dataclass(frozen=True, slots=True)
class PostKey:
    """The idempotency key of one message of a digest: (day, rank, paper version) within its channel.

    Rank 0 is the digest's header (or its empty-day line). It is written as an intent before the platform request
    and carried inside the message (an embed footer, Slack metadata, the console log), so a resumed or taken-over
    digest can find a message whose answer it never saw: `hp-20201106-3-2010.00577v1`.
    """

    day: date
    rank: int
    paper: str = ""
    """`2010.00577v1` for an entry; empty for the header."""

    def __str__(self) -> str:
        return f"hp-{self.day:%Y%m%d}-{self.rank}" + (f"-{self.paper}" if self.paper else "")

    @classmethod
    def header(cls, day: date) -> PostKey:
        return cls(day, 0)

    @classmethod
    def search(cls, text: str) -> PostKey | None:
        """The key inside a message's text, footer or metadata, if there is one."""
        found = _POST_KEY.search(text or "")
        if found is None:
            return None
        year, month, day, rank, paper = found.groups()
        try:
            return cls(date(int(year), int(month), int(day)), int(rank), paper or "")
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Pause:
    """Why a channel gets no digest until a person acts: the platform's refusal in words, and the fix."""

    reason: str
    fix: str
    scope: Literal["channel", "workspace"]
    since: datetime


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """The platform's handle for a message the bot posted; reactions on it map back to the paper."""

    channel: ChannelRef
    message_id: str


@dataclass(frozen=True, slots=True)
class DigestResult:
    digest: Digest
    posted: int
    skipped_already_posted: int
    """How many entries had a message before this run (resuming) or, when held elsewhere, so far."""
    state: Literal["posted", "resumed", "done-before", "held-elsewhere", "empty", "nothing-matched", "paused"]
    planned: int = 0
    """How many entries the stored plan has (for "3 of 10 posted")."""
    held_until: datetime | None = None
    """Held elsewhere: when the other holder's lease ends."""
    pause: Pause | None = None
    """Paused: why (this run found the channel or its workspace refused)."""


@dataclass(frozen=True, slots=True)
class VoteEvent:
    """A reaction (or button press) on a message the bot posted. `removed` undoes an earlier add."""

    channel: ChannelRef
    user_id: str
    message_id: str
    value: VoteValue
    removed: bool = False
    by_bot: bool = False
    event_id: str | None = None
    reaction: str = ""
    """Which reaction (👍, 🔥, +1::skin-tone-2…): a user's same-sign reactions make one vote until the last goes."""
    paper_id: str | None = None
    """Set for votes cast with a button on a card (no digest message behind it); else None."""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """A channel's subscription: what it wants to see and when."""

    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    top_n: int = 5
    post_time: str = "09:00"
    timezone: str = "UTC"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    announce_empty: bool = False
    subscribed: bool = True
    paused: Pause | None = field(default=None, compare=False)
    """Set while the platform refuses the channel (kept apart from the settings a channel chooses)."""


@dataclass(frozen=True, slots=True)
class IngestReport:
    day: date
    announced: int
    new_papers: int
    updated_papers: int
    requests: int
