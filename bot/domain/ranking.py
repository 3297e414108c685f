"""Ranking: a pure, deterministic function from candidates, signals, votes, settings and time to an order.

Every term that moves a paper is named in its `why`, so a reader can see why it is hot here. The score lives in
log space: signals are `weight · ln(1 + value)`, net votes are `vote_weight · sign · ln(1 + |net|)`, the people who
replied in the paper's discussion thread `min(discussion_cap, discussion_weight · ln(1 + people))`, and age is an
additive `ln 2` per half-life, i.e. a multiplicative decay of the raw popularity.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from bot.domain.model import ChannelSettings, Paper, Signal, VoteTally

if TYPE_CHECKING:
    from bot.domain.config import Config


@dataclass(frozen=True, slots=True)
class RankingWeights:
    half_life_hours: float = 48.0
    vote_weight: float = 1.5
    follow_bonus: float = 1.0
    keyword_bonus: float = 0.3
    taste_cap: float = 0.5
    taste_rate: float = 0.25
    discussion_weight: float = 0.75
    discussion_cap: float = 1.5
    signal_weights: Mapping[str, float] = field(default_factory=dict)

    def weight_of(self, source: str) -> float:
        return self.signal_weights.get(source, 1.0)


def ranking_weights(config: Config) -> RankingWeights:
    """`[ranking]` and each signal's weight, as the ranking takes them."""
    rc = config.ranking
    return RankingWeights(
        half_life_hours=rc.half_life_hours,
        vote_weight=rc.vote_weight,
        follow_bonus=rc.follow_bonus,
        keyword_bonus=rc.keyword_bonus,
        taste_cap=rc.taste_cap,
        taste_rate=rc.taste_rate,
        discussion_weight=rc.discussion_weight,
        discussion_cap=rc.discussion_cap,
        signal_weights={name: cfg.weight for name, cfg in config.signals.items()},
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    paper: Paper
    signals: tuple[Signal, ...] = ()
    votes: VoteTally = field(default_factory=VoteTally)
    posted_version: int | None = None
    """The version last posted in this channel, or None if it never was."""
    discussion: int = 0
    """Distinct people who replied in the paper's discussion threads in this channel."""


@dataclass(frozen=True, slots=True)
class Ranked:
    paper: Paper
    score: float
    why: tuple[str, ...]
    signals: tuple[Signal, ...]
    votes: VoteTally
    updated: bool = False
    hotness: float = 0.0
    """The paper's own heat: popularity signals plus the votes counted, before any channel's filters, taste or the
    age decay. The same for a paper in `/paper` and in a digest of the same channel; `score` orders a digest."""


def rank(
    candidates: Iterable[Candidate],
    settings: ChannelSettings,
    weights: RankingWeights,
    now: datetime,
    *,
    taste: Mapping[str, float] | None = None,
) -> list[Ranked]:
    """Filter, score and order; ties break on the paper id so the order never depends on input order."""
    ranked = []
    for candidate in candidates:
        paper = candidate.paper
        if candidate.posted_version is not None and paper.version <= candidate.posted_version:
            continue
        if not passes_filters(paper, settings):
            continue
        ranked.append(_score(candidate, settings, weights, now, taste or {}))
    ranked.sort(key=lambda r: (-r.score, r.paper.id))
    return ranked


def score_card(candidate: Candidate, weights: RankingWeights, now: datetime) -> Ranked:
    """Score one paper outside any channel's filters and without age decay (for `/paper` and `/top`, where the
    paper is not competing with today's announcements)."""
    return _score(candidate, ChannelSettings(), weights, now, {}, decay=False)


def _score(
    candidate: Candidate,
    settings: ChannelSettings,
    weights: RankingWeights,
    now: datetime,
    taste: Mapping[str, float],
    *,
    decay: bool = True,
) -> Ranked:
    paper, votes = candidate.paper, candidate.votes
    score, why = 0.0, []
    for signal in sorted(candidate.signals, key=lambda s: s.source):
        weight = weights.weight_of(signal.source)
        if weight and signal.value > 0:
            score += weight * math.log1p(signal.value)
            why.append(signal.label)
    if votes.up or votes.down:
        net = votes.net
        score += weights.vote_weight * math.copysign(math.log1p(abs(net)), net)
        why.append(f"👍{votes.up} 👎{votes.down} here")
    if candidate.discussion > 0:
        score += discussion_term(candidate.discussion, weights)
        why.append(f"💬 {candidate.discussion} here")
    hotness = score
    followed = followed_authors(paper, settings.authors)
    if followed:
        score += weights.follow_bonus
        why.append("follows: " + ", ".join(followed))
    matched = matching_keywords(paper, settings.keywords)
    if matched:
        score += weights.keyword_bonus
        why.append("matches: " + ", ".join(matched))
    taste_term, taste_category = _taste_term(paper, taste, weights.taste_cap)
    if abs(taste_term) >= 0.05:
        score += taste_term
        why.append(f"taste {taste_term:+.1f} {taste_category}")
    if decay:
        age_hours = max(0.0, (now - _fresh_since(paper)).total_seconds() / 3600.0)
        score -= math.log(2) * age_hours / weights.half_life_hours
    updated = candidate.posted_version is not None
    if updated:
        why.append(f"updated to v{paper.version}")
    return Ranked(paper, round(score, 6), tuple(why), candidate.signals, votes, updated, round(hotness, 6))


def discussion_term(people: int, weights: RankingWeights) -> float:
    """What a channel's discussion adds: `discussion_weight · ln(1 + people)`, never more than `discussion_cap`."""
    return min(weights.discussion_cap, weights.discussion_weight * math.log1p(max(0, people)))


def _fresh_since(paper: Paper) -> datetime:
    """Age counts from the announcement (every paper of one mailing is equally new), else from the last version."""
    if paper.announced is not None:
        return datetime.combine(paper.announced, time.min, tzinfo=UTC)
    return paper.updated


def passes_filters(paper: Paper, settings: ChannelSettings) -> bool:
    """Categories and keywords narrow; negative keywords exclude; followed authors always get through."""
    if settings.categories and not _in_categories(paper, settings.categories):
        return False
    if matching_keywords(paper, settings.negative_keywords):
        return False
    return not settings.keywords or bool(
        matching_keywords(paper, settings.keywords) or followed_authors(paper, settings.authors)
    )


def _in_categories(paper: Paper, wanted: Sequence[str]) -> bool:
    """`cs.LG` matches exactly; a bare archive such as `cs` or `hep-th` matches all of its categories."""
    for category in paper.categories:
        for want in wanted:
            if category == want or category.split(".", 1)[0] == want:
                return True
    return False


def matching_keywords(paper: Paper, keywords: Sequence[str]) -> list[str]:
    text = f"{paper.title}\n{paper.abstract}".lower()
    return [k for k in keywords if re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", text)]


def followed_authors(paper: Paper, followed: Sequence[str]) -> list[str]:
    """A followed name matches an author's full name or surname, case-insensitively."""
    if not followed:
        return []
    names = {a.lower() for a in paper.authors} | {a.split()[-1].lower() for a in paper.authors if a.split()}
    return [f for f in followed if f.lower() in names]


def learn_taste(history: Iterable[tuple[Sequence[str], int]], *, rate: float, cap: float) -> dict[str, float]:
    """A channel's taste per category from its votes: `cap · tanh(rate · Σ votes)`, so it is bounded by `cap`."""
    totals: dict[str, int] = defaultdict(int)
    for categories, value in history:
        for category in categories:
            totals[category] += value
    return {category: cap * math.tanh(rate * total) for category, total in totals.items() if total}


def _taste_term(paper: Paper, taste: Mapping[str, float], cap: float) -> tuple[float, str]:
    scored = [(taste[c], c) for c in paper.categories if c in taste]
    if not scored:
        return 0.0, ""
    term = sum(value for value, _ in scored) / len(scored)
    strongest = max(scored, key=lambda item: (abs(item[0]), item[1]))[1]
    return max(-cap, min(cap, term)), strongest
