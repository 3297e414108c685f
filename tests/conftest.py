"""Shared fixtures: a database per test (SQLite file, or a fresh PostgreSQL schema), the engine built on it by the
real composition root, and the bundled sample data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app.service import HotPapers
from bot.domain.clock import FrozenClock
from bot.domain.config import LLM_KEY_ENV, Config, parse_config
from bot.runtime.bootstrap import App, build
from bot.runtime.sample import load_sample
from bot.storage.database import create_engine, upgrade
from tests.fakes.llm_server import API_KEY, FakeLLM

PG_URL = os.environ.get("HOTPAPERS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SAMPLE_DAY = date(2020, 11, 6)
"""The latest day in bot/data/sample.json: `digest()` without a date shows it."""
SAMPLE_NOW = datetime(2020, 11, 7, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    schema: str | None = None


_PG_REACHED = False


async def _pg_reachable() -> str | None:
    """None once PostgreSQL has answered in this process (asked again until then), else why not."""
    global _PG_REACHED
    if _PG_REACHED:
        return None
    import asyncpg

    try:
        connection = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3)
    except (OSError, asyncpg.PostgresError) as error:
        return f"PostgreSQL at {PG_URL} unreachable: {error}"
    await connection.close()
    _PG_REACHED = True
    return None


async def _with_schema(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the head revision once per session; each test gets a copy (`fresh_sqlite`)
    instead of running Alembic again. `build` still checks the revision (one query) and finds it current."""
    path = tmp_path_factory.mktemp("template") / "hotpapers.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def fresh_sqlite(sqlite_template: Path, tmp_path: Path) -> Callable[[str], str]:
    """`fresh_sqlite(name)`: the URL of a migrated copy of the template at tmp_path / name."""

    def copy(name: str) -> str:
        target = tmp_path / name
        shutil.copyfile(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"

    return copy


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def database(request: pytest.FixtureRequest, fresh_sqlite: Callable[[str], str]) -> AsyncIterator[Database]:
    """Each test gets its own SQLite file (a copy of the migrated template) or its own PostgreSQL schema. With
    CI=true PostgreSQL must be there."""
    if request.param == "sqlite":
        yield Database("sqlite", fresh_sqlite("hotpapers.db"))
        return
    async with pg_schema("t") as schema:
        yield Database("postgresql", PG_URL, schema)


@contextlib.asynccontextmanager
async def pg_schema(prefix: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; skipped with a reason when the server is unreachable, a
    failure with CI=true."""
    problem = await _pg_reachable()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {problem}")
        pytest.skip(problem)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _with_schema(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await _with_schema(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(SAMPLE_NOW)


MakeApp = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(database: Database, clock: FrozenClock) -> AsyncIterator[MakeApp]:
    """Build engines on the test's database (several may share it, like replicas); all closed at the end."""
    apps: list[App] = []

    async def make(
        *,
        sample: bool = False,
        offline: bool = True,
        config: dict[str, Any] | None = None,
        clock_: FrozenClock | None = None,
    ) -> App:
        extra = dict(config or {})
        data = {
            "database": {"url": database.url, "schema": database.schema or "", **extra.pop("database", {})},
            **extra,
        }
        app = await build(parse_config(data), clock=clock_ or clock, offline=offline)
        apps.append(app)
        if sample:
            await load_sample(app.uow, now=(clock_ or clock).now())
        return app

    yield make
    for app in apps:
        await app.aclose()


@pytest.fixture
async def app(make_app: MakeApp) -> App:
    """The engine on the test's database with the sample data loaded."""
    return await make_app(sample=True)


@pytest.fixture
async def adapter_app(fresh_sqlite: Callable[[str], str], clock: FrozenClock) -> AsyncIterator[App]:
    """The app on a fresh SQLite file with the sample papers, no network sources (adapter tests)."""
    config = Config.model_validate({"database": {"url": fresh_sqlite("adapter.db")}})
    async with await build(config, clock=clock, offline=True) as built:
        await load_sample(built.uow, now=clock.now())
        yield built


@pytest.fixture
def hotpapers(adapter_app: App) -> HotPapers:
    """A real HotPapers on `adapter_app` (adapter tests)."""
    return adapter_app.service


@pytest.fixture
def sample_day() -> date:
    return SAMPLE_DAY


@pytest.fixture
async def llm_hotpapers(tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The engine with [llm] on, talking to a loopback LLM; every other network source off or on loopback."""
    async with FakeLLM() as llm:
        monkeypatch.setenv(LLM_KEY_ENV, API_KEY)
        config = Config.model_validate(
            {
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}"},
                "llm": {"enabled": True, "base_url": llm.url, "model": "tiny-1", "timeout": 2},
                "signals": {name: {"enabled": False} for name in ("hf", "hn", "bluesky", "s2")},
                "arxiv": {"api_url": f"{llm.url}/no-arxiv", "rss_url": f"{llm.url}/no-arxiv/"},
            }
        )
        async with await build(config, clock=clock, offline=False) as built:
            await load_sample(built.uow, now=clock.now())
            yield built.service, llm
