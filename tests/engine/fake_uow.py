"""An in-memory unit of work implementing `bot.domain.ports.UnitOfWork` and every repository protocol it names: the
engine's
use cases run on it without a database (fast unit tests of `HotPapers`).

`FakeDatabase` holds the committed tables. A unit of work works on a copy taken when it starts; `commit` makes its
copy the database's, and leaving without a commit drops it — the rollback the real one does. There is one writer at
a time (the tests are single-task), so the copy needs no isolation beyond that. The rules the SQL encodes are
written out here in Python: one vote per (channel, paper, user) through `bot.domain.vote_rules.transition`, summaries
hidden at
`REPORTS_TO_HIDE` reports, LLM summaries only for the paper's current version, fenced digest records.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Self

from bot.domain.model import (
    POSTINGS_ON_A_CARD,
    Channel,
    ChannelRef,
    ChannelSettings,
    Paper,
    Pause,
    PostRecord,
    Signal,
    Summary,
    VoteTally,
)
from bot.domain.ports import UnitOfWork
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
)
from bot.domain.vote_rules import BUTTON, Reaction, Vote, VoteKey, joined, names, reaction_name, transition

REPORTS_TO_HIDE = 3
"""As `bot.storage.summaries.REPORTS_TO_HIDE` (a test checks they agree)."""


@dataclass
class StoredSummary:
    paper_id: str
    version: int | None
    summary: Summary
    author_id: str | None
    channel_id: int | None
    reports: int = 0


@dataclass
class StoredDigest:
    channel_id: int
    day: date
    holder: str
    lease_until: datetime
    claimed_at: datetime
    fence: int = 1
    state: str = "claimed"
    attempts: int = 1
    header_message_id: str | None = None
    header_intent: bool = False
    finished_at: datetime | None = None
    last_error: str | None = None
    kind: str = "daily"


@dataclass
class StoredPost:
    channel_id: int
    digest_id: int
    entry: PlanEntry
    message_id: str | None = None
    posted_at: datetime | None = None
    intent: bool = False
    skipped: str | None = None


@dataclass
class StoredReply:
    thread_id: int
    user_id: str
    paper_id: str
    at: datetime


@dataclass
class StoredPoll:
    """A journal-club poll (issue 19): its record, and the channel and week it holds while not closed."""

    record: PollRecord
    week: str | None


@dataclass
class Tables:
    """What the database holds. Every id comes from one counter, as unique as the real ones."""

    papers: dict[str, Paper] = field(default_factory=dict)
    signals: list[tuple[str, Signal]] = field(default_factory=list)
    summaries: dict[int, StoredSummary] = field(default_factory=dict)
    summary_votes: dict[tuple[int, str], int] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    votes: dict[VoteKey, Vote] = field(default_factory=dict)
    events: set[tuple[str, str]] = field(default_factory=set)
    digests: dict[int, StoredDigest] = field(default_factory=dict)
    posts: dict[int, StoredPost] = field(default_factory=dict)
    pages: dict[int, PageState] = field(default_factory=dict)
    page_tokens: dict[int, str] = field(default_factory=dict)
    threads: dict[int, ThreadRecord] = field(default_factory=dict)
    replies: dict[tuple[int, str], StoredReply] = field(default_factory=dict)
    """(channel id, reply message id) → who replied, in which thread, when."""
    polls: dict[int, StoredPoll] = field(default_factory=dict)  # journal club
    poll_votes: dict[tuple[int, str], int] = field(default_factory=dict)
    last_id: int = 0

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def channel_id(self, ref: ChannelRef) -> int | None:
        key = (ref.platform, ref.workspace, ref.channel)
        return next(
            (c.id for c in self.channels.values() if (c.ref.platform, c.ref.workspace, c.ref.channel) == key), None
        )

    def tally(self, votes: Iterable[Vote]) -> VoteTally:
        values = [vote.value for vote in votes]
        return VoteTally(sum(1 for v in values if v > 0), sum(1 for v in values if v < 0))


class FakeDatabase:
    """The committed state, shared by every unit of work `uow()` makes; counts units of work and commits."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.units = 0
        self.commits = 0
        self.transactions = 0
        """Commits of units of work that did not declare `read_only` or `one_statement` (a BEGIN … COMMIT each)."""

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _t(self) -> Tables:
        return self._uow.tables


class FakeChannels(_Repository):
    async def find(self, ref: ChannelRef) -> Channel | None:
        found = self._t.channel_id(ref)
        return None if found is None else self._t.channels[found]

    async def find_with_activity(self, ref: ChannelRef) -> tuple[Channel | None, ChannelActivity | None]:
        channel = await self.find(ref)
        return channel, (None if channel is None else await FakeVotes(self._uow).channel_activity(channel.id))

    async def id_of(self, ref: ChannelRef) -> int | None:
        return self._t.channel_id(ref)

    async def ensure(self, ref: ChannelRef, *, defaults: ChannelSettings, now: datetime) -> Channel:
        channel = await self.find(ref)
        if channel is None:
            settings = dataclasses.replace(defaults, subscribed=False, paused=None)
            channel = Channel(self._t.new_id(), dataclasses.replace(ref, name=ref.name[:200]), settings)
        elif ref.name and channel.ref.name != ref.name[:200]:
            channel = dataclasses.replace(channel, ref=dataclasses.replace(channel.ref, name=ref.name[:200]))
        self._t.channels[channel.id] = channel
        return channel

    async def save(self, channel: Channel, settings: ChannelSettings, *, by: str | None = None) -> None:
        stored = self._t.channels[channel.id]
        pause = None if settings.paused is None else stored.settings.paused  # a pause lives in its own columns
        self._t.channels[channel.id] = dataclasses.replace(
            stored,
            settings=dataclasses.replace(settings, paused=pause),
            subscribed_by=by[:64] if by else stored.subscribed_by,
        )

    async def subscribed(self) -> list[tuple[ChannelRef, ChannelSettings]]:
        return [(c.ref, c.settings) for c in sorted(self._t.channels.values(), key=lambda c: c.id) if c.subscribed]

    async def pause(self, refs: Sequence[ChannelRef], pause: Pause) -> None:
        for ref in refs:
            self._set_pause(ref, pause)

    async def unpause(self, ref: ChannelRef) -> None:
        self._set_pause(ref, None)

    async def subscriber(self, ref: ChannelRef) -> str | None:
        channel = await self.find(ref)
        return None if channel is None else channel.subscribed_by

    def _set_pause(self, ref: ChannelRef, pause: Pause | None) -> None:
        found = self._t.channel_id(ref)
        if found is not None:
            stored = self._t.channels[found]
            settings = dataclasses.replace(stored.settings, paused=pause)
            self._t.channels[found] = dataclasses.replace(stored, settings=settings)


class FakeVotes(_Repository):
    async def clear_reactions(self, channel_id: int, paper_id: str, reaction: str | None) -> int:
        gone = 0
        for key, vote in list(self._t.votes.items()):
            if key[:2] != (channel_id, paper_id):
                continue
            before = names(vote.reactions)
            after = before - {reaction_name(reaction)} if reaction is not None else before & {BUTTON}
            if not after:
                del self._t.votes[key]
                gone += 1
            elif after != before:
                self._t.votes[key] = dataclasses.replace(vote, reactions=joined(after))
        return gone

    async def tallies(self, channel_id: int | None, paper_ids: Sequence[str]) -> dict[str, VoteTally]:
        per_paper: dict[str, list[Vote]] = defaultdict(list)
        for (cid, pid, _), vote in self._t.votes.items():
            if pid in paper_ids and (channel_id is None or cid == channel_id):
                per_paper[pid].append(vote)
        return {pid: self._t.tally(votes) for pid, votes in per_paper.items()}

    async def channel_votes(self, channel_id: int) -> dict[str, tuple[int, int, int]]:
        per_paper: dict[str, list[Vote]] = defaultdict(list)
        for (cid, pid, _), vote in self._t.votes.items():
            if cid == channel_id:
                per_paper[pid].append(vote)
        found = {}
        for pid, votes in per_paper.items():
            tally = self._t.tally(votes)
            found[pid] = (tally.up, tally.down, sum(v.value for v in votes))
        return found

    async def channel_activity(self, channel_id: int) -> ChannelActivity:
        votes = await self.channel_votes(channel_id)
        return ChannelActivity(list(votes), [net for _, _, net in votes.values()])

    async def most_voted(self, channel_id: int, since: datetime, *, limit: int) -> list[tuple[str, VoteTally]]:
        per_paper: dict[str, list[Vote]] = defaultdict(list)
        for (cid, pid, _), vote in self._t.votes.items():
            if cid == channel_id and vote.updated_at >= since:
                per_paper[pid].append(vote)
        tallies = [(pid, self._t.tally(votes)) for pid, votes in per_paper.items()]
        ranked = sorted((t for t in tallies if t[1].up > 0), key=lambda t: (-t[1].net, -t[1].up, t[0]))
        return ranked[:limit]

    async def forget(self, platform: str, user_id: str) -> int:
        mine = {c.id for c in self._t.channels.values() if c.ref.platform == platform}
        gone = [key for key in self._t.votes if key[0] in mine and key[2] == user_id]
        for key in gone:
            del self._t.votes[key]
        return len(gone)


class FakeVoteBatches(_Repository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self._unwritten: set[tuple[str, str]] = set()

    async def first_deliveries(self, keys: Sequence[tuple[str, str]], *, now: datetime) -> set[tuple[str, str]]:
        fresh = set(keys) - self._t.events
        self._t.events |= fresh
        return fresh

    async def existing_papers(self, ids: Sequence[str]) -> set[str]:
        return {paper_id for paper_id in ids if paper_id in self._t.papers}

    async def remember_and_lock(
        self,
        events: Sequence[tuple[str, str]],
        keys: Sequence[VoteKey],
        *,
        unknown: Sequence[tuple[int, str, str]] = (),
        now: datetime,
        sync_commit: bool = True,
    ) -> tuple[set[tuple[str, str]], dict[VoteKey, Vote], dict[tuple[int, str], str]]:
        """As PostgreSQL: reads only; `apply_many` remembers the new event ids with its writes."""
        first = set(events) - self._t.events
        self._unwritten = first
        pairs = list(dict.fromkeys((cid, mid) for cid, mid, _ in unknown))
        papers = await FakePosts(self._uow).papers_of_messages(pairs)
        found = [(cid, papers[(cid, mid)], uid) for cid, mid, uid in unknown if (cid, mid) in papers]
        wanted = [*keys, *found]
        return first, {key: self._t.votes[key] for key in wanted if key in self._t.votes}, papers

    async def apply_many(
        self,
        reactions: Sequence[Reaction],
        *,
        now: datetime,
        before: dict[VoteKey, Vote] | None = None,
        counted: Collection[tuple[int, str]] | None = None,
    ) -> tuple[list[bool], dict[tuple[int, str], VoteTally]]:
        self._t.events |= self._unwritten
        self._unwritten = set()
        changed = []
        for reaction in reactions:
            vote, moved = transition(
                self._t.votes.get(reaction.key), reaction.value, reaction.name, removed=reaction.removed, now=now
            )
            if vote is None:
                self._t.votes.pop(reaction.key, None)
            else:
                self._t.votes[reaction.key] = vote
            changed.append(moved)
        pairs = dict.fromkeys(reaction.pair for reaction in reactions)
        return changed, await self.tallies_of([pair for pair in pairs if counted is None or pair in counted])

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]:
        per_pair: dict[tuple[int, str], list[Vote]] = defaultdict(list)
        for (cid, pid, _), vote in self._t.votes.items():
            if (cid, pid) in pairs:
                per_pair[(cid, pid)].append(vote)
        return {pair: self._t.tally(votes) for pair, votes in per_pair.items()}


class FakeEvents(_Repository):
    async def first_delivery(self, platform: str, event_id: str, *, now: datetime) -> bool:
        key = (platform, event_id[:128])
        if key in self._t.events:
            return False
        self._t.events.add(key)
        return True

    async def prune(self, before: datetime) -> int:
        raise NotImplementedError("the fake keeps no delivery times; pruning is tested on the database")


class FakePapers(_Repository):
    async def get(self, paper_id: str) -> Paper | None:
        return self._t.papers.get(paper_id)

    async def get_many(self, ids: Sequence[str]) -> dict[str, Paper]:
        return {paper_id: self._t.papers[paper_id] for paper_id in ids if paper_id in self._t.papers}

    async def categories(self, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        return {paper_id: paper.categories for paper_id, paper in (await self.get_many(ids)).items()}

    async def save(self, papers: Sequence[Paper], *, now: datetime) -> tuple[int, int]:
        new = updated = 0
        for paper in {p.id: p for p in papers}.values():
            known = self._t.papers.get(paper.id)
            if known is not None and paper.version < known.version:
                continue  # never back a version
            new, updated = new + (known is None), updated + (known is not None and paper.version > known.version)
            announced = known.announced if known is not None else paper.announced
            self._t.papers[paper.id] = dataclasses.replace(paper, announced=announced)
        return new, updated

    async def mark_announced(self, ids: Sequence[str], day: date) -> None:
        for paper_id in ids:
            if paper_id in self._t.papers:
                self._t.papers[paper_id] = dataclasses.replace(self._t.papers[paper_id], announced=day)

    async def announced_between(self, first: date, last: date) -> list[Paper]:
        found = [p for p in self._t.papers.values() if p.announced is not None and first <= p.announced <= last]
        return sorted(found, key=lambda p: p.id)

    async def window_fingerprint(self, first: date, last: date) -> tuple[object, ...]:
        papers = await self.announced_between(first, last)
        return (len(papers), sum(p.version for p in papers), len(self._t.signals))

    async def latest_announcement(self, on_or_before: date) -> date | None:
        days = [p.announced for p in self._t.papers.values() if p.announced is not None and p.announced <= on_or_before]
        return max(days, default=None)


class FakeSignals(_Repository):
    async def add(self, readings: Iterable[tuple[str, Signal]]) -> int:
        added = list(readings)
        self._t.signals.extend(added)
        return len(added)

    async def latest(self, ids: Sequence[str]) -> dict[str, tuple[Signal, ...]]:
        newest: dict[str, dict[str, Signal]] = defaultdict(dict)
        for paper_id, signal in self._t.signals:  # in insertion order: a later reading of a source wins a tie
            if paper_id in ids:
                known = newest[paper_id].get(signal.source)
                if known is None or signal.fetched_at >= known.fetched_at:
                    newest[paper_id][signal.source] = signal
        return {pid: tuple(sorted(by_source.values(), key=lambda s: s.source)) for pid, by_source in newest.items()}


class FakeSummaries(_Repository):
    async def add(
        self,
        paper_id: str,
        summary: Summary,
        *,
        version: int | None = None,
        author_id: str | None = None,
        channel_id: int | None = None,
    ) -> Summary:
        stored = dataclasses.replace(summary, id=self._t.new_id(), votes=0)
        self._t.summaries[stored.id or 0] = StoredSummary(paper_id, version, stored, author_id, channel_id)
        return stored

    async def replace_source(self, paper_id: str, summary: Summary) -> None:
        for stored in self._t.summaries.values():
            if stored.paper_id == paper_id and stored.summary.source == summary.source:
                stored.summary = dataclasses.replace(
                    stored.summary, text=summary.text, created=summary.created, model=summary.model
                )
                return
        await self.add(paper_id, summary)

    async def vote(self, summary_id: int, user_id: str, value: int) -> None:
        previous = self._t.summary_votes.get((summary_id, user_id), 0)
        self._t.summary_votes[(summary_id, user_id)] = value
        stored = self._t.summaries[summary_id]
        stored.summary = dataclasses.replace(stored.summary, votes=stored.summary.votes + value - previous)

    async def get(self, summary_id: int) -> tuple[str, Summary] | None:
        stored = self._t.summaries.get(summary_id)
        return None if stored is None else (stored.paper_id, stored.summary)

    async def forget_llm(self, paper_id: str, *, model: str) -> int:
        return self._delete(lambda s: s.paper_id == paper_id and s.summary.source == "llm" and s.summary.model == model)

    async def report(self, summary_id: int) -> bool:
        stored = self._t.summaries.get(summary_id)
        if stored is not None:
            stored.reports += 1
        return stored is not None

    async def delete_by_author(self, author_id: str) -> int:
        return self._delete(lambda s: s.author_id == author_id)

    def visible(self, papers: Sequence[Paper]) -> dict[str, list[Summary]]:
        versions = {p.id: p.version for p in papers}
        found: dict[str, list[Summary]] = defaultdict(list)
        for _, stored in sorted(self._t.summaries.items()):
            shown = stored.paper_id in versions and stored.reports < REPORTS_TO_HIDE
            if shown and (stored.summary.source != "llm" or stored.version == versions[stored.paper_id]):
                found[stored.paper_id].append(stored.summary)
        return found

    def _delete(self, matches: Callable[[StoredSummary], bool]) -> int:
        gone = [sid for sid, stored in self._t.summaries.items() if matches(stored)]
        for sid in gone:
            del self._t.summaries[sid]
        return len(gone)


class FakeDigests(_Repository):
    async def last_for_channels(self, channel_ids: Sequence[int]) -> dict[int, DigestStatus]:
        latest: dict[int, StoredDigest] = {}
        for digest in self._t.digests.values():
            known = latest.get(digest.channel_id)
            if (
                digest.kind == "daily"
                and digest.channel_id in channel_ids
                and (known is None or digest.day > known.day)
            ):
                latest[digest.channel_id] = digest
        return {cid: DigestStatus(d.day, d.state, d.finished_at, d.attempts, d.last_error) for cid, d in latest.items()}

    async def claim(
        self, channel_id: int, day: date, *, holder: str, now: datetime, lease: timedelta, kind: str = "daily"
    ) -> Claim:
        key = (channel_id, kind, day)
        found = next(((i, d) for i, d in self._t.digests.items() if (d.channel_id, d.kind, d.day) == key), None)
        if found is None:
            digest_id = self._t.new_id()
            self._t.digests[digest_id] = StoredDigest(channel_id, day, holder, now + lease, now, kind=kind)
            return Claim(digest_id, "new", 1, claimed_at=now, lease_until=now + lease)
        digest_id, digest = found
        if digest.state == "done":
            return Claim(digest_id, "done-before")
        if digest.lease_until > now and digest.holder != holder:
            return Claim(digest_id, "held-elsewhere", lease_until=digest.lease_until)
        digest.holder, digest.lease_until = holder, now + lease
        digest.attempts, digest.fence = digest.attempts + 1, digest.fence + 1
        return Claim(
            digest_id,
            "resumed",
            digest.fence,
            digest.header_message_id,
            digest.header_intent,
            digest.claimed_at,
            digest.lease_until,
        )

    async def renew(
        self, digest_id: int, fence: int, *, until: datetime, header_intent: datetime | None = None
    ) -> bool:
        digest = self._held(digest_id, fence)
        if digest is not None:
            digest.lease_until = until
            digest.header_intent = digest.header_intent or header_intent is not None
        return digest is not None

    async def renewed(self, digest_id: int, fence: int, until: datetime | None) -> bool:
        return await self.renew(digest_id, fence, until=until) if until is not None else True

    async def intend_header(self, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        digest = self._held(digest_id, fence)
        if digest is not None:
            digest.lease_until, digest.header_intent = until or digest.lease_until, True
        return digest is not None

    async def record_header(self, digest_id: int, fence: int, message_id: str, *, until: datetime | None) -> Recorded:
        if not await self.renewed(digest_id, fence, until) or self._held(digest_id, fence) is None:
            return "fence-lost"
        digest = self._t.digests[digest_id]
        if digest.header_message_id is not None:
            return "taken"
        digest.header_message_id = message_id[:64]
        return "recorded"

    async def header_of(self, digest_id: int) -> tuple[str | None, str]:
        digest = self._t.digests[digest_id]
        return digest.header_message_id, digest.state

    async def finish(self, digest_id: int, fence: int, *, now: datetime) -> bool:
        digest = self._held(digest_id, fence)
        if digest is not None:
            digest.state, digest.finished_at, digest.last_error = "done", now, None
        return digest is not None

    async def release(self, digest_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        digest = self._held(digest_id, fence)
        if digest is not None:
            digest.lease_until, digest.last_error = now, error

    async def abandon(self, digest_id: int, fence: int) -> bool:
        if self._held(digest_id, fence) is None:
            return False
        del self._t.digests[digest_id]
        return True

    async def progress(self, digest_id: int) -> tuple[int, int]:
        posts = [p for p in self._t.posts.values() if p.digest_id == digest_id]
        return sum(1 for p in posts if p.message_id is not None), len(posts)

    def _held(self, digest_id: int, fence: int) -> StoredDigest | None:
        digest = self._t.digests.get(digest_id)
        return digest if digest is not None and digest.fence == fence and digest.state == "claimed" else None


class FakePosts(_Repository):
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
        if not await self._uow.digests.renew(digest_id, fence, until=until, header_intent=header_intent):
            return None
        return await self.plan(digest_id, channel_id, day, entries)

    async def plan(self, digest_id: int, channel_id: int, day: date, entries: Sequence[PlanEntry]) -> list[PlannedPost]:
        for entry in entries:
            self._t.posts[self._t.new_id()] = StoredPost(channel_id, digest_id, entry)
        return await self.planned(digest_id)

    async def planned(self, digest_id: int) -> list[PlannedPost]:
        mine = [(i, p) for i, p in self._t.posts.items() if p.digest_id == digest_id]
        return [
            PlannedPost(
                i,
                p.entry.rank,
                p.entry.paper_id,
                p.entry.version,
                p.entry.updated,
                p.message_id,
                p.intent,
                p.skipped,
                p.entry.score,
                p.entry.why,
            )
            for i, p in sorted(mine, key=lambda item: item[1].entry.rank)
        ]

    async def intend(self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        digests = FakeDigests(self._uow)
        if not await digests.renewed(digest_id, fence, until) or digests._held(digest_id, fence) is None:
            return False
        self._t.posts[post_id].intent = True
        return True

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
        digests = FakeDigests(self._uow)
        if not await digests.renewed(digest_id, fence, until) or digests._held(digest_id, fence) is None:
            return "fence-lost"
        if next_id is not None:
            self._t.posts[next_id].intent = True
        post = self._t.posts[post_id]
        if post.message_id is not None:
            return "taken"
        post.message_id, post.posted_at = message_id[:64], now
        return "recorded"

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime | None) -> bool:
        digests = FakeDigests(self._uow)
        if not await digests.renewed(digest_id, fence, until) or digests._held(digest_id, fence) is None:
            return False
        self._t.posts[post_id].skipped = reason[:500]
        return True

    async def slot(self, post_id: int) -> str | None:
        return self._t.posts[post_id].message_id

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        return (await self.posted_versions_everywhere(paper_ids)).get(channel_id, {})

    def remembered_papers(
        self, keys: Sequence[tuple[int, str]]
    ) -> tuple[dict[tuple[int, str], str], list[tuple[int, str]]]:
        return {}, list(keys)  # the fake remembers nothing: every pair is looked up

    async def papers_of_messages(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
        shown = {(p.channel_id, p.message_id): p.entry.paper_id for p in self._t.posts.values() if p.message_id}
        return {key: shown[key] for key in keys if key in shown}

    async def posted_versions_everywhere(self, paper_ids: Iterable[str]) -> dict[int, dict[str, int]]:
        wanted = set(paper_ids)
        found: dict[int, dict[str, int]] = defaultdict(dict)
        for post in self._t.posts.values():
            if post.entry.paper_id in wanted:
                versions = found[post.channel_id]
                versions[post.entry.paper_id] = max(versions.get(post.entry.paper_id, 0), post.entry.version)
        return dict(found)

    def postings(self, paper_ids: Sequence[str]) -> dict[str, list[PostRecord]]:
        rows = [
            (self._t.digests[p.digest_id].day, p.channel_id, p.entry.paper_id)
            for p in self._t.posts.values()
            if p.entry.paper_id in paper_ids and p.message_id is not None and p.digest_id in self._t.digests
        ]
        found: dict[str, list[PostRecord]] = defaultdict(list)
        for day, channel_id, paper_id in sorted(rows):
            found[paper_id].append(PostRecord(self._t.channels[channel_id].ref, day))
        return found


class FakeCardParts(_Repository):
    async def read(self, papers: Sequence[Paper]) -> CardParts:
        summaries = FakeSummaries(self._uow).visible(papers)
        return summaries, FakePosts(self._uow).postings([p.id for p in papers])

    async def paper_view(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        paper = self._t.papers.get(paper_id)
        if paper is None:
            return None
        channel_id = None if channel is None else self._t.channel_id(channel)
        votes = VoteTally()
        if channel is None or channel_id is not None:  # none in a channel we have never seen
            votes = (await FakeVotes(self._uow).tallies(channel_id, [paper_id])).get(paper_id, votes)
        signals = (await FakeSignals(self._uow).latest([paper_id])).get(paper_id, ())
        summaries, postings = await self.read([paper])
        posted = postings.get(paper_id, [])
        people = (
            0 if channel_id is None else (await FakeThreads(self._uow).people(channel_id, [paper_id])).get(paper_id, 0)
        )
        shown = posted[-POSTINGS_ON_A_CARD:]
        return PaperView(paper, signals, votes, summaries.get(paper_id, []), shown, len(posted), people)


class FakePages(_Repository):
    async def state(self, channel_id: int) -> PageState | None:
        return self._t.pages.get(channel_id)

    async def publish(self, channel_id: int, token_hash: str, *, now: datetime, rotated: bool = False) -> PageState:
        known = self._t.pages.get(channel_id)
        feed_id = known.feed_id if known is not None else f"feed-{self._t.new_id()}"
        state = self._t.pages[channel_id] = PageState(channel_id, feed_id, True, now)
        self._t.page_tokens[channel_id] = token_hash
        return state

    async def unpublish(self, channel_id: int) -> bool:
        known = self._t.pages.get(channel_id)
        if known is None or not known.published:
            return False
        self._t.pages[channel_id] = dataclasses.replace(known, published=False)
        self._t.page_tokens.pop(channel_id, None)
        return True


class FakeThreads(_Repository):
    async def on_message(self, channel_id: int, message_id: str) -> ThreadRecord | None:
        return next(
            (t for t in self._t.threads.values() if (t.channel_id, t.message_id) == (channel_id, message_id)), None
        )

    async def by_thread(self, channel_id: int, thread_id: str) -> ThreadRecord | None:
        return next(
            (t for t in self._t.threads.values() if (t.channel_id, t.thread_id) == (channel_id, thread_id)), None
        )

    def opening(self, channel_id: int, message_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def open(self, channel_id: int, message_id: str, paper_id: str, thread_id: str, *, now: datetime) -> bool:
        if await self.on_message(channel_id, message_id) is not None:
            return False
        thread_pk = self._t.new_id()
        self._t.threads[thread_pk] = ThreadRecord(thread_pk, channel_id, message_id, paper_id, thread_id)
        return True

    async def add_reply(self, thread: ThreadRecord, message_id: str, user_id: str, *, now: datetime) -> bool:
        key = (thread.channel_id, message_id)
        if key in self._t.replies:
            return False
        self._t.replies[key] = StoredReply(thread.id, user_id, thread.paper_id, now)
        return True

    async def remove_reply(self, channel_id: int, message_id: str) -> str | None:
        gone = self._t.replies.pop((channel_id, message_id), None)
        return None if gone is None else gone.paper_id

    async def people(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        who: dict[str, set[str]] = defaultdict(set)
        for (channel, _), reply in self._t.replies.items():
            if channel == channel_id and reply.paper_id in paper_ids:
                who[reply.paper_id].add(reply.user_id)
        return {paper_id: len(people) for paper_id, people in who.items()}

    async def posted_message(self, channel_id: int, paper_id: str) -> str | None:
        posted = [
            (p.posted_at, i, p.message_id)
            for i, p in self._t.posts.items()
            if p.channel_id == channel_id and p.entry.paper_id == paper_id and p.message_id is not None
        ]
        return (
            max(posted, key=lambda item: (item[0] is not None, item[0] or datetime.min, item[1]))[2] if posted else None
        )

    async def week_posts(self, channel_id: int, first: date, last: date) -> dict[str, str]:
        found = sorted(
            (digest.day, p.entry.rank, p.entry.paper_id, p.message_id)
            for p in self._t.posts.values()
            if p.channel_id == channel_id
            and p.message_id is not None
            and (digest := self._t.digests.get(p.digest_id)) is not None
            and digest.kind == "daily"
            and first <= digest.day <= last
        )
        return {paper_id: message_id for _, _, paper_id, message_id in found if message_id is not None}

    async def forget(self, platform: str, user_id: str) -> int:
        channels = {i for i, c in self._t.channels.items() if c.ref.platform == platform}
        gone = [key for key, reply in self._t.replies.items() if key[0] in channels and reply.user_id == user_id]
        for key in gone:
            del self._t.replies[key]
        return len(gone)

    async def prune(self, before: datetime) -> int:
        gone = [key for key, reply in self._t.replies.items() if reply.at < before]
        for key in gone:
            del self._t.replies[key]
        return len(gone)


class FakePolls(_Repository):
    """`bot.storage.polls.PollRepository` in memory: one poll not closed per channel, one scheduled poll per week."""

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
    ) -> tuple[StartOutcome, PollRecord | None]:
        current = await self.current(channel_id)
        taken_week = week is not None and any(
            p.week == week and p.record.channel_id == channel_id for p in self._t.polls.values()
        )
        if current is None and not taken_week:
            poll_id = self._t.new_id()
            record = PollRecord(
                poll_id, channel_id, "starting", holder, 1, now + lease, now, closes_at, hours, tuple(candidates),
                False, None, None, None, "", False, None, None,
            )  # fmt: skip
            self._t.polls[poll_id] = StoredPoll(record, week)
            return "new", record
        if current is None:
            return "done-before", None
        if current.state != "starting":
            return ("open" if current.state == "open" else "held-elsewhere"), current
        resumed = await self.resume_start(current.id, holder=holder, now=now, lease=lease)
        return ("resumed", resumed) if resumed is not None else ("held-elsewhere", current)

    async def resume_start(self, poll_id: int, *, holder: str, now: datetime, lease: timedelta) -> PollRecord | None:
        poll = self._t.polls.get(poll_id)
        if poll is None or poll.record.state != "starting":
            return None
        if poll.record.lease_until > now and poll.record.holder != holder:
            return None
        return self._set(poll_id, holder=holder, lease_until=now + lease, fence=poll.record.fence + 1)

    async def intend_start(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        return self._held(poll_id, fence, "starting", start_intent=True, lease_until=until)

    async def record_start(self, poll_id: int, fence: int, message_id: str) -> Recorded:
        poll = self._t.polls[poll_id].record
        if (poll.fence, poll.state) != (fence, "starting"):
            return "taken" if poll.fence == fence else "fence-lost"
        if poll.message_id is not None:
            return "taken"
        self._set(poll_id, message_id=message_id[:64], state="open")
        return "recorded"

    async def abandon(self, poll_id: int, fence: int) -> bool:
        poll = self._t.polls.get(poll_id)
        if poll is None or (poll.record.fence, poll.record.state) != (fence, "starting"):
            return False
        del self._t.polls[poll_id]
        return True

    async def release(self, poll_id: int, fence: int, *, now: datetime, error: str | None = None) -> None:
        poll = self._t.polls.get(poll_id)
        if poll is not None and poll.record.fence == fence and poll.record.state in ("starting", "closing"):
            self._set(poll_id, lease_until=now)

    async def claim_close(
        self, poll_id: int, *, holder: str, now: datetime, lease: timedelta, force: bool
    ) -> tuple[CloseOutcome, PollRecord | None]:
        poll = self._t.polls.get(poll_id)
        if poll is None:
            return "closed-before", None
        record = poll.record
        due = record.state == "open" and (force or record.closes_at <= now)
        stalled = record.state == "closing" and (record.lease_until <= now or record.holder == holder)
        if due or stalled:
            claimed = self._set(
                poll_id, state="closing", holder=holder, lease_until=now + lease, fence=record.fence + 1
            )
            return ("resumed" if stalled else "new"), claimed
        if record.state == "closed":
            return "closed-before", record
        return ("held-elsewhere" if record.state == "closing" else "not-due"), record

    async def store_result(
        self, poll_id: int, fence: int, counts: Sequence[int], winner: str, tie: str, *, until: datetime
    ) -> bool:
        return self._held(poll_id, fence, "closing", counts=tuple(counts), winner=winner, tie=tie, lease_until=until)

    async def intend_announce(self, poll_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        return self._held(poll_id, fence, "closing", announce_intent=True, lease_until=until)

    async def record_announce(self, poll_id: int, fence: int, message_id: str, *, now: datetime) -> Recorded:
        poll = self._t.polls[poll_id].record
        if (poll.fence, poll.state) != (fence, "closing") or poll.announce_message_id is not None:
            return "taken" if poll.fence == fence else "fence-lost"
        self._set(poll_id, announce_message_id=message_id[:64], state="closed", closed_at=now)
        return "recorded"

    async def record_thread(self, poll_id: int, thread_id: str) -> None:
        self._set(poll_id, thread_id=thread_id[:64])

    async def get(self, poll_id: int) -> PollRecord | None:
        poll = self._t.polls.get(poll_id)
        return None if poll is None else poll.record

    async def current(self, channel_id: int) -> PollRecord | None:
        return next(
            (
                p.record
                for p in self._t.polls.values()
                if p.record.channel_id == channel_id and p.record.state != "closed"
            ),
            None,
        )

    async def by_message(self, channel_id: int, message_id: str) -> PollRecord | None:
        return next(
            (
                p.record
                for p in self._t.polls.values()
                if (p.record.channel_id, p.record.message_id) == (channel_id, message_id)
            ),
            None,
        )

    async def due(self, now: datetime, *, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        found = [
            p.record
            for p in self._t.polls.values()
            if (p.record.state == "open" and p.record.closes_at <= now)
            or (p.record.state in ("starting", "closing") and p.record.lease_until <= now)
        ]
        found.sort(key=lambda r: (r.closes_at, r.id))
        refs = [(r.id, self._t.channels[r.channel_id].ref) for r in found[:limit]]
        return [(i, ref.platform, ref.workspace, ref.channel, ref.name) for i, ref in refs]

    async def history(self, channel_id: int, *, limit: int) -> list[PollRecord]:
        closed = [
            p.record for p in self._t.polls.values() if p.record.channel_id == channel_id and p.record.state == "closed"
        ]
        return sorted(closed, key=lambda r: (r.closed_at, r.id), reverse=True)[:limit]

    async def posted_since(self, channel_id: int, since: date) -> list[str]:
        posted = [
            (self._t.digests[p.digest_id].day, p.entry.rank, p.entry.paper_id)
            for p in self._t.posts.values()
            if p.channel_id == channel_id and p.message_id is not None and self._t.digests[p.digest_id].day >= since
        ]
        posted.sort(key=lambda item: (-item[0].toordinal(), item[1]))
        return list(dict.fromkeys(paper for _, _, paper in posted))

    async def vote(self, poll_id: int, user_id: str, choice: int, *, now: datetime) -> None:
        self._t.poll_votes[(poll_id, user_id[:64])] = choice

    async def unvote(self, poll_id: int, user_id: str, choice: int) -> bool:
        if self._t.poll_votes.get((poll_id, user_id[:64])) != choice:
            return False
        del self._t.poll_votes[(poll_id, user_id[:64])]
        return True

    async def choice_of(self, poll_id: int, user_id: str) -> int | None:
        return self._t.poll_votes.get((poll_id, user_id[:64]))

    async def tally(self, poll_id: int, options: int) -> tuple[int, ...]:
        choices = [c for (p, _), c in self._t.poll_votes.items() if p == poll_id]
        return tuple(choices.count(i) for i in range(options))

    async def forget(self, platform: str, user_id: str) -> int:
        polls = {i for i, p in self._t.polls.items() if self._t.channels[p.record.channel_id].ref.platform == platform}
        gone = [key for key in self._t.poll_votes if key[0] in polls and key[1] == user_id[:64]]
        for key in gone:
            del self._t.poll_votes[key]
        return len(gone)

    def _set(self, poll_id: int, **changes: object) -> PollRecord:
        poll = self._t.polls[poll_id]
        poll.record = dataclasses.replace(poll.record, **changes)  # type: ignore[arg-type]
        return poll.record

    def _held(self, poll_id: int, fence: int, state: str, **changes: object) -> bool:
        poll = self._t.polls.get(poll_id)
        if poll is None or (poll.record.fence, poll.record.state) != (fence, state):
            return False
        self._set(poll_id, **changes)
        return True


class FakeUnitOfWork:
    """`bot.domain.ports.UnitOfWork` in memory: works on a copy of the database's tables, which `commit` makes
    current."""

    def __init__(self, database: FakeDatabase) -> None:
        self._autocommit = False
        self._database = database
        self.tables = Tables()
        self.papers = FakePapers(self)
        self.signals = FakeSignals(self)
        self.summaries = FakeSummaries(self)
        self.channels = FakeChannels(self)
        self.votes = FakeVotes(self)
        self.events = FakeEvents(self)
        self.digests = FakeDigests(self)
        self.posts = FakePosts(self)
        self.vote_batch = FakeVoteBatches(self)
        self.card_parts = FakeCardParts(self)
        self.pages = FakePages(self)
        self.threads = FakeThreads(self)
        self.polls = FakePolls(self)

    async def __aenter__(self) -> Self:
        self._database.units += 1
        self._autocommit = False
        self.tables = copy.deepcopy(self._database.tables)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.tables = Tables()  # what was not committed is gone

    async def read_only(self) -> None:
        self._autocommit = True

    async def one_statement(self) -> None:
        self._autocommit = True

    async def planning(self) -> None:
        return None  # a transaction, as on SQLite

    async def commit(self) -> None:
        self._database.commits += 1
        self._database.transactions += not self._autocommit
        self._database.tables = copy.deepcopy(self.tables)


def _implements(database: FakeDatabase) -> UnitOfWork:
    """mypy checks here that the fake implements the protocol (and so every repository protocol)."""
    return database.uow()
