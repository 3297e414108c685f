"""Building PaperCards: a constant number of queries for a set of papers, then pure ranking and summary choice.

A digest ranks one announcement window (thousands of papers on a busy day) for each subscribed channel: the papers
and their signals are read once per window (`bot.domain.ports.ReadModel`, a cache checked against the database on use),
and per channel only the papers that can still reach its top N are scored (`bot.app.digest_rank`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from bot.app.digest_rank import top_ranked
from bot.domain.config import SummariesConfig
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import (
    Channel,
    ChannelRef,
    ChannelSettings,
    Discussion,
    Paper,
    PaperCard,
    PostRecord,
    Signal,
    Summary,
    VoteTally,
)
from bot.domain.ports import ReadModel, UnitOfWork
from bot.domain.ranking import Candidate, Ranked, RankingWeights, learn_taste, rank, score_card
from bot.domain.records import ChannelActivity, Window
from bot.domain.summaries import best_summary, extractive_summary

log = logging.getLogger(__name__)


class Summarizer(Protocol):
    """An optional LLM summariser (bot.sources.llm.LLMSummarizer)."""

    @property
    def model(self) -> str: ...

    async def summarize(self, paper: Paper) -> Summary: ...


@dataclass(frozen=True, slots=True)
class CardContext:
    weights: RankingWeights
    summaries: SummariesConfig
    windows: ReadModel = field(compare=False, repr=False)
    """The process's read model (`bot.storage.window.WindowCache`, built by the composition root)."""
    llm: Summarizer | None = None


async def candidates_for(uow: UnitOfWork, channel: Channel | None, papers: Sequence[Paper]) -> list[Candidate]:
    """Signals, this channel's votes and what the channel already saw, for each paper, in three queries.
    A channel we have never seen has no votes."""
    ids = [p.id for p in papers]
    signals = await uow.signals.latest(ids)
    votes = await uow.votes.tallies(channel.id, ids) if channel else {}
    posted = await uow.posts.posted_versions(channel.id, ids) if channel else {}
    people = await uow.threads.people(channel.id, sorted(posted)) if posted and channel else {}
    return [
        Candidate(p, signals.get(p.id, ()), votes.get(p.id, VoteTally()), posted.get(p.id), people.get(p.id, 0))
        for p in papers
    ]


async def cards_of_chosen(
    uow: UnitOfWork,
    channel: Channel | None,
    paper_ids: Sequence[str],
    context: CardContext,
    *,
    now: datetime,
    unavailable: Sequence[str] = (),
) -> dict[str, PaperCard]:
    """Cards for papers chosen already — a stored digest plan, a poll's options and winner, the week's roundup —
    scored as the channel's digest would score them (its votes, learnt taste and settings: followed authors and
    keywords add to the score and say so in the why-line) but not filtered again: a paper its filters would drop,
    or one it has seen, keeps its card. A channel we have never seen has the default settings and no votes."""
    papers = list((await uow.papers.get_many(paper_ids)).values())
    candidates = [  # what the channel saw is what is being shown again
        dataclasses.replace(c, posted_version=None) for c in await candidates_for(uow, channel, papers)
    ]
    votes = await uow.votes.channel_votes(channel.id) if channel else {}
    taste = await channel_taste(uow, list(votes), [net for _, _, net in votes.values()], context)
    settings = channel.settings if channel else ChannelSettings()
    ranked = _scored_unfiltered(candidates, settings, context.weights, now=now, taste=taste)
    found = await cards_for(uow, ranked, context, now=now, unavailable=unavailable)
    return {card.paper.id: card for card in found}


def _scored_unfiltered(
    candidates: Sequence[Candidate],
    settings: ChannelSettings,
    weights: RankingWeights,
    *,
    now: datetime,
    taste: dict[str, float],
) -> list[Ranked]:
    """`rank` with the channel's settings, keeping the candidates its filters would drop. Categories and negative
    keywords only filter; keywords filter and add a bonus, but a paper the keyword filter drops matches none of
    them, so scoring it without keywords gives the same score and why-line."""
    open_filters = dataclasses.replace(settings, categories=(), negative_keywords=())
    ranked = rank(candidates, open_filters, weights, now, taste=taste)
    kept = {r.paper.id for r in ranked}
    dropped = [c for c in candidates if c.paper.id not in kept]
    if dropped:
        ranked += rank(dropped, dataclasses.replace(open_filters, keywords=()), weights, now, taste=taste)
    return ranked


async def channel_taste(
    uow: UnitOfWork, papers: Sequence[str], nets: Sequence[int], context: CardContext
) -> dict[str, float]:
    """The taste learnt from a channel's net votes on `papers`: net votes per category (`learn_taste`)."""
    index, lists = context.windows.category_lists()
    unknown = -1
    at = list(map(index.get, papers, itertools.repeat(unknown)))
    if unknown in at:
        await context.windows.remember_categories(uow, [p for p, i in zip(papers, at, strict=True) if i == unknown])
        at = list(map(index.get, papers, itertools.repeat(unknown)))  # still unknown: deleted meanwhile
    per_list = [0] * (len(lists) + 1)  # summed per category list first: the same taste, far fewer items
    for i, net in zip(at, nets, strict=True):
        per_list[i] += net  # the unknown go to the last slot, which is left out
    history = ((lists[at], net) for at, net in enumerate(per_list[:-1]) if net)
    return learn_taste(history, rate=context.weights.taste_rate, cap=context.weights.taste_cap)


async def digest_window(uow: UnitOfWork, first: date, last: date, context: CardContext) -> Window:
    """The papers announced in [first, last] with their signals, shared by every channel's digest."""
    return await context.windows.window(uow, first, last)


async def ranked_digest(
    uow: UnitOfWork,
    channel: Channel | None,
    settings: ChannelSettings,
    window: Window,
    context: CardContext,
    *,
    now: datetime,
    limit: int,
    activity: ChannelActivity | None = None,
) -> list[Ranked]:
    """The channel's filters, votes and learnt taste applied to the window, best first, exact for its first `limit`
    entries (all a digest shows): only the papers that can still reach them are scored (`top_ranked`); papers the
    channel has seen are left out. `activity` is the channel's, if already read."""
    tallies: dict[str, VoteTally] = {}
    if channel is None:
        activity, posted = ChannelActivity([], []), {}
    else:
        activity = activity or await uow.votes.channel_activity(channel.id)
        posted = await context.windows.posted(uow, window, channel.id)
        voted = window.ids.intersection(activity.voted)  # today's papers it voted on: usually none, or a few
        tallies = await uow.votes.tallies(channel.id, sorted(voted)) if voted else {}
    # A thread hangs on a posted message: only papers posted here can have been discussed here.
    people = await uow.threads.people(channel.id, sorted(posted)) if channel is not None and posted else {}
    taste = await channel_taste(uow, activity.voted, activity.net, context)
    by_id, signals = window.by_id, window.signals
    special = set(tallies).union(posted)

    def candidate(paper_id: str) -> Candidate:
        return Candidate(
            by_id[paper_id],
            signals.get(paper_id, ()),
            tallies.get(paper_id, VoteTally()),
            posted.get(paper_id),
            people.get(paper_id, 0),
        )

    return top_ranked(
        window, settings, context.weights, now=now, limit=limit, taste=taste, special=special, candidate=candidate
    )


@dataclass(frozen=True, slots=True)
class CardData:
    """What cards need besides the ranking: stored summaries and where each paper was posted."""

    summaries: dict[str, list[Summary]]
    posted: dict[str, tuple[PostRecord, ...]]
    posted_count: dict[str, int] = field(default_factory=dict)
    """Papers whose `posted` holds only the most recent postings: how many there are in all."""


async def card_data(uow: UnitOfWork, papers: Sequence[Paper], *, windows: ReadModel | None = None) -> CardData:
    """Summaries and postings of `papers`: one round trip for the whole list (two on SQLite), or none when
    `windows` remembers them (digests)."""
    stored, posted = await (windows.card_parts(uow, papers) if windows else uow.card_parts.read(papers))
    return CardData(dict(stored), {paper_id: tuple(records) for paper_id, records in posted.items()})


async def build_cards(
    uow: UnitOfWork,
    ranked: Sequence[Ranked],
    data: CardData,
    context: CardContext,
    *,
    now: datetime,
    unavailable: Sequence[str] = (),
) -> list[PaperCard]:
    """Cards from ranked papers and their data; the unit of work is used only to cache a new LLM summary."""
    cards = []
    for entry in ranked:
        summary = await _summary_for(uow, entry.paper, data.summaries.get(entry.paper.id, []), context, now=now)
        cards.append(
            PaperCard(
                paper=entry.paper,
                summary=summary,
                signals=entry.signals,
                votes=entry.votes,
                score=entry.hotness,
                rank_score=entry.score,
                why=entry.why + tuple(unavailable),
                posted=data.posted.get(entry.paper.id, ()),
                posted_count=data.posted_count.get(entry.paper.id, len(data.posted.get(entry.paper.id, ()))),
                unavailable=tuple(unavailable),
            )
        )
    return cards


async def cards_for(
    uow: UnitOfWork,
    ranked: Sequence[Ranked],
    context: CardContext,
    *,
    now: datetime,
    unavailable: Sequence[str] = (),
    remembered: bool = False,
) -> list[PaperCard]:
    """Attach the best summary and the channels each paper was posted in (one query for the whole list; none
    when `remembered` lets the window cache answer, for digests)."""
    windows = context.windows if remembered else None
    data = await card_data(uow, [entry.paper for entry in ranked], windows=windows)
    return await build_cards(uow, ranked, data, context, now=now, unavailable=unavailable)


@dataclass(frozen=True, slots=True)
class PaperInputs:
    """Everything `/paper` shows about one paper, read in one unit of work."""

    paper: Paper
    signals: tuple[Signal, ...]
    votes: VoteTally
    data: CardData
    discussion: int = 0
    """People who replied in the paper's discussion threads in the channel asked from."""


async def paper_inputs(uow: UnitOfWork, paper_id: str, channel: ChannelRef | None) -> PaperInputs | None:
    """The stored paper with its signals, votes (the channel's; every channel's without one; none in a channel we
    have never seen), summaries, postings and discussion in the channel — one statement on PostgreSQL. None if the
    paper is not stored."""
    view = await uow.card_parts.paper_view(paper_id, channel)
    if view is None:
        return None
    paper_id = view.paper.id
    data = CardData({paper_id: view.summaries}, {paper_id: tuple(view.postings)}, {paper_id: view.posted_count})
    return PaperInputs(view.paper, view.signals, view.votes, data, view.discussion)


async def paper_card(
    uow: UnitOfWork,
    inputs: PaperInputs,
    context: CardContext,
    *,
    channel: ChannelRef | None,
    now: datetime,
    unavailable: Sequence[str] = (),
) -> PaperCard:
    """The `/paper` card from what `paper_inputs` read: scored (its discussion in `channel` counts), with its best
    summary and the discussion it shows. The unit of work is used only to cache a new LLM summary (the caller
    commits it)."""
    candidate = Candidate(inputs.paper, inputs.signals, inputs.votes, discussion=inputs.discussion)
    ranked = score_card(candidate, context.weights, now)
    (card,) = await build_cards(uow, [ranked], inputs.data, context, now=now, unavailable=unavailable)
    if channel is None or not inputs.discussion:
        return card
    return dataclasses.replace(card, discussed=(Discussion(channel, inputs.discussion),))


async def _summary_for(
    uow: UnitOfWork, paper: Paper, stored: Sequence[Summary], context: CardContext, *, now: datetime
) -> Summary:
    usable = [s for s in stored if s.source != "llm" or (context.llm is not None and s.model == context.llm.model)]
    chosen = best_summary(usable)
    if chosen is not None:
        return chosen
    if context.llm is not None:
        try:
            summary = await context.llm.summarize(paper)
        except UpstreamUnavailable as error:
            log.info("LLM summary unavailable for %s, using the next source: %s", paper.id, error)
        else:
            return await uow.summaries.add(paper.id, summary, version=paper.version)
    cfg = context.summaries
    return dataclasses.replace(_extractive(paper.abstract, cfg.extractive_sentences, cfg.max_chars), created=now)


@functools.lru_cache(maxsize=4096)
def _extractive(abstract: str, sentences: int, max_chars: int) -> Summary:
    """The key sentences of an abstract, remembered: a digest shows the same papers in many channels."""
    return extractive_summary(abstract, created=_EPOCH, sentences=sentences, max_chars=max_chars)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
