"""Engine creation and migrations. The composition root calls these; nothing here runs at import time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError, UpstreamUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")
IDLE_PING_SECONDS = 10.0
"""A pooled connection idle this long is pinged before it is handed out, so a restarted database is noticed before a
query fails. Busy connections are not pinged: SQLAlchemy's `pool_pre_ping` costs three round trips (BEGIN, ping,
ROLLBACK on asyncpg) on every unit of work, more than a whole `/paper` look-up's queries."""


def create_engine(url: str, *, echo: bool = False, pool_size: int = 5, schema: str | None = None) -> AsyncEngine:
    """An async engine for `url`; `schema` pins PostgreSQL's search_path (tests give each run its own)."""
    kwargs: dict[str, Any] = {"echo": echo}
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
    _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """Ping a connection on checkout when it sat in the pool for `idle` seconds; a dead one is replaced (the pool
    retries the checkout on DisconnectionError), as `pool_pre_ping` would."""
    dialect = engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"pooled connection failed its ping: {type(error).__name__}") from error

    event.listen(engine.sync_engine.pool, "checkin", checked_in)
    event.listen(engine.sync_engine.pool, "checkout", checked_out)


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
