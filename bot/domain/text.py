"""Text hygiene shared by the core: control characters out, whitespace folded, lengths bounded.

Platform escaping (markdown, mentions, `& < >`) is the adapters' renderers' job; this only makes text well-formed.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ZWNJ, ZWJ = "\u200c", "\u200d"
_VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
"""Format characters that print something (Arabic number signs, the end-of-ayah mark…): kept."""
_TAGS = range(0xE0020, 0xE0080)  # tag characters and CANCEL TAG: inside subdivision flags only
_EMOJI_PARTS = frozenset("\ufe0f\u20e3") | {chr(c) for c in range(0x1F3FB, 0x1F400)}  # VS-16, keycap, skin tones
MAX_MARKS = 30
"""Combining marks in a row that a text keeps before it is normalised: the 30 of Unicode's stream-safe format
(UAX #15). Normalising a run of n marks costs n² (canonical reordering), so a title or author name of a few
thousand stacked accents would take seconds to render on any platform; no language needs more than a handful."""


def stream_safe(text: str) -> str:
    """`text` with each run of combining marks cut to `MAX_MARKS`, so normalising it takes time linear in its
    length. Text with no such run (any real name or title) comes back unchanged."""
    if text.isascii():
        return text
    kept: list[str] = []
    run = 0
    for char in text:
        run = run + 1 if unicodedata.combining(char) else 0
        if run <= MAX_MARKS:
            kept.append(char)
    return "".join(kept) if len(kept) < len(text) else text


def strip_invisible(text: str) -> str:
    """Drop bidi controls and invisible format characters (U+200B, U+2060, U+FEFF, U+061C, U+202A–U+202E,
    U+2066–U+2069, U+200E/F …), which can reorder or hide what a reader sees. Two joiners mean something and stay
    where they do: ZWJ (U+200D) between emoji (👩‍🔬) and ZWNJ (U+200C) between letters (Persian and Indic names).

    This is the one rule for user-visible text; every renderer applies it (through `clean_text` or directly).
    """
    if text.isascii():
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) != "Cf" or char in _VISIBLE_FORMAT:
            kept.append(char)
            continue
        before = kept[-1] if kept else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        if _meaningful(char, before, after):
            kept.append(char)
    return "".join(kept)


def _meaningful(char: str, before: str, after: str) -> bool:
    """A format character that does something visible where it stands: a joiner inside an emoji sequence or a
    word, or a tag (cancel tag included) inside a subdivision flag (🏴 + tags)."""
    if char == ZWJ:
        return _emoji(before) and _emoji(after)
    if char == ZWNJ:
        return _letter(before) and _letter(after)
    return ord(char) in _TAGS and bool(before) and (before == "\U0001f3f4" or ord(before) in _TAGS)


def _emoji(char: str) -> bool:
    return bool(char) and (char in _EMOJI_PARTS or unicodedata.category(char) == "So")


def _letter(char: str) -> bool:
    return bool(char) and unicodedata.category(char)[0] in "LM"


def clean_text(text: str) -> str:
    """NFC-normalise (in linear time: `stream_safe` first), drop control characters, bidi controls and invisible
    format characters (`strip_invisible`), fold all whitespace to single spaces."""
    text = strip_invisible(unicodedata.normalize("NFC", stream_safe(text)))
    text = _CONTROL.sub(" ", text.replace("\n", " ").replace("\t", " ").replace("\r", " "))
    return re.sub(r"\s+", " ", text).strip()


def display_title(title: str, paper_id: str) -> str:
    """A paper's title as one clean line, or `arXiv:<id>` when nothing visible is left (a header is never empty)."""
    return clean_text(title) or f"arXiv:{paper_id}"


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
    from bot.domain.errors import BadInput

    word = text.strip()
    if not (word.isascii() and word.isdigit()) or len(word) > len(str(high)) or not low <= int(word) <= high:
        shown = "".join(ch if ch.isprintable() else "?" for ch in word[:20]) + ("…" if len(word) > 20 else "")
        raise BadInput(f"{what} must be a whole number from {low} to {high} (got {shown!r})")
    return int(word)


FIRST_ANNOUNCEMENT = date(1991, 8, 14)
LAST_PLAUSIBLE_DAY = date(2999, 12, 31)


def announcement_day(text: str) -> date:
    """A YYYY-MM-DD day arXiv could have announced papers on, or BadInput (`0001-01-01` is not one)."""
    from bot.domain.errors import BadInput

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
