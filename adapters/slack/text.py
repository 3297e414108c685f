"""Making hostile text safe for Slack: strip control characters, escape `& < >`, cut to a limit.

Slack's only control characters in message text are `&`, `<` and `>` (links and mentions such as `<!channel>` or
`<@U123>` need `<`), so escaping exactly those three makes any title or abstract inert without entity-encoding the
rest. Cutting happens on the raw text so an entity (`&amp;`) is never split in half.
"""

from __future__ import annotations

import re
import unicodedata

from bot.domain.text import strip_invisible

ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_UNESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_SPACES = re.compile(r"[ \t]+")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""The ASCII control characters `clean` drops (all but tab and newline)."""
_URL_UNSAFE = re.compile(r"[\s<>|]")


def clean(text: str, *, single_line: bool = False) -> str:
    """Drop control characters and the core's invisible ones (`bot.domain.text.strip_invisible`: bidi controls and
    invisible format characters, joiners kept where they join), keep newlines unless `single_line`, and collapse
    runs of blanks."""
    text = text.replace("\r\n", "\n")
    if text.isascii() or text.replace("\n", "").replace("\t", "").isprintable():
        # Most text: ASCII, or with no control, format, private-use or unassigned character at all (what
        # `isprintable` rules out, with every blank but the space), so nothing but an ASCII control may go and no
        # character-by-character pass is needed (headers and lines with an emoji or a `·` took it: 3-7x slower).
        kept = _ASCII_CONTROL.sub("", text)
        kept = kept.replace("\n", " ") if single_line else kept
    else:
        chars = []
        for char in strip_invisible(text):
            if char == "\n":
                chars.append(" " if single_line else "\n")
            elif char == "\t" or unicodedata.category(char) == "Cf" or not unicodedata.category(char).startswith("C"):
                chars.append(char)
        kept = "".join(chars)
    lines = (_SPACES.sub(" ", line).strip() for line in kept.split("\n"))
    return "\n".join(lines).strip()


def escape(text: str) -> str:
    """Escape Slack's three control characters and nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # `&` first: its entity has one


def unescape(text: str) -> str:
    """Undo Slack's escaping of command text (`&amp;` → `&`), `&amp;` last so `&amp;lt;` stays `&lt;`."""
    for entity, char in _UNESCAPES:
        text = text.replace(entity, char)
    return text


def fit(text: str, limit: int, *, suffix: str = "") -> str:
    """Escaped `text` cut so that it plus the (already formatted) `suffix` is at most `limit` characters.

    The suffix is only added when something was cut; an ellipsis marks the cut.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget = limit - len(suffix) - len(ELLIPSIS)
    if budget < 0:
        suffix, budget = "", limit - len(ELLIPSIS)
    if budget < 0:
        return ""
    used, parts = 0, []
    for char in text:
        piece = _ESCAPES.get(char, char)
        if used + len(piece) > budget:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts).rstrip() + ELLIPSIS + suffix


def plain(text: str, limit: int) -> str:
    """Text for a `plain_text` object (not parsed for mentions): cleaned to one line and cut, never escaped."""
    line = clean(text, single_line=True)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + ELLIPSIS


def link(url: str, label: str, *, limit: int = 300) -> str:
    """A mrkdwn link `<url|label>`; the URL loses anything that could close or split the link."""
    return f"<{_URL_UNSAFE.sub('', url)}|{fit(clean(label, single_line=True), limit)}>"
