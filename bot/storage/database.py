"""Engine creation and migrations. The composition root calls these; nothing here runs at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError, UpstreamUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 5, schema: str | None = None) -> AsyncEngine:
    """An async engine for `url`; `schema` pins PostgreSQL's search_path (tests give each run its own)."""
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    try:
        engine = create_async_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError) as error:
        raise ConfigError(f"database.url {_redact(url)!r} is not usable: {error}") from None
    except ModuleNotFoundError as error:
        raise ConfigError(f"database.url needs the {error.name} driver: pip install 'hotpapers[postgres]'") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic, on the engine's own connection (and schema)."""
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_sync, revision)
    except (OSError, ConnectionError) as error:
        raise UpstreamUnavailable(f"database unreachable at {_redact(str(engine.url))}: {error}") from None


def _upgrade_sync(connection: Connection, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message or a log."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return f"{scheme}{sep}{rest}"


redact_url = _redact
