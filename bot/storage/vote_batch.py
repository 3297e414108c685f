"""Reaction votes, many per transaction: the set-wise reads and writes behind `bot.app.votes.record_votes` (the rule it
applies, `transition`, lives in `bot.domain.vote_rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import VoteTally
from bot.domain.vote_rules import Reaction, Vote, VoteKey, transition
from bot.storage.dialect import insert_for, one_of, per_dialect, writes_in_ctes
from bot.storage.memo import memo, remember
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


# PostgreSQL: a group's reads in one statement and its writes in another, arrays bound as parameters (the text never
# changes with the group's size, so it is prepared once and nothing is expanded per call).
_PG_REMEMBER_AND_LOCK = text("""
WITH fresh AS (
    INSERT INTO processed_events (platform, event_id, seen_at)
    SELECT e.platform, e.event_id, :now
      FROM unnest(CAST(:platforms AS varchar[]), CAST(:event_ids AS varchar[])) AS e(platform, event_id)
    ON CONFLICT (platform, event_id) DO NOTHING
    RETURNING platform, event_id
), shown AS (
    SELECT p.channel_id, p.message_id, p.paper_id
      FROM posts p
      JOIN unnest(CAST(:m_channels AS integer[]), CAST(:m_messages AS varchar[])) AS m(channel_id, message_id)
        ON p.channel_id = m.channel_id AND p.message_id = m.message_id
), wanted AS (
    SELECT k.channel_id, k.paper_id, k.user_id
      FROM unnest(CAST(:channel_ids AS integer[]), CAST(:paper_ids AS varchar[]), CAST(:user_ids AS varchar[]))
           AS k(channel_id, paper_id, user_id)
    UNION
    SELECT s.channel_id, s.paper_id, r.user_id
      FROM shown s
      JOIN unnest(CAST(:r_channels AS integer[]), CAST(:r_messages AS varchar[]), CAST(:r_users AS varchar[]))
           AS r(channel_id, message_id, user_id)
        ON r.channel_id = s.channel_id AND r.message_id = s.message_id
), locked AS (
    SELECT v.id, v.channel_id, v.paper_id, v.user_id, v.value, v.reactions, v.updated_at
      FROM votes v
      JOIN wanted k ON v.channel_id = k.channel_id AND v.paper_id = k.paper_id AND v.user_id = k.user_id
     ORDER BY v.id
       FOR UPDATE OF v
)
SELECT 0, NULL::bigint, NULL::integer, platform, event_id, NULL::smallint, NULL::varchar, NULL::timestamptz FROM fresh
UNION ALL
SELECT 1, id, channel_id, paper_id, user_id, value, reactions, updated_at FROM locked
UNION ALL
SELECT 2, NULL, channel_id, message_id, paper_id, NULL, NULL, NULL FROM shown
UNION ALL
SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL
 WHERE CASE WHEN CAST(:relaxed AS boolean) THEN set_config('synchronous_commit', 'off', true) = 'off' ELSE false END
""")
"""Remember the group's event ids (returning the new ones), find the papers of the messages reacted to that are not
remembered yet, and read and lock the votes the reactions touch (in id order: two groups cannot deadlock on each
other) — one round trip. With `:relaxed` it also sets `synchronous_commit = off` for this transaction only (as
`SET LOCAL` would, without a round trip of its own): its commit then does not wait for the WAL flush."""

_PG_WRITE_AND_TALLY = text("""
WITH gone AS (
    DELETE FROM votes WHERE id = ANY(CAST(:gone AS bigint[]))
), moved AS (
    UPDATE votes v SET value = m.value, reactions = m.reactions, updated_at = m.updated_at
      FROM unnest(CAST(:m_ids AS bigint[]), CAST(:m_values AS smallint[]), CAST(:m_reactions AS varchar[]),
                  CAST(:m_at AS timestamptz[])) AS m(id, value, reactions, updated_at)
     WHERE v.id = m.id
), new AS (
    INSERT INTO votes (channel_id, paper_id, user_id, value, reactions, updated_at)
    SELECT * FROM unnest(CAST(:n_channels AS integer[]), CAST(:n_papers AS varchar[]), CAST(:n_users AS varchar[]),
                         CAST(:n_values AS smallint[]), CAST(:n_reactions AS varchar[]), CAST(:n_at AS timestamptz[]))
    ON CONFLICT (channel_id, paper_id, user_id) DO NOTHING
    RETURNING channel_id, paper_id, user_id
)
SELECT 0, channel_id, paper_id, user_id, 0::bigint, 0::bigint FROM new
UNION ALL
SELECT 1, v.channel_id, v.paper_id, NULL, count(*) FILTER (WHERE v.value > 0), count(*) FILTER (WHERE v.value < 0)
  FROM votes v
  JOIN unnest(CAST(:p_channels AS integer[]), CAST(:p_papers AS varchar[])) AS p(channel_id, paper_id)
    ON v.channel_id = p.channel_id AND v.paper_id = p.paper_id
 WHERE NOT EXISTS (
       SELECT 1 FROM unnest(CAST(:w_channels AS integer[]), CAST(:w_papers AS varchar[]), CAST(:w_users AS varchar[]))
                  AS w(channel_id, paper_id, user_id)
        WHERE w.channel_id = v.channel_id AND w.paper_id = v.paper_id AND w.user_id = v.user_id)
 GROUP BY v.channel_id, v.paper_id
""")
"""Write a group's changes (delete, update, insert-if-absent: the keys inserted come back) and count the tallies of
its papers. The count reads the votes as they were before this statement, so the keys it writes are left out and
added back, as written, by the caller: the same figures as a read after the write."""


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

    async def remember_and_lock(
        self,
        events: Sequence[tuple[str, str]],
        keys: Sequence[VoteKey],
        *,
        unknown: Sequence[tuple[int, str, str]] = (),
        now: datetime,
        sync_commit: bool = True,
    ) -> tuple[set[tuple[str, str]], dict[VoteKey, Vote], dict[tuple[int, str], str]]:
        """`first_deliveries(events)`; the papers of the messages of `unknown` (channel id, message id, user id)
        reactions, as `PostRepository.papers_of_messages` (remembered too); and the votes of `keys` and of the
        `unknown` reactions on our posts, read and locked. One statement on PostgreSQL, where `sync_commit=False`
        also lets this transaction commit without waiting for the disk (SQLite ignores it)."""
        pairs = list(dict.fromkeys((cid, mid) for cid, mid, _ in unknown))
        if not writes_in_ctes(self._session):
            from bot.storage.digests import DigestRepository  # here: posts imports this module
            from bot.storage.posts import PostRepository

            first = await self.first_deliveries(events, now=now)
            posts = PostRepository(self._session, digests=DigestRepository(self._session))
            papers = await posts.papers_of_messages(pairs) if pairs else {}
            found = [(cid, papers[(cid, mid)], uid) for cid, mid, uid in unknown if (cid, mid) in papers]
            return first, await self._votes(list(dict.fromkeys([*keys, *found]))), papers
        keys = list(dict.fromkeys(keys))
        if not events and not keys and not unknown:
            return set(), {}, {}
        values = {
            "now": now,
            "relaxed": not sync_commit,
            "platforms": [platform for platform, _ in events],
            "event_ids": [event_id for _, event_id in events],
            "m_channels": [cid for cid, _ in pairs],
            "m_messages": [mid for _, mid in pairs],
            "channel_ids": [key[0] for key in keys],
            "paper_ids": [key[1] for key in keys],
            "user_ids": [key[2] for key in keys],
            "r_channels": [cid for cid, _, _ in unknown],
            "r_messages": [mid for _, mid, _ in unknown],
            "r_users": [uid for _, _, uid in unknown],
        }
        connection = await self._session.connection()
        fresh: set[tuple[str, str]] = set()
        votes: dict[VoteKey, Vote] = {}
        shown: dict[tuple[int, str], str] = {}
        remembered = memo(self._session, "message_papers")
        for kind, vote_id, cid, pid, uid, value, reactions, at in await connection.execute(
            _PG_REMEMBER_AND_LOCK, values
        ):
            if kind == 0:
                fresh.add((pid, uid))
            elif kind == 1:
                votes[(cid, pid, uid)] = Vote(vote_id, value, reactions, at)
            elif kind == 2:
                shown[(cid, pid)] = uid
                remember(remembered, (cid, pid), uid)
        return fresh, votes, shown

    async def apply_many(
        self, reactions: Sequence[Reaction], *, now: datetime, before: dict[VoteKey, Vote] | None = None
    ) -> tuple[list[bool], dict[tuple[int, str], VoteTally]]:
        """Apply reactions in order with `transition`, reading (and locking) each vote touched once (`before`: read
        already) and writing each once. Returns, per reaction, whether it changed a tally, and the tallies of the
        reactions' papers after the writes."""
        if not reactions:
            return [], {}
        changed = [False] * len(reactions)
        pending = list(range(len(reactions)))
        pairs = list(dict.fromkeys(reaction.pair for reaction in reactions))
        for _ in range(5):  # another writer can insert a vote between our read and our insert: read it and redo
            keys = list(dict.fromkeys(reactions[i].key for i in pending))
            read = before if before is not None else await self._votes(keys)
            before = None
            start = {key: read[key] for key in keys if key in read}
            after: dict[VoteKey, Vote | None] = dict(start)
            for i in pending:
                reaction = reactions[i]
                after[reaction.key], changed[i] = transition(
                    after.get(reaction.key), reaction.value, reaction.name, removed=reaction.removed, now=now
                )
            lost, tallies = await self._write(start, after, pairs)
            if not lost:
                return changed, tallies
            pending = [i for i in pending if reactions[i].key in lost]
        raise RuntimeError("votes kept changing under a group of reactions")

    async def _votes(self, keys: list[VoteKey]) -> dict[VoteKey, Vote]:
        if not keys:
            return {}
        rows = await self._session.execute(_locked_votes(self._session), {"keys": buckets(keys)})
        return {(cid, pid, uid): Vote(vid, value, reactions, at) for vid, cid, pid, uid, value, reactions, at in rows}

    async def _write(
        self, before: dict[VoteKey, Vote], after: dict[VoteKey, Vote | None], pairs: list[tuple[int, str]]
    ) -> tuple[set[VoteKey], dict[tuple[int, str], VoteTally]]:
        """Write the difference; returns the keys whose insert lost a race (someone inserted that vote first) and
        the tallies of `pairs` after the write."""
        gone = [vote.id for key, vote in before.items() if after.get(key) is None]
        moved = [vote for key, vote in after.items() if vote is not None and key in before and vote != before[key]]
        new = {key: vote for key, vote in after.items() if vote is not None and key not in before}
        if writes_in_ctes(self._session):
            return await self._pg_write(before, after, pairs, gone, moved, new)
        if gone:
            await self._session.execute(_delete_votes(self._session), {"ids": gone})
        if moved:
            changes = [
                {"vote_id": v.id, "new_value": v.value, "new_reactions": v.reactions, "at": v.updated_at} for v in moved
            ]
            await self._session.execute(_update_votes(self._session), changes)
        lost: set[VoteKey] = set()
        if new:
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
            lost = set(new) - inserted
        return lost, ({} if lost else await self.tallies_of(pairs))

    async def _pg_write(
        self,
        before: dict[VoteKey, Vote],
        after: dict[VoteKey, Vote | None],
        pairs: list[tuple[int, str]],
        gone: list[int | None],
        moved: list[Vote],
        new: dict[VoteKey, Vote],
    ) -> tuple[set[VoteKey], dict[tuple[int, str], VoteTally]]:
        written = [key for key in after if key not in before or after[key] != before[key]]
        values = {
            "gone": gone,
            "m_ids": [v.id for v in moved],
            "m_values": [v.value for v in moved],
            "m_reactions": [v.reactions for v in moved],
            "m_at": [v.updated_at for v in moved],
            "n_channels": [key[0] for key in new],
            "n_papers": [key[1] for key in new],
            "n_users": [key[2] for key in new],
            "n_values": [v.value for v in new.values()],
            "n_reactions": [v.reactions for v in new.values()],
            "n_at": [v.updated_at for v in new.values()],
            "p_channels": [pair[0] for pair in pairs],
            "p_papers": [pair[1] for pair in pairs],
            "w_channels": [key[0] for key in written],
            "w_papers": [key[1] for key in written],
            "w_users": [key[2] for key in written],
        }
        connection = await self._session.connection()
        inserted: set[VoteKey] = set()
        counts: dict[tuple[int, str], list[int]] = {pair: [0, 0] for pair in pairs}
        for kind, cid, pid, uid, up, down in await connection.execute(_PG_WRITE_AND_TALLY, values):
            if kind == 0:
                inserted.add((cid, pid, uid))
            else:
                counts[(cid, pid)] = [int(up), int(down)]
        lost = set(new) - inserted
        if lost:
            return lost, {}
        for key in written:  # left out of the count above: added as written
            vote = after[key]
            if vote is not None and (key[0], key[1]) in counts:
                counts[(key[0], key[1])][0 if vote.value > 0 else 1] += 1
        return set(), {pair: VoteTally(up, down) for pair, (up, down) in counts.items()}

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]:
        """Up/down counts per (channel id, paper id), in one grouped query."""
        if not pairs:
            return {}
        rows = await self._session.execute(_tallies_of_pairs(self._session), {"pairs": buckets(list(pairs))})
        return {(cid, pid): VoteTally(int(u or 0), int(d or 0)) for cid, pid, u, d in rows}
