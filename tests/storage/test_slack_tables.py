"""Migration 0004: Slack's installation tables on the app's own engine, from scratch or adopted from a deployment whose
adapter made them itself (`create_all` on a second engine, before 0004) — and slack_sdk's stores work on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.installs import WORKSPACES, InstalledTokens, Org
from bot.storage.database import create_engine, head_revision, upgrade
from tests.conftest import Database

TABLES = ("slack_installations", "slack_bots", "slack_oauth_states", "slack_workspaces")
CLIENT = "111.222"


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    """The app's engine on the test's database, not yet migrated."""
    engine = create_engine(database.url, schema=database.schema)
    yield engine
    await engine.dispose()


def slack_sdk_tables() -> MetaData:
    """The tables as slack_sdk defines them, plus the adapter's own Grid directory."""
    metadata = MetaData()
    AsyncSQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    AsyncSQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    WORKSPACES.to_metadata(metadata)
    return metadata


def shape(connection: Connection, name: str) -> dict[str, Any]:
    """A table as the database has it: each column's type (as this dialect writes it) and nullability, the primary
    key, and the indexes."""
    found = inspect(connection)
    dialect = connection.dialect
    return {
        "columns": {c["name"]: (c["type"].compile(dialect), c["nullable"]) for c in found.get_columns(name)},
        "primary key": sorted(found.get_pk_constraint(name)["constrained_columns"]),
        "indexes": sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(name)),
    }


def expected_shape(connection: Connection, table: Table) -> dict[str, Any]:
    dialect = connection.dialect
    return {
        "columns": {c.name: (c.type.compile(dialect), c.nullable) for c in table.columns},
        "primary key": sorted(c.name for c in table.primary_key.columns),
        "indexes": sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes),
    }


def installation(team: str, *, token: str, at: datetime) -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name=f"team {team}",
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"U{team}",
        bot_scopes=["chat:write"],
        user_id="UADMIN",
        installed_at=at.timestamp(),
        bot_refresh_token=f"xoxe-{team}",
        bot_token_expires_at=int(at.timestamp()) + 43_200,
    )


async def stores_work(engine: AsyncEngine, *, already: tuple[str, ...] = ()) -> None:
    """slack_sdk's stores and the adapter's Grid directory read and write the migrated tables."""
    store = AsyncSQLAlchemyInstallationStore(client_id=CLIENT, engine=engine)
    for team in already:
        found = await store.async_find_bot(enterprise_id=None, team_id=team)
        assert found is not None and found.bot_token == f"xoxb-{team}-old"
    when = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    await store.async_save(installation("T1", token="xoxb-T1", at=when))
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and (bot.bot_token, bot.bot_refresh_token) == ("xoxb-T1", "xoxe-T1")
    assert bot.bot_token_expires_at == int(when.timestamp()) + 43_200
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.user_id == "UADMIN" and found.bot_scopes == ["chat:write"]
    states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
    state = await states.async_issue()
    assert await states.async_consume(state) and not await states.async_consume(state)
    tokens = InstalledTokens(
        store, engine, client_id=CLIENT, client_secret="s", client=AsyncWebClient(), refresh_minutes=1
    )
    await tokens.remember("T7", Org("E1", is_enterprise_install=False))
    fresh = InstalledTokens(
        store, engine, client_id=CLIENT, client_secret="s", client=AsyncWebClient(), refresh_minutes=1
    )
    assert await fresh.org_of("T7") == Org("E1", is_enterprise_install=False)
    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None


async def assert_migrated(engine: AsyncEngine) -> None:
    """Every table has exactly slack_sdk's columns, types, nullability, key and index; the database is at head."""
    expected = slack_sdk_tables()
    async with engine.connect() as connection:
        for name in TABLES:
            have = await connection.run_sync(shape, name)
            want = await connection.run_sync(expected_shape, expected.tables[name])
            assert have == want, name
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert version == head_revision()


async def test_a_new_database_gets_slack_sdks_tables_from_the_migration_and_the_stores_work(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine)
    await assert_migrated(engine)
    await stores_work(engine)


async def test_a_deployment_whose_adapter_made_the_tables_keeps_them_and_their_tokens(engine: AsyncEngine) -> None:
    await upgrade(engine, "0003")
    old = AsyncSQLAlchemyInstallationStore(client_id=CLIENT, engine=engine)
    await old.create_tables()  # what the adapter did at start-up before 0004
    await AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine).create_tables()
    async with engine.begin() as connection:
        await connection.run_sync(WORKSPACES.metadata.create_all)
    await old.async_save(installation("T0", token="xoxb-T0-old", at=datetime(2026, 1, 1, tzinfo=UTC)))
    await upgrade(engine)
    await assert_migrated(engine)
    await stores_work(engine, already=("T0",))


async def test_a_bots_table_from_an_older_slack_sdk_gets_the_token_rotation_columns(engine: AsyncEngine) -> None:
    await upgrade(engine, "0003")
    before_rotation = MetaData()
    Table(  # slack_sdk before 3.8.0: no refresh token, no expiry, no index yet
        "slack_bots",
        before_rotation,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
        Column("team_id", String(32)),
        Column("team_name", String(200)),
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("is_enterprise_install", Boolean(), nullable=False),
        Column("installed_at", DateTime, nullable=False),
    )
    async with engine.begin() as connection:
        await connection.run_sync(before_rotation.create_all)
        await connection.execute(
            text(
                "INSERT INTO slack_bots (client_id, app_id, team_id, bot_token, is_enterprise_install, installed_at) "
                f"VALUES ('{CLIENT}', 'A1', 'T0', 'xoxb-T0-old', false, '2020-01-01 00:00:00')"
            )
        )
    await upgrade(engine)
    await assert_migrated(engine)
    await stores_work(engine, already=("T0",))
