"""What a channel's digest shows: a new plan ranked from the day's window, or the cards of a plan stored earlier.

`DigestPlanner` is the one place a digest's entries are built. A preview (`HotPapers.digest`) and a new digest
(`DigestPoster.post`) rank the window with the channel's settings; a resumed digest rebuilds the cards of the plan
it stored (`cards_of_plan`) — with the same settings, and the score and why-line the plan was stored with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.app.cards import CardContext, cards_for, cards_of_chosen, digest_window, ranked_digest
from bot.domain.model import Channel, ChannelRef, ChannelSettings, Digest, DigestEntry, PaperCard
from bot.domain.ports import Clock, UnitOfWork
from bot.domain.records import ChannelActivity, PlannedPost


class DigestPlanner:
    """Builds digests for every channel of the process; holds no state of its own."""

    def __init__(
        self, *, window_days: int, context: CardContext, clock: Clock, unavailable: Callable[[], Sequence[str]]
    ) -> None:
        self._window_days = window_days
        self._context = context
        self._clock = clock
        self._unavailable = unavailable
        """The signal sources failing now (`Ingestor.unavailable`): each card says so."""

    def for_channel(
        self, channel: Channel, ref: ChannelRef, day: date, *, activity: ChannelActivity | None = None
    ) -> ChannelPlan:
        """The plan of one channel's digest for `day`, as the poster asks for it (`bot.app.digest.DigestPlan`);
        `activity` is the channel's vote activity if the caller read it with the channel (else a new plan reads it)."""
        return ChannelPlan(self, channel, ref, day, activity)

    async def build(
        self,
        uow: UnitOfWork,
        channel: Channel | None,
        ref: ChannelRef,
        settings: ChannelSettings,
        day: date,
        *,
        activity: ChannelActivity | None = None,
    ) -> Digest:
        """The channel's top N of the window ending on `day`, with their cards."""
        first = day - timedelta(days=self._window_days - 1)
        window = await digest_window(uow, first, day, self._context)  # shared by every channel, cached
        if not window.papers:
            return Digest(ref, day, (), announced=False)
        now = self._clock.now()
        top_n = settings.top_n
        context = self._context
        ranked = await ranked_digest(uow, channel, settings, window, context, now=now, limit=top_n, activity=activity)
        ranked = ranked[:top_n]
        unavailable = self._unavailable()
        cards = await cards_for(uow, ranked, context, now=now, unavailable=unavailable, remembered=True)
        entries = tuple(
            DigestEntry(rank, card, r.updated) for rank, (card, r) in enumerate(zip(cards, ranked, strict=True), 1)
        )
        return Digest(ref, day, entries)

    async def rebuild(
        self, uow: UnitOfWork, channel: Channel, ref: ChannelRef, day: date, planned: Sequence[PlannedPost]
    ) -> Digest:
        """The digest of a stored plan: fresh cards (summaries, votes, postings as they are now) for the planned
        papers, in the planned order, with the score and why-line each was planned with. A planned paper that is
        no longer stored is left out."""
        by_id = await self.cards_of_plan(uow, channel, [p.paper_id for p in planned])
        entries = tuple(
            DigestEntry(p.rank, _as_planned(by_id[p.paper_id], p), p.updated) for p in planned if p.paper_id in by_id
        )
        return Digest(ref, day, entries)

    async def cards_of_plan(self, uow: UnitOfWork, channel: Channel, paper_ids: Sequence[str]) -> dict[str, PaperCard]:
        """Cards for papers a plan chose (`cards_of_chosen`): settings changed since the plan do not drop a planned
        entry."""
        now = self._clock.now()
        return await cards_of_chosen(uow, channel, paper_ids, self._context, now=now, unavailable=self._unavailable())


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """One channel's digest for one day, planned by `DigestPlanner` (implements `bot.app.digest.DigestPlan`)."""

    planner: DigestPlanner
    channel: Channel
    ref: ChannelRef
    day: date
    activity: ChannelActivity | None = None

    @property
    def channel_id(self) -> int:
        return self.channel.id

    async def fresh(self, uow: UnitOfWork) -> Digest:
        return await self.planner.build(
            uow, self.channel, self.ref, self.channel.settings, self.day, activity=self.activity
        )

    async def stored(self, uow: UnitOfWork, planned: Sequence[PlannedPost]) -> Digest:
        return await self.planner.rebuild(uow, self.channel, self.ref, self.day, planned)


def _as_planned(card: PaperCard, post: PlannedPost) -> PaperCard:
    if post.score is None or post.why is None:
        return card
    return dataclasses.replace(card, score=post.score, why=post.why)
