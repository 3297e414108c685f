"""The post repository: a digest's planned entries and the messages that show them (message → paper)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, insert, select, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import PostRecord
from bot.domain.records import PlanEntry, PlannedPost, Recorded
from bot.storage.changes import Changes
from bot.storage.dialect import id_lists, join_one, one_of, per_dialect, writes_in_ctes
from bot.storage.digests import FENCE, FENCE_HOLDS, DigestRepository, fenced_write, param, why_not
from bot.storage.memo import memo, remember
from bot.storage.rows import posting_records as posting_records  # also imported from here (card_parts)
from bot.storage.tables import ChannelRow, DigestRow, PostRow, table_of
from bot.storage.vote_batch import buckets

_POSTS = table_of(PostRow)
_DIGESTS = table_of(DigestRow)
_CHANNELS = table_of(ChannelRow)

# The fenced writes of a posting run (see `bot.storage.digests`): Core statements built once, each with the fence
# in its WHERE.
_P = _POSTS.c
_POST = _P.id == param("post_id", _P.id)
_NEXT = _P.id == param("next_id", _P.id)
_INTEND = update(_POSTS).where(_POST, FENCE_HOLDS).values(intent_at=param("now", _P.intent_at))
_SKIP = update(_POSTS).where(_POST, FENCE_HOLDS).values(skipped=param("reason", _P.skipped))
_RECORD = (
    update(_POSTS)
    .where((_POST & _P.message_id.is_(None)) | _NEXT, FENCE_HOLDS)
    .values(
        message_id=case((_POST, param("b_message", _P.message_id)), else_=_P.message_id),
        posted_at=case((_POST, param("now", _P.posted_at)), else_=_P.posted_at),
        intent_at=case((_NEXT, param("now", _P.intent_at)), else_=_P.intent_at),
    )
    .returning(_P.id)
)
"""Record an entry's message into its empty slot and, in the same statement, the intent of the next entry (`:next_id`,
NULL for none): one write per message of a digest."""
_LEASE = (
    update(_DIGESTS)
    .where(FENCE)
    .values(lease_until=param("until", _DIGESTS.c.lease_until))
    .returning(_DIGESTS.c.id)
    .cte("lease")
)
_RECORD_RENEWING = (
    update(_POSTS)
    .where((_POST & _P.message_id.is_(None)) | _NEXT, select(_LEASE.c.id).exists())
    .values(
        message_id=case((_POST, param("b_message", _P.message_id)), else_=_P.message_id),
        posted_at=case((_POST, param("now", _P.posted_at)), else_=_P.posted_at),
        intent_at=case((_NEXT, param("now", _P.intent_at)), else_=_P.intent_at),
    )
    .returning(_P.id)
)
"""`_RECORD` renewing the lease in the same statement (PostgreSQL): the lease's UPDATE is the fence check, and its
row lock holds off a takeover until the statement commits."""
_PLANNED = ("paper_id", "rank", "version", "updated_version", "score", "why")
"""The columns of a planned entry that `plan_fenced` binds per entry (the digest, channel and day are the same for
all of them)."""
_RENEW_ONLY = (
    update(_DIGESTS).where(FENCE).values(lease_until=param("until", _DIGESTS.c.lease_until)).returning(_DIGESTS.c.id)
).cte("lease")
_RENEW_INTENDING = (
    update(_DIGESTS)
    .where(FENCE)
    .values(
        lease_until=param("until", _DIGESTS.c.lease_until), header_intent_at=param("now", _DIGESTS.c.header_intent_at)
    )
    .returning(_DIGESTS.c.id)
).cte("lease")


def _row_names(i: int) -> list[str]:
    return [f"p_{name}_{i}" for name in _PLANNED]


@functools.cache
def _plan_statement(rows: int, intending: bool) -> Any:
    """`plan_fenced`'s statement for `rows` entries (built once per size): the lease's renewal in a WITH clause and
    one SELECT of bound values per entry FROM the row it returns, so no entry is inserted when the fence is lost."""
    lease = _RENEW_INTENDING if intending else _RENEW_ONLY
    selects = [
        select(
            lease.c.id,
            param("p_channel", _P.channel_id),
            param("p_day", _P.day),
            *(param(named, _P[name]) for named, name in zip(_row_names(i), _PLANNED, strict=True)),
        )
        for i in range(rows)
    ]
    source = union_all(*selects) if rows > 1 else selects[0]
    columns = ["digest_id", "channel_id", "day", *_PLANNED]
    return insert(_POSTS).from_select(columns, source).returning(_P.id, _P.rank)


@per_dialect
def _papers_of_messages(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return select(posts.channel_id, posts.message_id, posts.paper_id).where(
        tuple_(posts.channel_id, posts.message_id).in_(bindparam("keys", expanding=True))
    )


@per_dialect
def _posted_versions(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return (
        select(posts.paper_id, func.max(posts.version))
        .where(posts.channel_id == bindparam("channel_id"), one_of(posts.paper_id, "ids", dialect))
        .group_by(posts.paper_id)
    )


@per_dialect
def _posted_versions_anywhere(dialect: str) -> Select[Any]:
    posts = _POSTS.c
    return (
        select(posts.channel_id, posts.paper_id, func.max(posts.version))
        .where(one_of(posts.paper_id, "ids", dialect))
        .group_by(posts.channel_id, posts.paper_id)
    )


def postings_select(dialect: str) -> Select[Any]:
    """(paper, digest day, channel's platform, workspace, channel, name, channel id) of each posting of `:ids`.

    The day is the post's own copy of its digest's; the channel a correlated look-up rather than a join on
    PostgreSQL: a prepared statement's generic plan would otherwise hash-join the whole channels table for a paper
    posted in three channels. (SQLite has no LATERAL, and its planner looks rows up by key anyway.)"""
    posts, channels = _POSTS.c, _CHANNELS.c
    day = posts.day
    wanted = (channels.platform, channels.workspace, channels.channel, channels.name)
    source, columns = join_one(dialect, _POSTS, _CHANNELS, channels.id == posts.channel_id, wanted, name="channel")
    return (
        select(
            posts.paper_id, day, columns.platform, columns.workspace, columns.channel, columns.name, posts.channel_id
        )
        .select_from(source)
        .where(one_of(posts.paper_id, "ids", dialect), posts.message_id.is_not(None))
        .order_by(day, posts.channel_id)
    )


_postings = per_dialect(postings_select)


class PostRepository:
    def __init__(self, session: AsyncSession, *, digests: DigestRepository) -> None:
        self._session = session
        self._digests = digests

    async def plan_fenced(
        self,
        digest_id: int,
        fence: int,
        channel_id: int,
        day: date,
        entries: Sequence[PlanEntry],
        *,
        until: datetime,
        header_intent: datetime | None,
    ) -> list[PlannedPost] | None:
        """`plan` with the fence: renew the lease (and write the header's intent, with `header_intent`) and store the
        entries only while the fence holds; None when it was lost (nothing stored). On PostgreSQL one statement —
        the lease's UPDATE in a WITH clause, each entry inserted by a SELECT from the row it returns —
        so the renewal's row lock covers the insert; elsewhere the renewal, then the entries, in the caller's
        transaction."""
        if not entries or not writes_in_ctes(self._session):
            if not await self._digests.renew(digest_id, fence, until=until, header_intent=header_intent):
                return None
            return await self.plan(digest_id, channel_id, day, entries) if entries else []
        Changes.bump_plans((channel_id,), self._session)
        bound: dict[str, Any] = {"b_digest": digest_id, "b_fence": fence, "until": until, "now": header_intent}
        bound.update(p_channel=channel_id, p_day=day)  # not a digests column's name: an UPDATE would SET it
        for i, e in enumerate(entries):
            row = (e.paper_id, e.rank, e.version, e.updated, e.score, list(e.why))
            bound.update(zip(_row_names(i), row, strict=True))
        connection = await self._session.connection()
        written = await connection.execute(_plan_statement(len(entries), header_intent is not None), bound)
        ids = {rank: post_id for post_id, rank in written}
        if not ids:
            return None
        planned = [
            PlannedPost(ids[e.rank], e.rank, e.paper_id, e.version, e.updated, None, False, None, e.score, tuple(e.why))
            for e in entries
        ]
        return sorted(planned, key=lambda post: post.rank)

    async def plan(self, digest_id: int, channel_id: int, day: date, entries: Sequence[PlanEntry]) -> list[PlannedPost]:
        """Store the digest's entries before anything is posted: rank, paper, version, the "updated" flag, the
        score and why-line the channel's ranking gave them, and the digest's day (the day it is keyed by)."""
        Changes.bump_plans((channel_id,), self._session)
        rows = [
            PostRow(
                channel_id=channel_id,
                paper_id=e.paper_id,
                digest_id=digest_id,
                day=day,
                rank=e.rank,
                version=e.version,
                updated_version=e.updated,
                score=e.score,
                why=list(e.why),
            )
            for e in entries
        ]
        self._session.add_all(rows)
        await self._session.flush()  # the rows get their ids (RETURNING): no read back
        return sorted(map(_planned_post, rows), key=lambda post: post.rank)

    async def planned(self, digest_id: int) -> list[PlannedPost]:
        rows = await self._session.scalars(select(PostRow).where(PostRow.digest_id == digest_id).order_by(PostRow.rank))
        return [_planned_post(r) for r in rows]

    async def intend(self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime | None) -> bool:
        """Write the intent to post this entry (fenced): from now on its message may exist on the platform."""
        if not await self._digests.renewed(digest_id, fence, until):
            return False
        return await fenced_write(self._session, _INTEND, digest_id, fence, post_id=post_id, now=now) > 0

    async def record(
        self,
        post_id: int,
        digest_id: int,
        fence: int,
        message_id: str,
        *,
        now: datetime,
        until: datetime | None,
        next_id: int | None = None,
    ) -> Recorded:
        """Record the entry's message: only with the current fence, and only into an empty slot. With `next_id`,
        the intent of that entry is written by the same statement (so, like the record, only with the fence)."""
        renewing = until is not None and writes_in_ctes(self._session)
        if not renewing and not await self._digests.renewed(digest_id, fence, until):
            return "fence-lost"
        Changes.bump_cards(self._session)
        connection = await self._session.connection()
        values = {"b_digest": digest_id, "b_fence": fence, "post_id": post_id, "next_id": next_id, "now": now}
        statement, values = (_RECORD_RENEWING, {**values, "until": until}) if renewing else (_RECORD, values)
        written = await connection.execute(statement, {**values, "b_message": message_id[:64]})
        if post_id in {row[0] for row in written}:
            return "recorded"
        return await why_not(self._session, digest_id, fence)

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime | None) -> bool:
        """The platform refused this entry for good: remember why, and go on with the rest."""
        if not await self._digests.renewed(digest_id, fence, until):
            return False
        return await fenced_write(self._session, _SKIP, digest_id, fence, post_id=post_id, reason=reason[:500]) > 0

    async def slot(self, post_id: int) -> str | None:
        """The message recorded for an entry now (None: nobody has recorded one yet)."""
        return await self._session.scalar(select(PostRow.message_id).where(PostRow.id == post_id))

    async def posted_versions(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """The highest version of each paper already posted (or planned) in the channel."""
        found: dict[str, int] = {}
        for chunk in id_lists(self._session, paper_ids):
            values = {"channel_id": channel_id, "ids": chunk}
            result = await self._session.execute(_posted_versions(self._session), values)
            found.update((paper_id, int(version)) for paper_id, version in result)
        return found

    def remembered_papers(
        self, keys: Sequence[tuple[int, str]]
    ) -> tuple[dict[tuple[int, str], str], list[tuple[int, str]]]:
        """The papers of these (channel id, message id) pairs that are remembered, and the pairs that are not."""
        papers = memo(self._session, "message_papers")
        found = {key: papers[key] for key in keys if key in papers}
        return found, [key for key in keys if key not in found]

    async def papers_of_messages(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """The paper each of these (channel id, message id) pairs shows: remembered ones at once, the rest in one
        query. Messages that are not our posts are absent."""
        papers = memo(self._session, "message_papers")
        found = {key: papers[key] for key in keys if key in papers}
        missing = [key for key in keys if key not in found]
        if missing:
            rows = await self._session.execute(_papers_of_messages(self._session), {"keys": buckets(missing)})
            for channel_id, message_id, paper_id in rows:
                remember(papers, (channel_id, message_id), paper_id)
                found[(channel_id, message_id)] = paper_id
        return found

    async def posted_versions_everywhere(self, paper_ids: Iterable[str]) -> dict[int, dict[str, int]]:
        """channel id -> {paper: highest version posted (or planned) there}, for `paper_ids` in every channel: a
        digest window's papers, read once for all the channels' digests (few of a new day's papers were posted)."""
        found: dict[int, dict[str, int]] = {}
        for chunk in id_lists(self._session, paper_ids):
            result = await self._session.execute(_posted_versions_anywhere(self._session), {"ids": chunk})
            for channel_id, paper_id, version in result:
                found.setdefault(channel_id, {})[paper_id] = int(version)
        return found

    async def postings(self, paper_ids: Sequence[str]) -> dict[str, list[PostRecord]]:
        """Where and when each paper was posted (channel, digest day), oldest first, with the channels joined
        in: one statement for a card however many channels posted the paper."""
        rows: list[Any] = []
        chunks = id_lists(self._session, paper_ids)
        for chunk in chunks:
            rows.extend(await self._session.execute(_postings(self._session), {"ids": chunk}))
        if len(chunks) > 1:
            rows.sort(key=lambda row: (row.day, row.channel_id))
        return posting_records(rows)


def _planned_post(r: PostRow) -> PlannedPost:
    return PlannedPost(
        r.id,
        r.rank or 0,
        r.paper_id,
        r.version,
        r.updated_version,
        r.message_id,
        r.intent_at is not None,
        r.skipped,
        r.score,
        tuple(r.why) if r.why is not None else None,
    )
