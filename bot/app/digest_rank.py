"""Ranking a whole announcement window for one channel, scoring only the papers that can reach its top N.

A digest ranks one window (thousands of papers on a busy day) for every subscribed channel. What no channel changes
— each paper's score before any channel's terms, which papers each category, keyword or author filter lets through —
is derived once per window and kept with it (`Window.derived`); per channel, `top_ranked` then scores with
`bot.domain.ranking.rank` only the papers whose best possible score can still reach the channel's top N.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.model import ChannelSettings, Paper
from bot.domain.ranking import (
    Candidate,
    Ranked,
    RankingWeights,
    _fresh_since,  # the age rule: ages all count from then on
    followed_authors,
    matching_keywords,
    passes_filters,
    rank,
)
from bot.domain.records import Window

MARGIN = 1e-4
"""Score difference that rounding (scores are rounded to 6 places) and the time shift of ages can never reach."""
CHUNK = 4


def top_ranked(
    window: Window,
    settings: ChannelSettings,
    weights: RankingWeights,
    *,
    now: datetime,
    limit: int,
    taste: dict[str, float],
    special: set[str],
    candidate: Callable[[str], Candidate],
) -> list[Ranked]:
    """`rank` over the window's papers, exact for the first `limit` entries, scoring as few papers as it can.

    A paper's score is its channel-free score (signals minus age) plus the channel's terms: its votes, the keyword
    and follow bonuses, and its taste term, which lies between 0 and the extreme taste values of its categories (a
    capped mean of them). So for a paper without votes that the channel never saw, the channel-free score plus its
    bonuses plus its highest taste value bounds its score from above. The papers in `special` (voted on or posted
    in the channel) are scored by `rank` first; then the others, best channel-free score first, a few at a time,
    skipping any whose bound is below the `limit`-th best score found so far, and stopping once no later paper can
    reach it. Ages lower every score alike (linearly in time) once every paper is announced, so the channel-free
    scores are computed once per window.
    """
    passes = _filter(window, settings)
    plain = _channel_free(window, weights, now)
    if plain is None:
        return rank([candidate(p.id) for p in window.papers if passes(p.id)], settings, weights, now, taste=taste)
    order, scores = plain
    matched = set().union(*(_matching(window, "keyword", k) for k in settings.keywords))
    followed = set().union(*(_matching(window, "author", a) for a in settings.authors))
    ceiling = max((0.0, *taste.values())) + (weights.keyword_bonus if matched else 0.0)
    ceiling += weights.follow_bonus if followed else 0.0
    highest: dict[tuple[str, ...], float] = {}
    found: list[Ranked] = []
    best: list[float] = []  # min-heap of the `limit` best scores so far

    def score(paper_ids: list[str]) -> None:
        for entry in rank([candidate(p) for p in paper_ids], settings, weights, now, taste=taste):
            found.append(entry)
            heapq.heappush(best, entry.score)
            if len(best) > limit:
                heapq.heappop(best)
        paper_ids.clear()

    score([paper_id for paper_id in special if passes(paper_id)])
    chunk: list[str] = []
    for paper_id in order:
        floor = best[0] - MARGIN if len(best) == limit else -math.inf
        base = scores[paper_id]
        if base + ceiling < floor:
            break
        if paper_id in special or not passes(paper_id):
            continue
        categories = window.by_id[paper_id].categories
        top = highest.get(categories)
        if top is None:
            top = highest[categories] = max((0.0, *(taste[c] for c in categories if c in taste)))
        bonus = (weights.keyword_bonus if paper_id in matched else 0.0) + (
            weights.follow_bonus if paper_id in followed else 0.0
        )
        if base + bonus + top >= floor:
            chunk.append(paper_id)
            if len(chunk) == (CHUNK if best else limit):  # the first `limit` at once: they set the bar
                score(chunk)
    score(chunk)
    found.sort(key=lambda entry: (-entry.score, entry.paper.id))
    return found


def _filter(window: Window, settings: ChannelSettings) -> Callable[[str], bool]:
    """Exactly `passes_filters`, as a test on paper ids made of per-term sets shared by every channel."""
    categories = _union(window, "category", settings.categories)
    unwanted = _union(window, "keyword", settings.negative_keywords)
    wanted = _union(window, "keyword", settings.keywords)
    if settings.keywords:
        wanted |= _union(window, "author", settings.authors)

    def passes(paper_id: str) -> bool:
        if settings.categories and paper_id not in categories:
            return False
        return paper_id not in unwanted and (not settings.keywords or paper_id in wanted)

    return passes


def _union(window: Window, kind: str, terms: Sequence[str]) -> frozenset[str]:
    """The papers any of `terms` matches; remembered per set of terms (channels share category choices)."""
    unions = window.derived.unions
    key = (kind, frozenset(terms))
    found = unions.get(key)
    if found is None:
        found = unions[key] = frozenset().union(*(_matching(window, kind, term) for term in terms))
    return found


_TESTS: dict[str, Callable[[Paper, str], bool]] = {
    "category": lambda paper, term: passes_filters(paper, ChannelSettings(categories=(term,))),
    "keyword": lambda paper, term: bool(matching_keywords(paper, (term,))),
    "author": lambda paper, term: bool(followed_authors(paper, (term,))),
}


def _matching(window: Window, kind: str, term: str) -> frozenset[str]:
    """The window's papers the ranking's own rule says `term` matches (a category, keyword or author filter)."""
    terms = window.derived.terms
    found = terms.get((kind, term))
    if found is None:
        test = _TESTS[kind]
        found = terms[(kind, term)] = frozenset(p.id for p in _may_match(window, kind, term) if test(p, term))
    return found


def _may_match(window: Window, kind: str, term: str) -> list[Paper]:
    """The papers that can match, found cheaply for the whole window at once: the rules compare lower-cased text
    (a keyword in title and abstract, a name among the authors) or category names, so a paper whose text does not
    even contain the term cannot match. Only these are put to the rule itself."""
    if kind == "category":
        index = window.derived.categories
        if not index:
            for paper in window.papers:
                for key in {*paper.categories, *(c.split(".", 1)[0] for c in paper.categories)}:
                    index.setdefault(key, []).append(paper)
        return index.get(term, [])
    joined = window.derived.texts.get(kind)
    if joined is None:
        texts = [_searched_text(paper, kind) for paper in window.papers]
        starts = list(itertools.accumulate((len(text) + 1 for text in texts), initial=0))
        joined = window.derived.texts[kind] = ("\0".join(texts), starts)
    text, starts = joined
    needle, found = term.lower(), []
    if not needle:
        return window.papers
    position = text.find(needle)
    while position != -1:
        index_ = bisect.bisect_right(starts, position) - 1
        found.append(window.papers[index_])
        position = text.find(needle, starts[index_ + 1])
    return found


def _searched_text(paper: Paper, kind: str) -> str:
    if kind == "keyword":
        return f"{paper.title}\n{paper.abstract}".lower()
    return "\n".join(author.lower() for author in paper.authors)


def _channel_free(window: Window, weights: RankingWeights, now: datetime) -> tuple[list[str], dict[str, float]] | None:
    """Ids best first by the score no channel changes, and those scores; None while some paper's age is clamped
    at zero (not yet announced at `now`), when scores do not all move alike."""
    steady = window.derived.steady
    if steady is None:
        steady = window.derived.steady = max((_fresh_since(paper) for paper in window.papers), default=now)
    if now < steady:
        return None
    cached = window.derived.channel_free
    if cached is None:
        plain = [Candidate(paper, window.signals.get(paper.id, ())) for paper in window.papers]
        ranked = rank(plain, ChannelSettings(), weights, now)
        cached = window.derived.channel_free = ([r.paper.id for r in ranked], {r.paper.id: r.score for r in ranked})
    return cached
