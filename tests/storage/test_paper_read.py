"""How a `/paper` card is read on PostgreSQL: one statement on the driver's own connection, planned once.

The statement's row must mean what the plain queries mean (SQLite reads those, and PostgreSQL can too: the "in
steps" path), its plan must be PostgreSQL's generic one once prepared, and a connection that dies under it must
read as the database being unavailable, once, with the next call on a fresh connection. The connection is the one
the engine keeps for such reads (`bot.storage.database.read_on_driver`): cards come without a checkout from the
pool, a read while another holds it borrows from the pool, an idle one is pinged, a cancelled read does not leave
it to the next, and it closes with the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import ChannelRef, ReplyEvent, VoteEvent
from bot.runtime.bootstrap import App, build
from bot.runtime.sample import load_sample
from bot.storage import card_parts, database
from bot.storage.card_parts import CardPartsRepository
from bot.storage.database import read_on_driver
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
    query = "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
    plans = await read_on_driver(pg_app.engine, lambda driver: driver.fetch(query))  # where the cards were read
    for in_channel in (False, True):
        sql = card_parts._driver_statements[in_channel].sql
        generic, custom = next((row["generic_plans"], row["custom_plans"]) for row in plans if row["statement"] == sql)
        assert custom <= 5 and generic >= 12 - 5, (in_channel, generic, custom)


async def _held_pid(engine: AsyncEngine) -> int:
    """The server process of the connection the engine keeps for reads on the driver."""
    return int(await read_on_driver(engine, lambda driver: driver.fetchval("SELECT pg_backend_pid()")))


async def _terminate(pid: int) -> None:
    killer = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()


def _checkouts(engine: AsyncEngine) -> list[int]:
    """Appended to at each checkout from the engine's pool, from now on."""
    seen: list[int] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: seen.append(1))
    return seen


async def test_a_connection_lost_under_the_read_is_the_database_unavailable_once(pg_app: App) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)
    held = await _held_pid(pg_app.engine)
    await _terminate(held)
    with pytest.raises(UpstreamUnavailable, match="database unavailable"):
        await pg_app.service.paper("1611.03530", HERE)
    assert await pg_app.service.paper("1611.03530", HERE) == first  # the dead connection was not kept
    assert await _held_pid(pg_app.engine) != held


async def test_cards_are_read_on_one_kept_connection_without_the_pool(pg_app: App) -> None:
    """Borrowing from SQLAlchemy's pool for each card cost a sixth of it; the kept connection was the pool's
    (search_path, JSON codecs), so it reads what the plain queries read (the first test)."""
    first = await pg_app.service.paper("1611.03530", HERE)
    held = await _held_pid(pg_app.engine)
    checkouts = _checkouts(pg_app.engine)
    for channel in (HERE, None, THERE, HERE):
        await pg_app.service.paper("1611.03530", channel)
    assert await pg_app.service.paper("1611.03530", HERE) == first
    assert checkouts == []
    assert await _held_pid(pg_app.engine) == held


async def test_a_read_while_another_holds_the_connection_borrows_one_from_the_pool(pg_app: App) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)
    checkouts = _checkouts(pg_app.engine)
    cards = await asyncio.gather(*(pg_app.service.paper("1611.03530", HERE) for _ in range(4)))
    assert cards == [first] * 4
    assert len(checkouts) >= 1  # the others, while the first held the kept connection


async def test_an_idle_kept_connection_is_pinged_so_a_restarted_database_is_noticed(
    pg_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)
    held = await _held_pid(pg_app.engine)
    await _terminate(held)  # as a restart of PostgreSQL would, while no card was asked for
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every read now follows an idle spell
    assert await pg_app.service.paper("1611.03530", HERE) == first  # the ping failed: a fresh connection read it
    assert await _held_pid(pg_app.engine) != held


async def test_a_cancelled_read_does_not_leave_its_connection_to_the_next(pg_app: App) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)
    held = await _held_pid(pg_app.engine)
    started = asyncio.Event()

    async def slow(driver: Any) -> None:
        started.set()
        await driver.execute("SELECT pg_sleep(30)")

    read = asyncio.create_task(read_on_driver(pg_app.engine, slow))
    await started.wait()
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert await pg_app.service.paper("1611.03530", HERE) == first
    assert await _held_pid(pg_app.engine) != held


async def test_the_kept_connection_closes_with_the_engine(pg_app: App) -> None:
    first = await pg_app.service.paper("1611.03530", HERE)

    async def itself(driver: Any) -> Any:
        return driver

    kept = await read_on_driver(pg_app.engine, itself)
    await pg_app.engine.dispose()
    assert kept.is_closed()
    assert await pg_app.service.paper("1611.03530", HERE) == first  # a disposed engine opens connections anew
