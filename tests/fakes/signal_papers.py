"""Paper values for the signal-source tests, keyed to what the fakes' payloads know about them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.model import Paper

FEATURED = "2602.23229"  # HF daily list (41 upvotes, 1234 stars, ai_summary), 2 HN stories, Bluesky posts, S2 TLDR
DAILY_ONLY = "2603.01011"  # HF daily list (7 upvotes), S2 with 0 citations and no TLDR
LOOKUP_ONLY = "2607.16859"  # not on the daily list; HF /papers/{id} (3 upvotes), one HN story with null points
UNKNOWN = "2601.99999"  # no service knows it
OLD_STYLE = "hep-th/9901001"


def make_paper(paper_id: str, *, version: int = 1, title: str = "A paper", abstract: str = "An abstract.") -> Paper:
    moment = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
    return Paper(
        id=paper_id,
        version=version,
        title=title,
        authors=("A. Author",),
        abstract=abstract,
        categories=("cs.LG",),
        primary_category="cs.LG",
        published=moment,
        updated=moment,
    )


def papers(*ids: str) -> list[Paper]:
    return [make_paper(paper_id) for paper_id in ids]
