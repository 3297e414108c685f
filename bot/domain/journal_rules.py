"""The journal club's rules, apart from its use case (`bot/app/journal_club.py`): how long a poll runs, which week a
scheduled poll belongs to, and who wins a tie."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.errors import BadInput
from bot.domain.messages import tie_note
from bot.domain.model import POLL_MAX_HOURS, PaperCard
from bot.domain.text import whole_number


def parse_closes(text: str | None, *, now: datetime, timezone: str, default_hours: int) -> int:
    """`closes=` as the poll's duration in whole hours (Discord's unit): `36h`, `2d`, a bare number of hours, or a
    moment in the channel's time zone (`2020-11-09T17:00`, `2020-11-09 17:00`), rounded up to the next hour."""
    if text is None or not text.strip():
        return default_hours
    word = text.strip().lower()
    what = f"closes (1 to {POLL_MAX_HOURS} hours, e.g. 48h, 2d or 2020-11-09T17:00)"
    if word.endswith("d") and word[:-1].isdigit():
        return whole_number(str(int(word[:-1]) * 24), what=what, low=1, high=POLL_MAX_HOURS)
    if word.endswith("h") or word.isdigit():
        return whole_number(word.removesuffix("h"), what=what, low=1, high=POLL_MAX_HOURS)
    try:
        moment = datetime.fromisoformat(word.replace(" ", "T"))
    except ValueError:
        raise BadInput(f"{what}: cannot read {text.strip()[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    hours = math.ceil((moment - now).total_seconds() / 3600)
    if not 1 <= hours <= POLL_MAX_HOURS:
        raise BadInput(f"{what}: {text.strip()[:40]!r} is {hours} hours from now")
    return hours


def week_of(moment: datetime) -> str:
    """`2020-W45`: the ISO week a scheduled poll belongs to (one a week per channel)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def pick_winner(tied: Sequence[str], cards: Mapping[str, PaperCard], most: int) -> tuple[PaperCard, str]:
    """The winner among the papers `tied` at `most` votes (their cards in `cards`), and the sentence saying how a
    tie was broken: the channel's net votes, then hotness, then the poll's order ("" when nobody tied)."""
    if len(tied) == 1:
        return cards[tied[0]], ""
    best_net = max(cards[paper].votes.net for paper in tied)
    by_net = [paper for paper in tied if cards[paper].votes.net == best_net]
    if len(by_net) == 1:
        values = ", ".join(f"arXiv:{paper} {cards[paper].votes.net:+d}" for paper in tied)
        return cards[by_net[0]], tie_note(len(tied), most, by="votes", winner=f"arXiv:{by_net[0]}", values=values)
    best = max(round(cards[paper].score, 2) for paper in by_net)
    by_heat = [paper for paper in by_net if round(cards[paper].score, 2) == best]
    if len(by_heat) == 1:
        values = ", ".join(f"arXiv:{paper} {cards[paper].score:.2f}" for paper in by_net)
        note = tie_note(len(tied), most, by="hotness", winner=f"arXiv:{by_heat[0]}", values=values)
        return cards[by_heat[0]], note
    return cards[by_heat[0]], tie_note(len(tied), most, by="order", winner=f"arXiv:{by_heat[0]}")
