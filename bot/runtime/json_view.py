"""The `--json` documents of the CLI (fields documented in the README)."""

from __future__ import annotations

from typing import Any

from bot.domain.model import Digest, PaperCard


def card_json(card: PaperCard) -> dict[str, Any]:
    paper, summary = card.paper, card.summary
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "published": paper.published.isoformat(),
        "updated": paper.updated.isoformat(),
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        "summary": {
            "text": summary.text,
            "source": summary.source,
            "model": summary.model,
            "author": summary.author,
            "created": summary.created.isoformat(),
        },
        "signals": {signal.source: signal.value for signal in card.signals},
        "unavailable": list(card.unavailable),
        "votes": {"up": card.votes.up, "down": card.votes.down},
        "score": card.score,
        "why": card.why_line,
        "posted": [{"channel": p.channel.key, "date": p.day.isoformat()} for p in card.posted],
        "posted_count": card.posted_count,
    }


def digest_json(digest: Digest) -> dict[str, Any]:
    return {
        "channel": digest.channel.key,
        "date": digest.day.isoformat(),
        "announced": digest.announced,
        "header": digest.header,
        "ingested": digest.ingested,
        "entries": [
            {"rank": e.rank, "new_version": e.updated, **card_json(e.card), "rank_score": e.card.rank_score}
            for e in digest.entries
        ],
    }
