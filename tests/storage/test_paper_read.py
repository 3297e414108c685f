"""How a `/paper` card is read on PostgreSQL: one statement on the driver's own connection, planned once.

The statement's row must mean what the plain queries mean (SQLite reads those, and PostgreSQL can too: the "in
steps" path), its plan must be PostgreSQL's generic one once prepared, and a connection that dies under it must
read as the database being unavailable, once, with the next call on a fresh connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.util import greenlet_spawn

from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import ChannelRef, ReplyEvent, VoteEvent
from bot.runtime.bootstrap import App, build
from bot.runtime.sample import load_sample
from bot.storage import card_parts
from bot.storage.card_parts import CardPartsRepository
from tests.conftest import PG_URL, SAMPLE_DAY, SAMPLE_NOW, pg_schema
from tests.fakes.recording_publisher import MemoryPlatform, RecordingPublisher

pytestmark = pytest.mark.pg

HERE = ChannelRef("discord", "G1", "C1", "#ml-papers")
THERE = ChannelRef("discord", "G1", "C2", "#elsewhere")
NEVER = ChannelRef("discord", "G1", "never-seen")


@pytest.fixture
async def pg_app() -> AsyncIterator[App]:
    """The engine on a fresh PostgreSQL schema with the sample data, one pooled connection (the test can tell
    which connection the card was read on)."""
    async with pg_schema("paper") as schema:
        config = parse_config({"database": {"url": PG_URL, "schema": schema, "pool_size": 1}})
        async with await build(config, clock=FrozenClock(SAMPLE_NOW), offline=True) as app:
            await load_sample(app.uow, now=SAMPLE_NOW)
            yield app


async def _activity(app: App) -> list[str]:
    """Digests posted in two channels, votes, a community summary and a discussion thread with two people in it;
    the papers the digests posted, in rank order."""
    platform = MemoryPlatform()
    posted: dict[str, str] = {}
    for channel in (HERE, THERE):
        publisher = RecordingPublisher("discord", world=platform)
        await app.service.post_digest(channel, SAMPLE_DAY, publisher)
        for call in publisher.calls:
            if call.entry is not None and channel == HERE:
                posted[call.entry.card.paper.id] = call.message.message_id
    first, second = list(posted)[:2]
    await app.service.record_vote(VoteEvent(HERE, "ada", posted[first], 1))
    await app.service.record_vote(VoteEvent(HERE, "bob", posted[first], -1))
    await app.service.add_summary(first, HERE, author="ada", text="Short and clear.", author_id="ada")
    thread = (await app.service.discuss(HERE, posted[second], RecordingPublisher("discord", world=platform))).thread_id
    for message, user in (("r1", "ada"), ("r2", "bob"), ("r3", "ada")):
        await app.service.record_reply(ReplyEvent(HERE, thread, message, user))
    return list(posted)


async def test_the_one_statement_reads_what_the_plain_queries_read(pg_app: App) -> None:
    papers = await _activity(pg_app)
    seen = 0
    for paper_id in [*papers[:3], "1611.03530", "no-such-paper"]:
        for channel in (None, HERE, THERE, NEVER):
            async with pg_app.uow() as uow:
                parts = uow.card_parts
                assert isinstance(parts, CardPartsRepository)
                one = await parts.paper_view(paper_id, channel)  # on a connection of its own
                steps = await parts._paper_view_in_steps(paper_id, channel)
                again = await parts.paper_view(paper_id, channel)  # on the unit of work's, now that it holds one
            assert one == steps == again, (paper_id, channel)
            seen += one is not None and bool(one.votes.up and one.summaries and one.postings)
    discussed = await pg_app.service.paper(papers[1], HERE)
    assert [(d.channel, d.people) for d in discussed.discussed] == [(HERE, 2)]
    assert (await pg_app.service.paper(papers[1], THERE)).discussed == ()
    assert seen == 2  # the voted, summarised, posted paper everywhere and here (not there: no votes there)


async def test_the_card_statement_keeps_one_generic_plan(pg_app: App) -> None:
    """PostgreSQL plans a prepared statement anew for each of its first five runs, then keeps a generic plan unless
    the custom plans look cheaper — as they do for a paper posted nowhere when one paper was posted thousands of
    times (a generic plan expects the average paper's postings); the paper id compared through
    `(SELECT :paper_id)` makes both plans expect the same."""
    await _activity(pg_app)
    async with pg_app.engine.begin() as connection:
        skewed = "INSERT INTO posts (channel_id, paper_id, version, updated_version, message_id) "
        skewed += "SELECT id, '2010.00577', 1, false, 'popular-' || n FROM channels, generate_series(1, 3000) n"
        await connection.exec_driver_sql(skewed)
        await connection.exec_driver_sql("ANALYZE posts, papers, votes, summaries, signal_snapshots, thread_replies")
    for _ in range(12):
        await pg_app.service.paper("1611.03530", HERE)
        await pg_app.service.paper("1611.03530")
    raw = await pg_app.engine.raw_connection()
    try:
        plans = await raw.driver_connection.fetch(  # type: ignore[union-attr]
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        )
    finally:
        await greenlet_spawn(raw.close)
    for in_channel in (False, True):
        sql = card_parts._driver_statements[in_channel].sql
        generic, custom = next((row["generic_plans"], row["custom_plans"]) for row in plans if row["statement"] == sql)
        assert custom <= 5 and generic >= 12 - 5, (in_channel, generic, custom)


async def test_a_connection_lost_under_the_read_is_the_database_unavailable_once(pg_app: App) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)
    raw = await pg_app.engine.raw_connection()
    pid = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
    await greenlet_spawn(raw.close)  # back to the one-connection pool: the next card is read on it
    killer = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    with pytest.raises(UpstreamUnavailable, match="database unavailable"):
        await pg_app.service.paper("1611.03530", HERE)
    assert await pg_app.service.paper("1611.03530", HERE) == first  # the dead connection was not put back
