"""Reaction votes, many per transaction: the set-wise reads and writes behind `bot.app.votes.record_votes` (the rule it
applies, `transition`, lives in `bot.domain.vote_rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import VoteTally
from bot.domain.vote_rules import Reaction, Vote, VoteKey, transition
from bot.storage.dialect import insert_for, one_of, per_dialect
from bot.storage.tables import PaperRow, ProcessedEventRow, VoteRow, table_of

_VOTES = table_of(VoteRow)
_KEY = (_VOTES.c.channel_id, _VOTES.c.paper_id, _VOTES.c.user_id)


def buckets(items: list[Any]) -> list[Any]:
    """Pad a list to a power of two by repeating its last item, so a statement whose text depends on the list's
    length has a handful of forms (prepared once each) instead of one per length."""
    size = 1
    while size < len(items):
        size *= 2
    return items + items[-1:] * (size - len(items))


@per_dialect
def _remember_events(dialect: str) -> Any:
    table = table_of(ProcessedEventRow)
    return (
        insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(table.c.platform, table.c.event_id)
    )


@per_dialect
def _existing_papers(dialect: str) -> Any:
    return select(table_of(PaperRow).c.id).where(one_of(table_of(PaperRow).c.id, "ids", dialect))


@per_dialect
def _locked_votes(dialect: str) -> Any:
    return (
        select(_VOTES.c.id, *_KEY, _VOTES.c.value, _VOTES.c.reactions, _VOTES.c.updated_at)
        .where(tuple_(*_KEY).in_(bindparam("keys", expanding=True)))
        .order_by(_VOTES.c.id)  # rows are locked in this order: two groups cannot deadlock on each other
        .with_for_update()
    )


@per_dialect
def _delete_votes(dialect: str) -> Any:
    return delete(_VOTES).where(one_of(_VOTES.c.id, "ids", dialect))


@per_dialect
def _update_votes(dialect: str) -> Any:
    return (
        update(_VOTES)
        .where(_VOTES.c.id == bindparam("vote_id"))
        .values(value=bindparam("new_value"), reactions=bindparam("new_reactions"), updated_at=bindparam("at"))
    )


@per_dialect
def _insert_votes(dialect: str) -> Any:
    return (
        insert_for(dialect, _VOTES)
        .on_conflict_do_nothing(index_elements=["channel_id", "paper_id", "user_id"])
        .returning(*_KEY)
    )


@per_dialect
def _tallies_of_pairs(dialect: str) -> Any:
    up = func.sum(case((_VOTES.c.value > 0, 1), else_=0))
    down = func.sum(case((_VOTES.c.value < 0, 1), else_=0))
    return (
        select(_VOTES.c.channel_id, _VOTES.c.paper_id, up, down)
        .where(tuple_(_VOTES.c.channel_id, _VOTES.c.paper_id).in_(bindparam("pairs", expanding=True)))
        .group_by(_VOTES.c.channel_id, _VOTES.c.paper_id)
    )


class VoteBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_deliveries(self, keys: Sequence[tuple[str, str]], *, now: datetime) -> set[tuple[str, str]]:
        """Remember (platform, event id) pairs; returns those not seen before."""
        if not keys:
            return set()
        rows = [{"platform": platform, "event_id": event_id, "seen_at": now} for platform, event_id in keys]
        result = await self._session.execute(_remember_events(self._session), rows)
        return {(platform, event_id) for platform, event_id in result}

    async def existing_papers(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set((await self._session.scalars(_existing_papers(self._session), {"ids": list(ids)})).all())

    async def apply_many(self, reactions: Sequence[Reaction], *, now: datetime) -> list[bool]:
        """Apply reactions in order with `transition`, reading (and locking) each vote touched once and writing
        each once. Returns, per reaction, whether it changed a tally."""
        changed = [False] * len(reactions)
        pending = list(range(len(reactions)))
        for _ in range(5):  # another writer can insert a vote between our read and our insert: read it and redo
            keys = list(dict.fromkeys(reactions[i].key for i in pending))
            before = await self._votes(keys)
            after: dict[VoteKey, Vote | None] = dict(before)
            for i in pending:
                reaction = reactions[i]
                after[reaction.key], changed[i] = transition(
                    after.get(reaction.key), reaction.value, reaction.name, removed=reaction.removed, now=now
                )
            lost = await self._write(before, after)
            if not lost:
                return changed
            pending = [i for i in pending if reactions[i].key in lost]
        raise RuntimeError("votes kept changing under a group of reactions")

    async def _votes(self, keys: list[VoteKey]) -> dict[VoteKey, Vote]:
        if not keys:
            return {}
        rows = await self._session.execute(_locked_votes(self._session), {"keys": buckets(keys)})
        return {(cid, pid, uid): Vote(vid, value, reactions, at) for vid, cid, pid, uid, value, reactions, at in rows}

    async def _write(self, before: dict[VoteKey, Vote], after: dict[VoteKey, Vote | None]) -> set[VoteKey]:
        """Write the difference; returns the keys whose insert lost a race (someone inserted that vote first)."""
        gone = [vote.id for key, vote in before.items() if after.get(key) is None]
        moved = [vote for key, vote in after.items() if vote is not None and key in before and vote != before[key]]
        new = {key: vote for key, vote in after.items() if vote is not None and key not in before}
        if gone:
            await self._session.execute(_delete_votes(self._session), {"ids": gone})
        if moved:
            changes = [
                {"vote_id": v.id, "new_value": v.value, "new_reactions": v.reactions, "at": v.updated_at} for v in moved
            ]
            await self._session.execute(_update_votes(self._session), changes)
        if not new:
            return set()
        rows = [
            {
                "channel_id": cid,
                "paper_id": pid,
                "user_id": uid,
                "value": vote.value,
                "reactions": vote.reactions,
                "updated_at": vote.updated_at,
            }
            for (cid, pid, uid), vote in new.items()
        ]
        inserted = {tuple(row) for row in await self._session.execute(_insert_votes(self._session), rows)}
        return set(new) - inserted

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]:
        """Up/down counts per (channel id, paper id), in one grouped query."""
        if not pairs:
            return {}
        rows = await self._session.execute(_tallies_of_pairs(self._session), {"pairs": buckets(list(pairs))})
        return {(cid, pid): VoteTally(int(u or 0), int(d or 0)) for cid, pid, u, d in rows}
