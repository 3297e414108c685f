"""The voting rules: a reaction (or its removal) becomes at most one vote per person, paper and channel; an
opposite reaction replaces the vote; removing the last reaction of its sign removes it. Pure: the vote use case
(`bot.app.votes`) and storage (`bot.storage.votes`, `bot.storage.vote_batch`) apply them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

SEPARATOR = "\n"
BUTTON = "vote"
"""The name of a vote cast with a button (no reaction behind it): clearing a message's reactions keeps it."""


def names(joined: str) -> set[str]:
    return {name for name in joined.split(SEPARATOR) if name}


def joined(found: set[str]) -> str:
    return SEPARATOR.join(sorted(found))[:200]


def reaction_name(reaction: str) -> str:
    return reaction[:40].replace(SEPARATOR, "") or BUTTON


@dataclass(frozen=True, slots=True)
class Vote:
    """A stored vote (id None until written)."""

    id: int | None
    value: int
    reactions: str
    updated_at: datetime


def transition(vote: Vote | None, value: int, name: str, *, removed: bool, now: datetime) -> tuple[Vote | None, bool]:
    """The rule: a user's vote on a paper counts once, whatever the number of same-sign reactions; an opposite
    reaction replaces it; removing the last reaction of its sign removes it. Returns the vote after the reaction
    and whether the tally changed."""
    if removed:
        if vote is None or vote.value != value:
            return vote, False
        remaining = names(vote.reactions) - {name}
        if remaining:
            return Vote(vote.id, value, joined(remaining), vote.updated_at), False
        return None, True
    if vote is None:
        return Vote(None, value, name, now), True
    if vote.value == value:
        return Vote(vote.id, value, joined(names(vote.reactions) | {name}), vote.updated_at), False
    return Vote(vote.id, value, name, now), True  # built directly: `dataclasses.replace` costs 3× as much per event


class VotesChanged(Exception):
    """What a group of reactions was applied to changed before its write (another writer — a lane, a replica —
    changed one of its votes or remembered one of its event ids first): nothing of the group was written, and it is
    read and applied again."""


VoteKey = tuple[int, str, str]
"""(channel id, paper id, user id): one person's vote on one paper in one channel."""


class Reaction(NamedTuple):
    """One reaction (or its removal) on a paper, ready to apply."""

    channel_id: int
    paper_id: str
    user_id: str
    value: int
    name: str
    removed: bool

    @property
    def key(self) -> VoteKey:
        return (self.channel_id, self.paper_id, self.user_id)

    @property
    def pair(self) -> tuple[int, str]:
        return (self.channel_id, self.paper_id)
