"""Channel settings typed in chat (`categories=cs.LG,cs.CL time=09:00 …`): validated, normalised, all or nothing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from bot.config import check_post_time, check_timezone
from bot.errors import BadInput
from bot.model import ChannelSettings
from bot.text import clean_text

OPTION_NAMES = (
    "categories", "keywords", "negative_keywords", "authors", "top_n", "post_time", "timezone", "weekdays",
    "announce_empty",
)  # fmt: skip
ALIASES = {"time": "post_time", "tz": "timezone", "top": "top_n", "days": "weekdays", "exclude": "negative_keywords",
           "follow": "authors", "cats": "categories"}  # fmt: skip
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 100
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]{2,})?$")


def apply_options(current: ChannelSettings, options: Mapping[str, str]) -> ChannelSettings:
    """Return `current` with `options` applied; raise BadInput naming the first bad option (nothing is saved)."""
    changes: dict[str, object] = {}
    for raw_name, raw_value in options.items():
        name = ALIASES.get(raw_name.strip().lower(), raw_name.strip().lower())
        if name not in OPTION_NAMES:
            raise BadInput(f"unknown setting {clean_text(raw_name)[:40]!r}; known: {', '.join(OPTION_NAMES)}")
        try:
            changes[name] = _PARSERS[name](clean_text(str(raw_value)))
        except ValueError as error:
            raise BadInput(f"{name}: {error}") from None
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


def _items(value: str) -> tuple[str, ...]:
    if value.lower() in ("", "none", "-", "clear"):
        return ()
    items = tuple(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    if len(items) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS} entries (got {len(items)})")
    for item in items:
        if len(item) > MAX_ITEM_LENGTH:
            raise ValueError(f"each entry must be at most {MAX_ITEM_LENGTH} characters")
        if any(mark in item for mark in ("@", "<", ">", "`")):
            raise ValueError(f"{item[:40]!r} contains a character that is not allowed (@ < > `)")
    return items


def _categories(value: str) -> tuple[str, ...]:
    items = _items(value)
    for item in items:
        if not _CATEGORY.match(item):
            raise ValueError(f"{item!r} is not an arXiv category such as cs.LG, math.GT or hep-th")
    return items


def _top_n(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 25:
        raise ValueError(f"must be a whole number from 1 to 25 (got {value[:20]!r})")
    return int(value)


def _weekdays(value: str) -> tuple[int, ...]:
    text = value.lower().replace(" ", "")
    if text in ("daily", "all", "every"):
        return tuple(range(7))
    if text in ("weekdays", "mon-fri"):
        return (0, 1, 2, 3, 4)
    days: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES):
            raise ValueError(f"{part!r} is not a day; use mon,tue,… or a range like mon-fri")
        start = DAY_NAMES.index(first[:3])
        end = DAY_NAMES.index(last[:3]) if last else start
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    if not days:
        raise ValueError("name at least one day")
    return tuple(sorted(days))


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise ValueError(f"must be yes or no (got {value[:20]!r})")


_PARSERS = {
    "categories": _categories,
    "keywords": _items,
    "negative_keywords": _items,
    "authors": _items,
    "top_n": _top_n,
    "post_time": check_post_time,
    "timezone": check_timezone,
    "weekdays": _weekdays,
    "announce_empty": _flag,
}


def describe(settings: ChannelSettings) -> str:
    """One human line per setting, for `/hotpapers settings`."""
    days = ",".join(DAY_NAMES[d] for d in settings.weekdays) or "none"

    def listed(items: tuple[str, ...]) -> str:
        return ", ".join(items) if items else "(any)"

    paused = settings.paused
    pause = (
        (f"paused: {paused.reason} — to fix it: {paused.fix} (then subscribe again; retried daily)",) if paused else ()
    )
    return "\n".join(
        (
            *pause,
            f"subscribed: {'yes' if settings.subscribed else 'no'}",
            f"categories: {listed(settings.categories)}",
            f"keywords: {listed(settings.keywords)}",
            f"negative keywords: {', '.join(settings.negative_keywords) or '(none)'}",
            f"followed authors: {', '.join(settings.authors) or '(none)'}",
            f"top: {settings.top_n} papers at {settings.post_time} {settings.timezone} on {days}",
            f"say so on days without announcements: {'yes' if settings.announce_empty else 'no'}",
        )
    )
