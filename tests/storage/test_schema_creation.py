"""A new, empty database gets the head schema made at once (no Alembic import, no migration chain); it must be the
schema the chain makes, table by table, on SQLite and PostgreSQL — and later migrations must find it as they would
find a migrated one."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import create_engine, head_revision, upgrade
from bot.storage.digests import DigestRepository
from tests.conftest import PG_URL, Database, pg_schema


def schema_of(connection: Connection) -> dict[str, Any]:
    """Everything a migration or a query could notice: columns (type, nullability, default, autoincrement), keys,
    foreign keys with their actions, indexes, unique and check constraints, and the stamped revision."""
    found = inspect(connection)
    tables: dict[str, Any] = {}
    for name in sorted(found.get_table_names()):
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement"))
                for c in found.get_columns(name)
            ],
            "primary key": found.get_pk_constraint(name),
            "foreign keys": sorted(repr(sorted(fk.items())) for fk in found.get_foreign_keys(name)),
            "indexes": sorted(repr(sorted(ix.items())) for ix in found.get_indexes(name)),
            "unique": sorted(repr(sorted(uq.items())) for uq in found.get_unique_constraints(name)),
            "checks": sorted(repr(sorted(ck.items())) for ck in found.get_check_constraints(name)),
        }
    tables["(revision)"] = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return tables


@contextlib.asynccontextmanager
async def two_databases(kind: str, folder: Path) -> AsyncIterator[tuple[Database, Database]]:
    if kind == "sqlite":
        yield (
            Database("sqlite", f"sqlite+aiosqlite:///{folder / 'chain.db'}"),
            Database("sqlite", f"sqlite+aiosqlite:///{folder / 'created.db'}"),
        )
        return
    async with pg_schema("chain") as chain, pg_schema("created") as created:
        yield Database("postgresql", PG_URL, chain), Database("postgresql", PG_URL, created)


async def schema_after(database: Database, revision: str) -> dict[str, Any]:
    engine = create_engine(database.url, schema=database.schema)
    try:
        await upgrade(engine, revision)
        async with engine.connect() as connection:
            return await connection.run_sync(schema_of)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def test_an_empty_database_gets_the_schema_the_migration_chain_makes(kind: str, tmp_path: Path) -> None:
    async with two_databases(kind, tmp_path) as (chain, created):
        migrated = await schema_after(chain, head_revision())  # named, not "head": every migration runs
        made = await schema_after(created, "head")
    assert "channel_pages" in made and "slack_bots" in made and made["(revision)"] == [head_revision()]
    assert made == migrated


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def test_a_made_database_is_recognised_at_head_without_alembic(kind: str, tmp_path: Path) -> None:
    async with two_databases(kind, tmp_path) as (first, _):
        await schema_after(first, "head")
        for name in [name for name in sys.modules if name == "alembic" or name.startswith("alembic.")]:
            del sys.modules[name]  # whatever an earlier test loaded
        again = await schema_after(first, "head")
        assert "alembic" not in sys.modules
    assert again["(revision)"] == [head_revision()]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def test_a_database_behind_head_still_goes_through_the_chain(kind: str, tmp_path: Path) -> None:
    """A database with tables is never taken for new: Alembic brings it forward (here from 0003) to the same schema."""
    async with two_databases(kind, tmp_path) as (older, created):
        at_0003 = await schema_after(older, "0003")
        forward = await schema_after(older, "head")
        made = await schema_after(created, "head")
    assert at_0003["(revision)"] == ["0003"] and "channel_pages" not in at_0003
    assert forward == made


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def test_a_database_at_0007_gets_each_posts_day_from_its_digest(kind: str, tmp_path: Path) -> None:
    """Migration 0008 fills the posts' new `day` from their digests (a post without a digest keeps none), and a
    paper's postings then read in (day, channel) order as the digest look-up gave them."""
    from bot.storage.posts import PostRepository
    from bot.storage.tables import ChannelRow, DigestRow, PaperRow, PostRow

    days = (date(2020, 11, 6), date(2020, 11, 4))
    async with two_databases(kind, tmp_path) as (older, _):
        await schema_after(older, "0007")
        engine = create_engine(older.url, schema=older.schema)
        try:
            async with engine.begin() as connection:
                at = datetime(2020, 11, 7, 9, tzinfo=UTC)
                paper = {"id": "2010.00577", "version": 1, "title": "t", "authors": [], "abstract": "a"}
                paper |= {"categories": ["cs.LG"], "primary_category": "cs.LG", "published": at, "updated": at}
                await connection.execute(insert(PaperRow.__table__).values(paper | {"fetched_at": at}))
                for n, day in enumerate(days, 1):
                    channel = {"id": n, "platform": "discord", "workspace": "G", "channel": f"C{n}", "settings": {}}
                    await connection.execute(insert(ChannelRow.__table__).values(channel | {"created_at": at}))
                    digest = {"id": n, "channel_id": n, "day": day, "state": "done", "holder": "h"}
                    digest |= {"lease_until": at, "claimed_at": at}
                    await connection.execute(insert(DigestRow.__table__).values(digest))
                for n, digest_id in ((1, 1), (2, 2), (3, None)):
                    post = {"id": n, "channel_id": min(n, 2), "paper_id": "2010.00577", "digest_id": digest_id}
                    post |= {"version": 1, "message_id": f"m{n}"}
                    await connection.execute(insert(PostRow.__table__).values(post))
            await upgrade(engine)
            async with engine.connect() as connection:
                found = (await connection.execute(text("SELECT id, day FROM posts ORDER BY id"))).all()
            async with AsyncSession(engine) as session:
                repository = PostRepository(session, digests=DigestRepository(session))
                postings = (await repository.postings(["2010.00577"]))["2010.00577"]
        finally:
            await engine.dispose()
    assert [(n, str(day) if day else None) for n, day in found] == [(1, "2020-11-06"), (2, "2020-11-04"), (3, None)]
    assert [(p.channel.channel, p.day) for p in postings if p.day] == [("C2", days[1]), ("C1", days[0])]
