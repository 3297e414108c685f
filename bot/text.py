"""Text hygiene shared by the core: control characters out, whitespace folded, lengths bounded.

Platform escaping (markdown, mentions, `& < >`) is the adapters' renderers' job; this only makes text well-formed.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """NFC-normalise, drop control and bidi-override characters, fold all whitespace to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text.replace("\n", " ").replace("\t", " ").replace("\r", " "))
    return re.sub(r"\s+", " ", text).strip()


def clean_multiline(text: str) -> str:
    """Like `clean_text` but keeps paragraph breaks (for summaries people write in a modal)."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return "\n\n".join(p for p in (clean_text(p) for p in paragraphs) if p)


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """Cut at a sentence or word boundary so the result, ellipsis included, fits `limit` characters."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(ellipsis))
    cut = text[:room]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence_end >= room * 0.6:
        return cut[: sentence_end + 1]
    space = cut.rfind(" ")
    if space >= room * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ellipsis


MAX_ID = 2**63 - 1
"""The largest row id a database column holds (BIGINT); larger numbers never reach a query."""


def whole_number(text: str, *, what: str, low: int = 0, high: int = MAX_ID) -> int:
    """`text` as an int in [low, high], or BadInput naming `what` and the range.

    Only ASCII digits count: `str.isdigit()` also accepts '²' or '١', which `int()` then refuses or reads as a
    different number. The length is checked before converting, so 100,000 digits cost nothing."""
    from bot.errors import BadInput

    word = text.strip()
    if not (word.isascii() and word.isdigit()) or len(word) > len(str(high)) or not low <= int(word) <= high:
        shown = "".join(ch if ch.isprintable() else "?" for ch in word[:20]) + ("…" if len(word) > 20 else "")
        raise BadInput(f"{what} must be a whole number from {low} to {high} (got {shown!r})")
    return int(word)


FIRST_ANNOUNCEMENT = date(1991, 8, 14)
LAST_PLAUSIBLE_DAY = date(2999, 12, 31)


def announcement_day(text: str) -> date:
    """A YYYY-MM-DD day arXiv could have announced papers on, or BadInput (`0001-01-01` is not one)."""
    from bot.errors import BadInput

    shown = "".join(ch if ch.isprintable() else "?" for ch in text.strip()[:20])
    try:
        day = date.fromisoformat(text.strip()) if text.strip().isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise BadInput(f"{shown!r} is not a date; use YYYY-MM-DD")
    if not FIRST_ANNOUNCEMENT <= day <= LAST_PLAUSIBLE_DAY:
        raise BadInput(f"{day} is outside arXiv's announcements (they start on {FIRST_ANNOUNCEMENT})")
    return day
