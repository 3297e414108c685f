"""What storage hands the core besides the model's dataclasses: a channel's vote activity, the state of a digest's
claim and plan, a channel page's state, what a card reads. Plain frozen dataclasses; no row leaves bot/storage/."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from bot.domain.model import Paper, PostRecord, Signal, Summary, VoteTally


@dataclass(frozen=True, slots=True)
class ChannelActivity:
    """A channel's net vote on every paper it voted on, as parallel lists (paper, net): its taste's raw material.
    The up and down counts are read only for the papers a digest shows (`Votes.tallies`)."""

    voted: list[str]
    net: list[int]


Recorded = Literal["recorded", "fence-lost", "taken"]
"""What a fenced record did: stored the message; refused because another holder has the claim now; or refused
because the slot already holds another message (someone else recorded that entry first)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A holder's claim on one (channel, day) digest. `fence` is its token: every record about the digest must
    present it, and a takeover bumps it, so a holder that lost the claim can no longer record anything."""

    digest_id: int
    outcome: Literal["new", "resumed", "done-before", "held-elsewhere"]
    fence: int = 0
    header_message_id: str | None = None
    header_intent: bool = False
    claimed_at: datetime | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestStatus:
    day: date
    state: str
    finished_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PlannedPost:
    post_id: int
    rank: int
    paper_id: str
    version: int
    updated: bool
    message_id: str | None
    intent: bool = False
    skipped: str | None = None
    score: float | None = None
    why: tuple[str, ...] | None = None

    @property
    def open(self) -> bool:
        """Still to be posted: no message recorded and not skipped for good."""
        return self.message_id is None and self.skipped is None


@dataclass(frozen=True, slots=True)
class PlanEntry:
    rank: int
    paper_id: str
    version: int
    updated: bool
    score: float
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PageState:
    channel_id: int
    feed_id: str
    published: bool
    published_at: datetime | None


CardParts = tuple[dict[str, list[Summary]], dict[str, list[PostRecord]]]
"""The visible summaries and the postings of each paper, by paper id."""


@dataclass(frozen=True, slots=True)
class PaperView:
    """Everything a `/paper` card reads about one stored paper."""

    paper: Paper
    signals: tuple[Signal, ...]
    votes: VoteTally
    summaries: list[Summary]
    postings: list[PostRecord]
    """The most recent `POSTINGS_ON_A_CARD`, oldest first."""
    posted_count: int
    discussion: int = 0
    """People who replied in the paper's discussion threads in the channel asked from (0 without a channel)."""


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    """A discussion thread opened on a posted message: which paper it is about, and the platform's thread id."""

    id: int
    channel_id: int
    message_id: str
    paper_id: str
    thread_id: str


# ── journal club (issue 19) ─────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class PollRecord:
    """A journal-club poll as stored: its claim (state, holder, fence, lease), its papers, its messages, its result.
    `state` is "starting", "open", "closing" or "closed"."""

    id: int
    channel_id: int
    state: str
    holder: str
    fence: int
    lease_until: datetime
    created_at: datetime
    closes_at: datetime
    hours: int
    candidates: tuple[str, ...]
    start_intent: bool
    message_id: str | None
    counts: tuple[int, ...] | None
    winner: str | None
    tie: str
    announce_intent: bool
    announce_message_id: str | None
    closed_at: datetime | None
    thread_id: str | None = None


StartOutcome = Literal["new", "resumed", "open", "held-elsewhere", "done-before"]
"""What claiming a poll's start found (`Polls.claim_start`)."""
CloseOutcome = Literal["new", "resumed", "closed-before", "held-elsewhere", "not-due"]
"""What claiming a poll's close found (`Polls.claim_close`)."""


@dataclass(eq=False)
class WindowDerived:
    """What the use cases derive from a window and keep with it (`bot.app.digest_rank`: filter matches, the score no
    channel changes; the read model: what was posted where). Goes with the window: a rebuilt window starts empty."""

    unions: dict[tuple[str, frozenset[str]], frozenset[str]] = field(default_factory=dict)
    """(filter kind, set of terms) -> the papers any of the terms matches."""
    terms: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    """(filter kind, term) -> the papers the term matches."""
    categories: dict[str, list[Paper]] = field(default_factory=dict)
    """Category or archive name -> the window's papers in it."""
    texts: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    """Filter kind -> the searched text of every paper joined by NUL, and where each paper's text starts."""
    steady: datetime | None = None
    """When the last of the window's papers is announced (ages all count from then on)."""
    channel_free: tuple[list[str], dict[str, float]] | None = None
    """Ids best first by the score no channel changes, and those scores."""
    posted: tuple[tuple[int, float], dict[int, dict[str, int]]] | None = None
    """(when read, channel id -> {paper: highest version posted there})."""
    posted_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One read of `posted` for digests started together."""


@dataclass(eq=False)
class Window:
    """An announcement window's papers and their latest signals, as the read model (`bot.domain.ports.ReadModel`) hands
    them out; `generation`, `fingerprint` and `checked` are the cache's bookkeeping."""

    first: date
    last: date
    papers: list[Paper]
    signals: dict[str, tuple[Signal, ...]]
    generation: int
    fingerprint: tuple[object, ...]
    checked: float
    by_id: dict[str, Paper] = field(init=False)
    ids: frozenset[str] = field(init=False)
    derived: WindowDerived = field(default_factory=WindowDerived)

    def __post_init__(self) -> None:
        self.by_id = {paper.id: paper for paper in self.papers}
        self.ids = frozenset(self.by_id)
