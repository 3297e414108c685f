"""Parse `/hotpapers subscribe categories=cs.LG,cs.CL keywords="diffusion, rl" time=09:00` into raw options.

Only the syntax lives here (key=value pairs, quotes); which keys exist, their aliases
(`bot.domain.channel_settings.option_name`) and what a value means are the engine's business (`HotPapers.subscribe`
raises
BadInput naming the option).
"""

from __future__ import annotations

import re

from adapters.slack.text import unescape
from bot.domain.channel_settings import option_name
from bot.domain.errors import BadInput

USAGE = (
    'Usage: `/hotpapers subscribe categories=cs.LG,cs.CL keywords="diffusion, rl" time=09:00 '
    "tz=Europe/Berlin top=5 weekdays=mon-fri`"
)
# Slack clients turn straight quotes into typographic ones; treat both alike. Apostrophes inside bare values
# (`authors=O'Neil`) are fine: only a value that starts with a quote is quoted.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_TOKEN = re.compile(
    r"""(?P<key>[^\s="']+)=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"']\S*|))(?=\s|$)|(?P<junk>\S+)"""
)


def parse_options(text: str) -> dict[str, str]:
    """Return `{key: raw value}` (aliases resolved); BadInput for a token without `=` or a repeated key."""
    options: dict[str, str] = {}
    for match in _TOKEN.finditer(unescape(text).translate(_QUOTES)):
        junk = match.group("junk")
        if junk is not None:
            problem = "Unbalanced quotes" if junk[0] in "\"'" or "=" in junk else f"Got {_shown(junk)}"
            raise BadInput(f"{problem}: options look like key=value. {USAGE}")
        name = option_name(match.group("key"))
        if name in options:
            raise BadInput(f"Option {name} is given twice")
        value = next(v for v in (match.group("dq"), match.group("sq"), match.group("bare")) if v is not None)
        options[name] = value.strip()
    return options


def split_subcommand(text: str) -> tuple[str, str]:
    """`"subscribe top=5"` → `("subscribe", "top=5")`; an empty text is the `help` subcommand."""
    head, _, rest = text.strip().partition(" ")
    return (head.lower() or "help"), rest.strip()


def _shown(text: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(cleaned if len(cleaned) <= 40 else cleaned[:39] + "…")
