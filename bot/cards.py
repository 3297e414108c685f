"""Building PaperCards: a constant number of queries for a set of papers, then pure ranking and summary choice."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import SummariesConfig
from bot.errors import UpstreamUnavailable
from bot.model import ChannelSettings, Paper, PaperCard, PostRecord, Summary, VoteTally
from bot.ranking import Candidate, Ranked, RankingWeights, learn_taste, rank
from bot.storage.tables import ChannelRow
from bot.storage.uow import UnitOfWork
from bot.summaries import best_summary, extractive_summary

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
    llm: Summarizer | None = None


async def candidates_for(uow: UnitOfWork, channel: ChannelRow | None, papers: Sequence[Paper]) -> list[Candidate]:
    """Signals, this channel's votes and what the channel already saw, for each paper, in three queries.
    A channel we have never seen has no votes."""
    ids = [p.id for p in papers]
    signals = await uow.signals.latest(ids)
    votes = await uow.votes.tallies(channel.id, ids) if channel else {}
    posted = await uow.posts.posted_versions(channel.id, ids) if channel else {}
    return [Candidate(p, signals.get(p.id, ()), votes.get(p.id, VoteTally()), posted.get(p.id)) for p in papers]


async def ranked_for_channel(
    uow: UnitOfWork,
    channel: ChannelRow | None,
    settings: ChannelSettings,
    papers: Sequence[Paper],
    context: CardContext,
    *,
    now: datetime,
    include_posted: bool = False,
) -> list[Ranked]:
    """The channel's filters, votes and learnt taste applied to `papers`, best first; papers the channel has
    already seen are left out unless `include_posted` (re-rendering a stored plan)."""
    candidates = await candidates_for(uow, channel, papers)
    if include_posted:
        candidates = [dataclasses.replace(c, posted_version=None) for c in candidates]
    history = await uow.votes.history(channel.id) if channel else []
    taste = learn_taste(history, rate=context.weights.taste_rate, cap=context.weights.taste_cap)
    return rank(candidates, settings, context.weights, now, taste=taste)


async def cards_for(
    uow: UnitOfWork,
    ranked: Sequence[Ranked],
    context: CardContext,
    *,
    now: datetime,
    unavailable: Sequence[str] = (),
) -> list[PaperCard]:
    """Attach the best summary and the channels each paper was posted in (two queries for the whole list)."""
    papers = [entry.paper for entry in ranked]
    stored = await uow.summaries.for_papers(papers)
    posted = await uow.posts.posted_in([p.id for p in papers])
    refs = await uow.channels.by_ids(sorted({cid for records in posted.values() for cid, _ in records}))
    cards = []
    for entry in ranked:
        summary = await _summary_for(uow, entry.paper, stored.get(entry.paper.id, []), context, now=now)
        records = tuple(PostRecord(refs[cid], day) for cid, day in posted.get(entry.paper.id, []) if cid in refs)
        cards.append(
            PaperCard(
                paper=entry.paper,
                summary=summary,
                signals=entry.signals,
                votes=entry.votes,
                score=entry.score,
                why=entry.why + tuple(unavailable),
                posted=records,
                unavailable=tuple(unavailable),
            )
        )
    return cards


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
    return extractive_summary(paper.abstract, created=now, sentences=cfg.extractive_sentences, max_chars=cfg.max_chars)
