"""Channel settings typed in chat (`categories=cs.LG,cs.CL time=09:00 …`) or given as typed options (SettingsChange):
validated, normalised, all or nothing. How settings are described in words is `bot.domain.messages`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields

from bot.domain.config import check_post_time, check_timezone
from bot.domain.errors import BadInput
from bot.domain.model import ChannelSettings
from bot.domain.taxonomy import canonical_category
from bot.domain.text import clean_text, whole_number

OPTION_NAMES = (
    "categories",
    "keywords",
    "negative_keywords",
    "authors",
    "top_n",
    "post_time",
    "timezone",
    "weekdays",
    "announce_empty",
    "threads",
    "roundup",
    "roundup_day",
    "roundup_time",
    "roundup_empty",
    "journal_club",  # journal club
)
ALIASES = {
    "time": "post_time",
    "tz": "timezone",
    "top": "top_n",
    "days": "weekdays",
    "exclude": "negative_keywords",
    "follow": "authors",
    "cats": "categories",
    "roundup_at": "roundup_time",
    "journalclub": "journal_club",
}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 100


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """A settings change from typed options (Discord's slash-command options); None leaves a setting as it is.

    Lists, times and days stay text, as people type them, and go through the same parsers as `key=value` text;
    the number and the flag arrive typed and are checked as they are, not turned back into text and parsed again."""

    categories: str | None = None
    keywords: str | None = None
    negative_keywords: str | None = None
    authors: str | None = None
    top_n: int | None = None
    post_time: str | None = None
    timezone: str | None = None
    weekdays: str | None = None
    announce_empty: bool | None = None
    threads: str | None = None
    roundup: bool | None = None
    roundup_day: str | None = None
    roundup_time: str | None = None
    roundup_empty: bool | None = None


def option_name(raw: str) -> str:
    """The setting an option typed in chat names: `Time`, `post-time` and `post_time` are all `post_time`."""
    name = raw.strip().lower().replace("-", "_")
    return ALIASES.get(name, name)


def apply_options(current: ChannelSettings, options: Mapping[str, str] | SettingsChange) -> ChannelSettings:
    """Return `current` with `options` applied (text typed in chat, or a typed SettingsChange); raise BadInput
    naming the first bad option (nothing is saved)."""
    if isinstance(options, SettingsChange):
        given: list[tuple[str, str | int | bool]] = [
            (field.name, value) for field in fields(options) if (value := getattr(options, field.name)) is not None
        ]
    else:
        given = [(raw_name, str(raw_value)) for raw_name, raw_value in options.items()]
    changes: dict[str, object] = {}
    for raw_name, value in given:
        name = option_name(raw_name)
        if name not in OPTION_NAMES:
            raise BadInput(f"unknown setting {clean_text(raw_name)[:40]!r}; known: {', '.join(OPTION_NAMES)}")
        try:
            changes[name] = _PARSERS[name](clean_text(value)) if isinstance(value, str) else _typed(name, value)
        except ValueError as error:
            raise BadInput(f"{name}: {error}") from None
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


def _typed(name: str, value: int | bool) -> int | bool:
    """A typed option's value, checked: `top_n` a whole number in range, `announce_empty` a flag."""
    if name in ("announce_empty", "roundup", "roundup_empty") and isinstance(value, bool):
        return value
    if name == "top_n" and isinstance(value, int) and not isinstance(value, bool):
        return _top_n(str(value))
    raise ValueError(f"must be text (got {type(value).__name__})")


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
    found = []
    for item in _items(value):
        canonical = canonical_category(item)
        if canonical is None:
            raise ValueError(
                f"{item[:40]!r} is not an arXiv archive or category (e.g. cs.LG, math.GT, hep-th or a whole archive "
                "such as math; see https://arxiv.org/category_taxonomy)"
            )
        found.append(canonical)
    return tuple(dict.fromkeys(found))


def _top_n(value: str) -> int:
    try:
        return whole_number(value, what="top", low=1, high=25)
    except BadInput as error:
        raise ValueError(str(error).removeprefix("top ")) from None


def _weekdays(value: str) -> tuple[int, ...]:
    text = value.lower().replace(" ", "")
    if text in ("daily", "all", "every"):
        return tuple(range(7))
    if text in ("weekdays", "mon-fri"):
        return (0, 1, 2, 3, 4)
    days: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if _day_index(first) is None or (last and _day_index(last) is None):
            raise ValueError(f"{part[:40]!r} is not a day; use mon,tue,… (or monday,…) or a range like mon-fri")
        start = _day_index(first) or 0
        end = (_day_index(last) or 0) if last else start
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    if not days:
        raise ValueError("name at least one day")
    return tuple(sorted(days))


FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day_index(word: str) -> int | None:
    """Monday = 0 for an exact day name, short (`mon`) or full (`monday`); None for anything else (`monkey`)."""
    for names in (DAY_NAMES, FULL_DAY_NAMES):
        if word in names:
            return names.index(word)
    return None


def _threads(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("button", "always", "off"):
        raise ValueError(f"must be button, always or off (got {value[:20]!r})")
    return lowered


def _one_day(value: str) -> int:
    day = _day_index(value.lower().strip())
    if day is None:
        raise ValueError(f"{value[:40]!r} is not a day; use mon, tue, … or monday, …")
    return day


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise ValueError(f"must be yes or no (got {value[:20]!r})")


def _weekly(value: str) -> str:
    """A weekly journal-club poll: `fri 15:00` (or `friday@15:00`), normalised to `fri 15:00`; `off` = none."""
    text = value.strip().lower()
    if text in ("", "off", "no", "none", "-", "clear"):
        return ""
    day, _, at = text.replace("@", " ").partition(" ")
    index = _day_index(day)
    if index is None or not at.strip():
        raise ValueError(f"{value[:40]!r}: write a day and a time, e.g. fri 15:00 (or off)")
    return f"{DAY_NAMES[index]} {check_post_time(at.strip())}"


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
    "threads": _threads,
    "roundup": _flag,
    "roundup_day": _one_day,
    "roundup_time": check_post_time,
    "roundup_empty": _flag,
    "journal_club": _weekly,
}
