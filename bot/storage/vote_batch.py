"""Reaction votes, many per transaction: the set-wise reads and writes behind `bot.app.votes.record_votes` (the rule it
applies, `transition`, lives in `bot.domain.vote_rules`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from json import dumps
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import VoteTally
from bot.domain.vote_rules import Reaction, Vote, VoteKey, VotesChanged, transition
from bot.storage.dialect import insert_for, one_of, per_dialect, writes_in_ctes
from bot.storage.driver import on_driver
from bot.storage.memo import memo, remember
from bot.storage.tables import PaperRow, ProcessedEventRow, VoteRow, table_of

_VOTES = table_of(VoteRow)
_KEY = (_VOTES.c.channel_id, _VOTES.c.paper_id, _VOTES.c.user_id)


_UNCHANGED = (0, 0)


def _json(rows: Any) -> str:
    """Rows as one JSON parameter (a list of arrays), unpacked by the statement."""
    return dumps(rows, ensure_ascii=False, separators=(",", ":"))


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


# PostgreSQL: a group is read with one statement and written with another, each run on its own (no transaction
# around them, no BEGIN or COMMIT round trips) on the driver's connection, its rows given as one JSON parameter per
# kind: asyncpg walks every element of a bound array through `collections.abc` checks, ~20 per event; one string is
# encoded at once, and PostgreSQL unpacks it faster than Python packs the arrays. The texts never change with the
# group's size, so each is prepared once per connection. The planner cannot tell how many rows a JSON parameter
# holds (it guesses 100), so the rows are looked up through LATERAL subqueries (`OFFSET 0` keeps the planner from
# turning them back into a join) and `id = ANY (ARRAY(…))`: index look-ups per row given, never a scan of the whole
# table, however many votes are stored.
_PG_READ = """
WITH asked AS (
    SELECT (r->>0)::integer AS channel_id, r->>1 AS message_id, r->>2 AS user_id FROM json_array_elements($3::json) r
), shown AS (
    SELECT p.channel_id, p.message_id, p.paper_id
      FROM (SELECT DISTINCT channel_id, message_id FROM asked) m
     CROSS JOIN LATERAL (
           SELECT * FROM posts p WHERE p.channel_id = m.channel_id AND p.message_id = m.message_id OFFSET 0) p
), wanted AS (
    SELECT (k->>0)::integer AS channel_id, k->>1 AS paper_id, k->>2 AS user_id FROM json_array_elements($2::json) k
    UNION
    SELECT s.channel_id, s.paper_id, a.user_id
      FROM shown s JOIN asked a ON a.channel_id = s.channel_id AND a.message_id = s.message_id
)
SELECT 0, NULL::bigint, NULL::integer, e.platform, e.event_id, NULL::smallint, NULL::varchar, NULL::timestamptz,
       NULL::text
  FROM json_array_elements($1::json) w
 CROSS JOIN LATERAL (
       SELECT * FROM processed_events e WHERE e.platform = w->>0 AND e.event_id = w->>1 OFFSET 0) e
UNION ALL
SELECT 1, v.id, v.channel_id, v.paper_id, v.user_id, v.value, v.reactions, v.updated_at, v.xmin::text
  FROM wanted k
 CROSS JOIN LATERAL (
       SELECT v.*, v.xmin FROM votes v
        WHERE v.channel_id = k.channel_id AND v.paper_id = k.paper_id AND v.user_id = k.user_id OFFSET 0) v
UNION ALL
SELECT 2, NULL, channel_id, message_id, paper_id, NULL, NULL, NULL, NULL FROM shown
"""
"""Which of the group's event ids were seen before (`$1`: [platform, event id]), the votes of its reactions
(`$2`: [channel id, paper id, user id]; `$3`: [channel id, message id, user id] for reactions on messages whose paper
is not remembered yet, whose papers come back too) — one round trip, nothing written or locked. Each vote comes
with its row version (`xmin`, the transaction that wrote it), which the write checks."""

_PG_WRITE = (
    """
WITH fresh AS (
    INSERT INTO processed_events (platform, event_id, seen_at)
    SELECT e->>0, e->>1, $6::timestamptz FROM json_array_elements($1::json) e
    ON CONFLICT (platform, event_id) DO NOTHING
    RETURNING 1
), gone AS (
    DELETE FROM votes v USING json_array_elements($2::json) g
     WHERE v.id = ANY (ARRAY(SELECT (x->>0)::bigint FROM json_array_elements($2::json) x))
       AND v.id = (g->>0)::bigint AND v.xmin = (g->>1)::xid
    RETURNING 1
), moved AS (
    UPDATE votes v
       SET value = (m->>2)::smallint, reactions = m->>3,
           updated_at = CASE WHEN (m->>4)::boolean THEN $6::timestamptz ELSE v.updated_at END
      FROM json_array_elements($3::json) m
     WHERE v.id = ANY (ARRAY(SELECT (x->>0)::bigint FROM json_array_elements($3::json) x))
       AND v.id = (m->>0)::bigint AND v.xmin = (m->>1)::xid
    RETURNING 1
), new AS (
    INSERT INTO votes (channel_id, paper_id, user_id, value, reactions, updated_at)
    SELECT (n->>0)::integer, n->>1, n->>2, (n->>3)::smallint, n->>4, $6::timestamptz
      FROM json_array_elements($4::json) n
    ON CONFLICT (channel_id, paper_id, user_id) DO NOTHING
    RETURNING 1
), written AS (
    SELECT (SELECT count(*) FROM fresh) = json_array_length($1::json)
       AND (SELECT count(*) FROM gone) = json_array_length($2::json)
       AND (SELECT count(*) FROM moved) = json_array_length($3::json)
       AND (SELECT count(*) FROM new) = json_array_length($4::json) AS exact
)
SELECT CAST(CASE WHEN exact THEN '0' ELSE '"""
    + "{changed}"
    + """' END AS integer), NULL::integer, NULL::varchar,
       0::bigint, 0::bigint
  FROM written
 WHERE NOT $7::boolean OR set_config('synchronous_commit', 'off', true) = 'off'
UNION ALL
SELECT 1, (p->>0)::integer, p->>1, t.up, t.down
  FROM json_array_elements($5::json) p
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE v.value > 0) AS up, count(*) FILTER (WHERE v.value < 0) AS down FROM votes v
        WHERE v.channel_id = (p->>0)::integer AND v.paper_id = p->>1) t
"""
)
"""Remember the group's new event ids (`$1`), delete (`$2`: [id, row version as read]), update (`$3`: [id, row
version, value, reactions, whether it was updated now (`$6`)]) and insert (`$4`: [channel id, paper id, user id,
value, reactions], updated now) its votes, and count the tallies of its papers (`$5`: [channel id, paper id]) — one
statement, so all of it or nothing. Each delete and update only takes a vote still at the version read (any write
since gave the row a new `xmin`; freezing one would be a spurious mismatch at worst), and an insert only a key still
absent (another writer may have got there first, as it may have remembered one of the event ids): if any row was not
written as read, the first row's cast fails with the text below and rolls everything back. The count reads the
votes as they were before the statement (as read, if nothing changed), so the caller adds what the group changed.
`$7` also sets `synchronous_commit = off` for this statement's transaction only (as `SET LOCAL` would, without a
round trip of its own): its commit then does not wait for the WAL flush."""

CHANGED = "votes changed since they were read"
"""The text of the error the write statement raises (a failed cast to integer) when it could not write the group as
read: PostgreSQL's SQL has no RAISE of its own, and the statement must fail to roll back what it wrote."""
_PG_WRITE = _PG_WRITE.replace("{changed}", CHANGED)


def _pairs(reactions: Sequence[Reaction], counted: Collection[tuple[int, str]] | None) -> list[tuple[int, str]]:
    """The (channel id, paper id) pairs whose tallies to count: the reactions' (those in `counted`, if given)."""
    pairs = dict.fromkeys((reaction[0], reaction[1]) for reaction in reactions)
    return list(pairs if counted is None else (pair for pair in pairs if pair in counted))


class VoteBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._unwritten: tuple[list[tuple[str, str]], bool, dict[VoteKey, str]] = ([], False, {})
        """PostgreSQL, from `remember_and_lock` to `apply_many`: the event ids found new (written with the votes),
        whether the write may commit without waiting for the disk, and the row version of each vote read."""

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
        `unknown` reactions on our posts. SQLite remembers the events and locks the votes in the transaction.
        PostgreSQL only reads them, in one statement on the driver (`_PG_READ`): `apply_many` then remembers the new
        event ids with its writes, in one statement that fails with `VotesChanged` if another writer changed any of
        it meanwhile; `sync_commit=False` lets that statement commit without waiting for the disk."""
        pairs = list(dict.fromkeys((cid, mid) for cid, mid, _ in unknown))
        if not writes_in_ctes(self._session):
            from bot.storage.digests import DigestRepository  # here: posts imports this module
            from bot.storage.posts import PostRepository

            first = await self.first_deliveries(events, now=now)
            posts = PostRepository(self._session, digests=DigestRepository(self._session))
            papers = await posts.papers_of_messages(pairs) if pairs else {}
            found = [(cid, papers[(cid, mid)], uid) for cid, mid, uid in unknown if (cid, mid) in papers]
            return first, await self._votes(list(dict.fromkeys([*keys, *found]))), papers
        fresh = set(events)
        votes: dict[VoteKey, Vote] = {}
        versions: dict[VoteKey, str] = {}
        shown: dict[tuple[int, str], str] = {}
        if events or keys or unknown:
            remembered = memo(self._session, "message_papers")
            arguments = (_json(events), _json(keys), _json(unknown))
            async with on_driver(self._session) as driver:
                rows = await driver.fetch(_PG_READ, *arguments)
            for kind, vote_id, cid, pid, uid, value, reactions, at, version in rows:
                if kind == 0:
                    fresh.discard((pid, uid))
                elif kind == 1:
                    votes[(cid, pid, uid)] = Vote(vote_id, value, reactions, at)
                    versions[(cid, pid, uid)] = version
                else:
                    shown[(cid, pid)] = uid
                    remember(remembered, (cid, pid), uid)
        self._unwritten = ([key for key in events if key in fresh], not sync_commit, versions)
        return fresh, votes, shown

    async def apply_many(
        self,
        reactions: Sequence[Reaction],
        *,
        now: datetime,
        before: dict[VoteKey, Vote] | None = None,
        counted: Collection[tuple[int, str]] | None = None,
    ) -> tuple[list[bool], dict[tuple[int, str], VoteTally]]:
        """Apply reactions in order with `transition`, reading (and locking) each vote touched once (`before`: read
        already) and writing each once. Returns, per reaction, whether it changed a tally, and the tallies after the
        writes of the reactions' papers (`counted`: of those (channel id, paper id) pairs only). PostgreSQL: one
        statement, with the event ids `remember_and_lock` found new; `VotesChanged` if it could not write what was
        read (nothing is written then)."""
        pairs = _pairs(reactions, counted)
        if writes_in_ctes(self._session) and before is not None:
            return await self._apply_in_one(reactions, now=now, before=before, pairs=pairs)
        if not reactions:
            return [], {}
        changed = [False] * len(reactions)
        pending = list(range(len(reactions)))
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

    async def _apply_in_one(
        self, reactions: Sequence[Reaction], *, now: datetime, before: dict[VoteKey, Vote], pairs: list[tuple[int, str]]
    ) -> tuple[list[bool], dict[tuple[int, str], VoteTally]]:
        """`apply_many` on PostgreSQL: `_PG_WRITE` on the driver, a vote only written if it is still as read. A
        vote the group read but leaves as it was is not checked: its reactions then come before the other
        writer's, an order concurrent reactions may take (each key's votes are independent of the others')."""
        events, relaxed, versions = self._unwritten
        self._unwritten = ([], False, {})
        changed: list[bool] = []
        after: dict[VoteKey, Vote | None] = {}
        for channel_id, paper_id, user_id, value, name, removed in reactions:
            key = (channel_id, paper_id, user_id)
            vote, moved = transition(
                after[key] if key in after else before.get(key), value, name, removed=removed, now=now
            )
            after[key] = vote
            changed.append(moved)
        gone: list[tuple[Any, ...]] = []
        moved_votes: list[tuple[Any, ...]] = []
        new: list[tuple[Any, ...]] = []
        delta: dict[tuple[int, str], list[int]] = {}
        counting = bool(pairs)  # what the group changes is only needed for the tallies asked for
        for key, vote in after.items():
            old = before.get(key)
            if vote == old:
                continue
            if vote is None:
                assert old is not None
                gone.append((old.id, versions[key]))
            elif old is None:
                new.append((*key, vote.value, vote.reactions))  # `transition` dates a new vote `now`
            else:
                moved_votes.append(
                    (old.id, versions[key], vote.value, vote.reactions, vote.updated_at != old.updated_at)
                )
            if not counting:
                continue
            change = delta.setdefault((key[0], key[1]), [0, 0])
            if old is not None:
                change[0 if old.value > 0 else 1] -= 1
            if vote is not None:
                change[0 if vote.value > 0 else 1] += 1
        if not (events or gone or moved_votes or new or pairs):
            return changed, {}
        for rows_of_a_kind in (events, gone, moved_votes, new):  # rows taken in key order: two writers' statements
            rows_of_a_kind.sort()  # then wait for each other rather than deadlock (which would be retried anyway)
        arguments = (_json(events), _json(gone), _json(moved_votes), _json(new), _json(pairs), now, relaxed)
        from asyncpg import DeadlockDetectedError, InvalidTextRepresentationError  # type: ignore[import-untyped]

        failed = ""
        async with on_driver(self._session) as driver:
            try:
                rows = await driver.fetch(_PG_WRITE, *arguments)
            except InvalidTextRepresentationError as error:
                if CHANGED not in str(error):
                    raise
                failed = CHANGED
            except DeadlockDetectedError:  # two writers on the same votes in opposite orders: one goes back
                failed = "a deadlock with another writer"
        if failed:  # raised here: the connection is fine (PostgreSQL answered), and goes back to the pool
            raise VotesChanged(failed)
        tallies: dict[tuple[int, str], VoteTally] = {}
        for kind, cid, pid, up, down in rows:  # a row per pair given, counted before the statement's writes
            if kind == 1:
                ups, downs = delta.get((cid, pid), _UNCHANGED)  # what the group changed, added as written
                tallies[(cid, pid)] = VoteTally(up + ups, down + downs)
        return changed, tallies

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

    async def tallies_of(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VoteTally]:
        """Up/down counts per (channel id, paper id), in one grouped query."""
        if not pairs:
            return {}
        rows = await self._session.execute(_tallies_of_pairs(self._session), {"pairs": buckets(list(pairs))})
        return {(cid, pid): VoteTally(int(u or 0), int(d or 0)) for cid, pid, u, d in rows}
