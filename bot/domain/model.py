"""The domain objects that cross the port between the core and the adapters.

Every type here is a frozen, slotted dataclass: adapters receive plain values they can render, never ORM rows or
platform objects, and nothing they do to a value can change the engine's state behind its back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

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
CHANNEL_NAME_LIMIT = 200
"""The longest display label the database stores; a longer one is cut."""


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
        from bot.domain.errors import BadInput

        shown = key[:60] + ("…" if len(key) > 60 else "")
        parts = [part.strip() for part in key.split(":")]
        if len(parts) != 3 or not all(parts):
            raise BadInput(f"channel key {shown!r} must look like platform:workspace:channel, e.g. console:local:demo")
        return cls(*parts).checked()

    @property
    def stored_name(self) -> str:
        """The display label as the database stores it."""
        return self.name[:CHANNEL_NAME_LIMIT]

    def renames(self, stored: str) -> bool:
        """Whether this ref brings a display label other than `stored`, the channel's stored one (none: no)."""
        return bool(self.name) and stored != self.stored_name

    def checked(self) -> ChannelRef:
        """This ref, or BadInput naming the part longer than the database stores (whatever built it)."""
        from bot.domain.errors import BadInput

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
    discussed: tuple[Discussion, ...] = ()
    """Where the paper's discussion thread has replies (`/paper` in a channel: that channel's)."""

    @property
    def why_line(self) -> str:
        return " · ".join(self.why)


@dataclass(frozen=True, slots=True)
class DigestEntry:
    rank: int
    card: PaperCard
    updated: bool = False
    discuss: bool = True
    """Show the Discuss button (the channel's `threads` is not `off`)."""


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


_POST_KEY = re.compile(
    r"\b(hp|hr)-(\d{4})(\d{2})(\d{2})-(\d{1,3})(?:-([A-Za-z0-9./-]{1,40}v\d+|jc\d{1,12}(?:poll|win)))?\b"
)


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
    """`2010.00577v1` for an entry; empty for the header; `jc7poll` / `jc7win` for a journal-club poll (`poll_key`)."""
    prefix: str = "hp"
    """`hp` for the daily digest and the journal club; `hr` for the weekly roundup (one message, keyed by the week's
    last day)."""

    def __str__(self) -> str:
        return f"{self.prefix}-{self.day:%Y%m%d}-{self.rank}" + (f"-{self.paper}" if self.paper else "")

    @classmethod
    def header(cls, day: date) -> PostKey:
        return cls(day, 0)

    @classmethod
    def search(cls, text: str) -> PostKey | None:
        """The key inside a message's text, footer or metadata, if there is one."""
        found = _POST_KEY.search(text or "")
        if found is None:
            return None
        prefix, year, month, day, rank, paper = found.groups()
        try:
            return cls(date(int(year), int(month), int(day)), int(rank), paper or "", prefix)
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
    threads: Literal["button", "always", "off"] = "button"
    """Discussion threads: a Discuss button on each card (`button`), one opened for every entry as it is posted
    (`always`), or neither (`off`)."""
    roundup: bool = False
    """The weekly roundup: the week's top papers by this channel's net votes and discussion."""
    roundup_day: int = 4
    """Monday = 0; Friday by default."""
    roundup_time: str = "16:00"
    """In the channel's time zone."""
    roundup_empty: bool = False
    """Post one line for a week without votes or replies (else nothing)."""
    # journal club
    journal_club: str = ""
    """A weekly journal-club poll (issue 19): `fri 15:00`, a day and a time in the channel's time zone; "" = none."""


@dataclass(frozen=True, slots=True)
class IngestReport:
    day: date
    announced: int
    new_papers: int
    updated_papers: int
    requests: int


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as the bot stores it: its id, where it is, what it chose (with its pause, if any) and who
    subscribed it last (told about a pause). Storage maps its row to this; the core never sees the row."""

    id: int
    ref: ChannelRef
    settings: ChannelSettings
    subscribed_by: str | None = None

    @property
    def subscribed(self) -> bool:
        return self.settings.subscribed


@dataclass(frozen=True, slots=True)
class Discussion:
    """A paper's discussion thread in one channel: how many distinct people replied there."""

    channel: ChannelRef
    people: int


@dataclass(frozen=True, slots=True)
class ThreadOpened:
    """A discussion thread on a posted paper's message (the Discuss button, `/thread`, `threads=always`)."""

    channel: ChannelRef
    message_id: str
    thread_id: str
    paper_id: str
    title: str
    created: bool
    """False when the thread was already open (a second click)."""
    people: int = 0


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """Someone wrote in a thread the bot opened. Only who and where are kept, never the text.

    `thread_id` is what the platform's reply carries: the thread channel's id (Discord) or `thread_ts` (Slack)."""

    channel: ChannelRef
    thread_id: str
    message_id: str
    user_id: str
    by_bot: bool = False


@dataclass(frozen=True, slots=True)
class RoundupEntry:
    rank: int
    card: PaperCard
    net: int
    people: int
    message_id: str
    """The paper's original post in this channel (its link is the platform's)."""


@dataclass(frozen=True, slots=True)
class Roundup:
    """The week's top papers in one channel by its net votes and discussion, for the week ending on `last_day`."""

    channel: ChannelRef
    first_day: date
    last_day: date
    entries: tuple[RoundupEntry, ...]


@dataclass(frozen=True, slots=True)
class RoundupResult:
    roundup: Roundup
    state: Literal["posted", "done-before", "held-elsewhere", "empty", "quiet", "paused"]
    """`quiet`: no votes and no replies this week, and no line asked for: nothing posted, nothing claimed."""
    message_id: str | None = None


# ── journal club (issue 19) ─────────────────────────────────────────────────────────────────────────────────────────

POLL_MAX_OPTIONS = 10
"""Discord allows at most 10 answers in a poll."""
POLL_LABEL_CHARS = 55
"""Discord's limit for one answer's text: longer titles are shortened with an ellipsis (the full title and its link
are in the message above the poll)."""
POLL_MAX_HOURS = 768
"""Discord polls last a whole number of hours, 1 to 768 (32 days)."""


def poll_key(day: date, poll_id: int, part: Literal["poll", "win"]) -> PostKey:
    """The idempotency key of a journal-club message: the poll itself, or the winner's announcement
    (`hp-20201107-0-jc7poll`). Like a digest message's key, it is carried inside the message so `find` can adopt it."""
    return PostKey(day, 0, f"jc{poll_id}{part}")


@dataclass(frozen=True, slots=True)
class PollOption:
    """One paper a journal-club poll offers: the full title, the answer's label (≤ 55 characters) and its link."""

    paper_id: str
    title: str
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class PollDraft:
    """A journal-club poll as the adapters render it. `counts` (option order) are the live counts the core recorded
    (Slack buttons, the console); Discord keeps its own, read when the poll ends."""

    poll_id: int
    channel: ChannelRef
    options: tuple[PollOption, ...]
    closes: datetime
    hours: int
    counts: tuple[int, ...] = ()
    closed: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class PollTally:
    """The final answer counts a platform read from its own poll (Discord), in option order."""

    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """A closed poll: the winner's card, every option's votes and, when the top was tied, how the tie was broken."""

    poll_id: int
    channel: ChannelRef
    winner: PaperCard
    options: tuple[PollOption, ...]
    counts: tuple[int, ...]
    tie: str
    """Empty unless several papers had the most votes: then the sentence saying how the winner was chosen."""
    closed_at: datetime
    thread_id: str | None = None

    @property
    def votes(self) -> int:
        index = next(i for i, option in enumerate(self.options) if option.paper_id == self.winner.paper.id)
        return self.counts[index] if index < len(self.counts) else 0


@dataclass(frozen=True, slots=True)
class PollStart:
    """What `/journalclub start` did: "started" (or "resumed" an interrupted start), or found a poll "open" already,
    "held-elsewhere" (another replica is starting one), "done-before" (this week's scheduled poll ran)."""

    state: Literal["started", "resumed", "open", "held-elsewhere", "done-before"]
    draft: PollDraft | None = None
    message: PostedMessage | None = None


@dataclass(frozen=True, slots=True)
class PollClose:
    """What closing did: "closed" (the outcome was announced now), "held-elsewhere" (another replica is closing
    it), "closed-before", or "not-due" (a scheduled close found the poll still running)."""

    state: Literal["closed", "held-elsewhere", "closed-before", "not-due"]
    outcome: PollOutcome | None = None


@dataclass(frozen=True, slots=True)
class PastWinner:
    """One line of `/journalclub history`."""

    poll_id: int
    day: date
    paper_id: str
    title: str
    votes: int
    voters: int
    tie: str = ""


PublishState = Literal["confirm", "published", "already", "unpublished", "not-published", "rotated"]


@dataclass(frozen=True, slots=True)
class PublishAnswer:
    """What the admin is told. `url` (with the token) only when a new one was issued: it is shown once."""

    state: PublishState
    text: str
    url: str | None = None
