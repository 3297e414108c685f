"""Summaries with provenance: which one a card shows, and a deterministic extractive fallback.

Order of preference: the most up-voted community summary written in chat, then Hugging Face's ai_summary, then
Semantic Scholar's TLDR, then an LLM summary (when configured), then key sentences picked from the abstract.
The author's abstract is always on the card besides.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bot.domain.model import Summary
from bot.domain.text import clean_text, shorten

PREFERENCE = ("community", "hf", "s2", "llm")

_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "et al.",
    "etc.",
    "vs.",
    "cf.",
    "Fig.",
    "Figs.",
    "Eq.",
    "Eqs.",
    "Sec.",
    "Ref.",
    "resp.",
    "approx.",
    "Dr.",
    "Prof.",
    "No.",
    "al.",
)
_STOPWORDS = frozenset(
    """a an and are as at be been but by can for from has have in into is it its of on or our that the their these
    this those to under we which while with without via not more most such than then there they both also only over
    between can using use used based new show shows paper work approach method methods results""".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[$\\])")
_CUE = re.compile(
    r"\b(we (propose|introduce|present|show|find|demonstrate)|this paper|our (method|approach|results))\b"
)


def best_summary(candidates: Iterable[Summary]) -> Summary | None:
    """Pick by source preference; among community summaries the most up-voted wins, then the oldest."""
    ranked = sorted(
        (s for s in candidates if s.source in PREFERENCE and s.text.strip()),
        key=lambda s: (PREFERENCE.index(s.source), -s.votes, s.created, s.id or 0),
    )
    return ranked[0] if ranked else None


def extractive_summary(abstract: str, *, created: datetime, sentences: int = 2, max_chars: int = 600) -> Summary:
    """Key sentences of the abstract, in their original order. Pure and deterministic."""
    parts = split_sentences(abstract)
    if len(parts) <= sentences:
        chosen = parts
    else:
        frequencies = Counter(w for part in parts for w in _words(part))
        scored = sorted(
            range(len(parts)),
            key=lambda i: (-_sentence_score(parts[i], i, frequencies), i),
        )
        chosen = [parts[i] for i in sorted(scored[:sentences])]
    text = shorten(" ".join(chosen), max_chars) if chosen else "(no abstract)"
    return Summary(text=text, source="extractive", created=created)


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences without breaking "e.g.", "et al.", decimals or `$…$` LaTeX."""
    flat = clean_text(text)
    protected, masks = _protect(flat)
    pieces = _SENTENCE_END.split(protected)
    return [_unprotect(piece, masks).strip() for piece in pieces if piece.strip()]


def _protect(text: str) -> tuple[str, list[str]]:
    masks: list[str] = []

    def hide(match: re.Match[str]) -> str:
        masks.append(match.group(0))
        return f"\x00{len(masks) - 1}\x00"

    text = re.sub(r"\$[^$]*\$", hide, text)
    for abbreviation in _ABBREVIATIONS:
        text = re.sub(rf"(?<!\w){re.escape(abbreviation)}", hide, text)
    text = re.sub(r"\b[A-Z]\.(?=\s[A-Z])", hide, text)  # initials: "J. Smith"
    return text, masks


def _unprotect(text: str, masks: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: masks[int(m.group(1))], text)


def _words(sentence: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z\-]+", sentence.lower()) if w not in _STOPWORDS and len(w) > 2]


def _sentence_score(sentence: str, index: int, frequencies: Counter[str]) -> float:
    words = _words(sentence)
    if not words:
        return 0.0
    density = sum(frequencies[w] for w in set(words)) / (len(words) ** 0.5)
    cue = 1.5 if _CUE.search(sentence.lower()) else 1.0
    position = 1.3 if index == 0 else 1.0
    return float(density * cue * position)
