"""The post repository: a digest's planned entries and the messages that show them (message → paper)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.model import ChannelRef, PostRecord
from bot.domain.records import PlanEntry, PlannedPost, Recorded
from bot.storage.changes import Changes
from bot.storage.dialect import affected, id_lists, join_one, one_of, per_dialect
from bot.storage.digests import DigestRepository
from bot.storage.memo import memo, remember
from bot.storage.tables import ChannelRow, DigestRow, PostRow, table_of
from bot.storage.vote_batch import buckets

_POSTS = table_of(PostRow)
_DIGESTS = table_of(DigestRow)
_CHANNELS = table_of(ChannelRow)


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

    Correlated look-ups rather than joins on PostgreSQL: a prepared statement's generic plan would otherwise
    hash-join the whole digests table for a paper posted in three channels. (SQLite has no LATERAL, and its
    planner looks rows up by key anyway.)"""
    posts, channels = _POSTS.c, _CHANNELS.c
    day = select(_DIGESTS.c.day).where(_DIGESTS.c.id == posts.digest_id).scalar_subquery().label("day")
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


def posting_records(rows: Iterable[Sequence[Any]]) -> dict[str, list[PostRecord]]:
    found: dict[str, list[PostRecord]] = {}
    for paper_id, day, platform, workspace, channel, name, _ in rows:
        found.setdefault(paper_id, []).append(PostRecord(ChannelRef(platform, workspace, channel, name), day))
    return found


class PostRepository:
    def __init__(self, session: AsyncSession, *, digests: DigestRepository) -> None:
        self._session = session
        self._digests = digests

    async def plan(self, digest_id: int, channel_id: int, entries: Sequence[PlanEntry]) -> None:
        """Store the digest's entries before anything is posted: rank, paper, version, the "updated" flag, and the
        score and why-line the channel's ranking gave them."""
        Changes.bump_plans(self._session)
        self._session.add_all(
            PostRow(
                channel_id=channel_id,
                paper_id=e.paper_id,
                digest_id=digest_id,
                rank=e.rank,
                version=e.version,
                updated_version=e.updated,
                score=e.score,
                why=list(e.why),
            )
            for e in entries
        )
        await self._session.flush()

    async def planned(self, digest_id: int) -> list[PlannedPost]:
        rows = await self._session.scalars(select(PostRow).where(PostRow.digest_id == digest_id).order_by(PostRow.rank))
        return [
            PlannedPost(
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
            for r in rows
        ]

    async def intend(self, post_id: int, digest_id: int, fence: int, *, now: datetime, until: datetime) -> bool:
        """Write the intent to post this entry (fenced): from now on its message may exist on the platform."""
        if not await self._digests.renew(digest_id, fence, until=until):
            return False
        await self._session.execute(update(PostRow).where(PostRow.id == post_id).values(intent_at=now))
        return True

    async def record(
        self, post_id: int, digest_id: int, fence: int, message_id: str, *, now: datetime, until: datetime
    ) -> Recorded:
        """Record the entry's message: only with the current fence, and only into an empty slot."""
        if not await self._digests.renew(digest_id, fence, until=until):
            return "fence-lost"
        Changes.bump_cards(self._session)
        result = await self._session.execute(
            update(PostRow)
            .where(PostRow.id == post_id, PostRow.message_id.is_(None))
            .values(message_id=message_id[:64], posted_at=now)
        )
        return "recorded" if affected(result) else "taken"

    async def skip(self, post_id: int, digest_id: int, fence: int, reason: str, *, until: datetime) -> bool:
        """The platform refused this entry for good: remember why, and go on with the rest."""
        if not await self._digests.renew(digest_id, fence, until=until):
            return False
        await self._session.execute(update(PostRow).where(PostRow.id == post_id).values(skipped=reason[:500]))
        return True

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
