"""One card builder for the renderers' tests on every platform: every user-facing field settable."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.model import Paper, PaperCard, PostRecord, Summary, VoteTally


def card(
    *,
    title: str = "Interpreting Graph Neural Networks for NLP",
    abstract: str = "We study GNNs.",
    summary: str = "They drop edges.",
    author: str | None = None,
    authors: tuple[str, ...] = ("Ivan Titov",),
    why: tuple[str, ...] = ("HF 41",),
    categories: tuple[str, ...] = ("cs.CL", "cs.LG"),
    posted: tuple[PostRecord, ...] = (),
    unavailable: tuple[str, ...] = (),
    votes: VoteTally | None = None,
) -> PaperCard:
    """A card with every user-facing field settable, for the renderer's tests."""
    when = datetime(2020, 10, 1, tzinfo=UTC)
    paper = Paper(
        id="2010.00577",
        version=2,
        title=title,
        authors=authors,
        abstract=abstract,
        categories=categories,
        primary_category=categories[0] if categories else "cs.CL",
        published=when,
        updated=when,
    )
    source = "community" if author else "extractive"
    return PaperCard(
        paper=paper,
        summary=Summary(text=summary, source=source, created=when, author=author),
        votes=votes or VoteTally(3, 1),
        why=why,
        posted=posted,
        unavailable=unavailable,
    )
