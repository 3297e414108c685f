"""Engine creation and migrations. The composition root calls these; nothing here runs at import time."""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from bot.domain.errors import ConfigError, UpstreamUnavailable
from bot.storage.dialect import engine_options, prepare_engine
from bot.storage.driver import borrowed_driver

MIGRATIONS = Path(__file__).with_name("migrations")
CURRENT_REVISION = "SELECT version_num FROM alembic_version"
"""The revision a database is at (Alembic's own table; one row)."""
IDLE_PING_SECONDS = 10.0
"""A pooled connection idle this long is pinged before it is handed out, so a restarted database is noticed before a
query fails. Busy connections are not pinged: SQLAlchemy's `pool_pre_ping` costs three round trips (BEGIN, ping,
ROLLBACK on asyncpg) on every unit of work, more than a whole `/paper` look-up's queries."""


def create_engine(url: str, *, echo: bool = False, pool_size: int = 5, schema: str | None = None) -> AsyncEngine:
    """An async engine for `url`; `schema` pins PostgreSQL's search_path (tests give each run its own)."""
    check_url(url)
    _check_sqlite_folder(url)
    try:
        engine = create_async_engine(url, echo=echo, **engine_options(url, pool_size=pool_size, schema=schema))
    except (ArgumentError, NoSuchModuleError) as error:
        raise ConfigError(f"database.url {_redact(url)!r} is not usable: {error}") from None
    except ModuleNotFoundError as error:
        raise ConfigError(f"database.url needs the {error.name} driver: pip install 'hotpapers[postgres]'") from None
    prepare_engine(engine)
    _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


SUPPORTED_URLS = "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DATABASE"


def check_url(url: str) -> None:
    """Refuse, in words, a database URL hotpapers cannot use (ConfigError: exit 2), before any driver is loaded."""
    shown = _redact(url)
    scheme, sep, _rest = url.partition("://")
    backend, _, driver = scheme.lower().partition("+")
    if not sep or not backend:
        raise ConfigError(f"database.url {shown!r} is not a database URL; use {SUPPORTED_URLS}")
    if backend in ("postgresql", "postgres") and driver != "asyncpg":
        raise ConfigError(
            f"database.url: hotpapers reaches PostgreSQL through asyncpg; write postgresql+asyncpg://… "
            f"instead of {scheme}://…"
        )
    if backend == "sqlite" and driver != "aiosqlite":
        raise ConfigError(f"database.url: write sqlite+aiosqlite:///PATH instead of {scheme}://…")
    if backend not in ("postgresql", "postgres", "sqlite"):
        raise ConfigError(f"database.url: {backend} is not supported; use {SUPPORTED_URLS}")
    if backend == "postgres":
        raise ConfigError("database.url: write postgresql+asyncpg://… (SQLAlchemy does not know postgres://)")
    try:
        make_url(url)
    except (ArgumentError, ValueError) as error:
        reason = "the port is not a number" if "int()" in str(error) else "it cannot be parsed"
        raise ConfigError(f"database.url {shown!r} is malformed: {reason}; use {SUPPORTED_URLS}") from None


def _check_sqlite_folder(url: str) -> None:
    """An SQLite file in a folder that does not exist is refused before the driver's thread tries to open it."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if not folder.exists():
        raise UpstreamUnavailable(f"database file {database} cannot be created: the folder {folder} does not exist")


def unavailable(error: BaseException, url: str) -> UpstreamUnavailable:
    """A connection failure in plain words (no driver text, no password): a missing database, role or folder."""
    shown = _redact(url)
    original = getattr(error, "orig", None) or error
    text = str(original).split("\n", 1)[0]
    code = getattr(original, "sqlstate", None) or getattr(getattr(original, "__cause__", None), "sqlstate", None)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if path.parent and not path.parent.exists():
            return UpstreamUnavailable(
                f"database file {path} cannot be created: the folder {path.parent} does not exist"
            )
        return UpstreamUnavailable(f"database file {path} cannot be opened ({text[:80]})")
    if code == "3D000" or ("does not exist" in text and text.startswith("database")):
        return UpstreamUnavailable(
            f"database {parsed.database!r} does not exist on {parsed.host}: create it (createdb) or fix database.url"
        )
    if code == "28000" or text.startswith("role"):
        return UpstreamUnavailable(f"database role {parsed.username!r} does not exist on {parsed.host}")
    if code == "28P01" or "password authentication failed" in text:
        return UpstreamUnavailable(f"the database refused the password for {parsed.username!r} on {parsed.host}")
    return UpstreamUnavailable(f"database unreachable at {shown}: {type(original).__name__}")


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


T = TypeVar("T")


def reads_on_driver(engine: AsyncEngine) -> bool:
    """Whether `read_on_driver` can run on the engine's connections: asyncpg's, on PostgreSQL."""
    return engine.dialect.name == "postgresql"


async def read_on_driver(engine: AsyncEngine, read: Callable[[Any], Awaitable[T]]) -> T:
    """`read(asyncpg connection)` for a read of one statement outside any transaction (a `/paper` card), on the
    engine's held connection (`_HeldConnection`), or on one borrowed from the pool while another read holds it. A
    read that fails or is cancelled closes the connection it ran on: it may have stopped mid-protocol."""
    held = _held.get(engine.sync_engine)
    if held is None:
        held = _held[engine.sync_engine] = _HeldConnection()
        event.listen(engine.sync_engine, "engine_disposed", held.disposed)
    if held.busy:
        async with borrowed_driver(engine) as driver:
            return await read(driver)
    held.busy = True
    try:
        return await read(await held.ready(engine))
    except BaseException:
        held.close()
        raise
    finally:
        held.released()


class _HeldConnection:
    """One connection per engine kept out of the pool for `read_on_driver`: the pool's checkout and return (two
    greenlet switches, its queue, its events) cost 0.05 ms, a sixth of a whole `/paper` (`bench/RESULTS.md`, "paper",
    second session). It is a connection of the engine's pool, detached: opened as the others are (the search_path,
    the dialect's JSON codecs, the pool's checkout listeners), then no longer the pool's, which opens another in its
    place when it needs one, so a process holds at most one connection more than its pool. Idle for
    `IDLE_PING_SECONDS`, it is pinged before a read, as the pool's are on checkout (a restarted database is noticed
    before a read fails); it is closed when the engine is disposed (a read then in flight closes it when done)."""

    __slots__ = ("adapted", "busy", "discard", "driver", "idle_since")

    def __init__(self) -> None:
        self.adapted: Any = None
        """SQLAlchemy's adaptation of the driver's connection (what the pool holds: `do_ping`, `terminate`)."""
        self.driver: Any = None
        """asyncpg's connection, or None until a read needs it."""
        self.busy = False
        self.discard = False
        self.idle_since = 0.0

    async def ready(self, engine: AsyncEngine) -> Any:
        """asyncpg's connection, pinged first if it sat idle, or a new one detached from the pool."""
        if self.driver is not None and time.monotonic() - self.idle_since >= IDLE_PING_SECONDS:
            try:
                await greenlet_spawn(engine.dialect.do_ping, self.adapted)
            except Exception:
                self.close()
        if self.driver is None:
            pooled = await engine.raw_connection()
            adapted: Any = pooled.dbapi_connection
            pooled.detach()
            self.adapted, self.driver = adapted, engine.dialect.get_driver_connection(adapted)
        return self.driver

    def released(self) -> None:
        self.busy = False
        self.idle_since = time.monotonic()
        if self.discard:
            self.discard = False
            self.close()

    def disposed(self, _engine: Engine) -> None:
        if self.busy:
            self.discard = True
        else:
            self.close()

    def close(self) -> None:
        """Close the connection: gracefully inside a greenlet (the engine's `dispose` runs its listeners in one),
        at once otherwise (a failed or cancelled read). SQLAlchemy's own `terminate` tells the two apart."""
        adapted, self.adapted, self.driver = self.adapted, None, None
        if adapted is not None:
            adapted.terminate()


_held: weakref.WeakKeyDictionary[Engine, _HeldConnection] = weakref.WeakKeyDictionary()
"""Each engine's held connection (an engine collected takes its entry with it: nothing here refers to it)."""


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic, on the engine's own connection (and schema).

    A database already at the head revision is recognised with one query, and an empty one (no table at all) gets
    the head schema made at once — the models' tables and Slack's, then the head revision stamped, as the migration
    chain would leave them (tests/storage/test_schema_creation.py compares the two) — both without importing Alembic,
    which costs more than a whole `hotpapers paper` answer and 10 MB that an idle `hotpapers run` would carry."""
    try:
        async with engine.begin() as connection:
            if revision == "head":
                state = await connection.run_sync(_schema_state)
                if state == "head":
                    return
                if state == "empty":
                    await connection.run_sync(_create_head)
                    return
            await connection.run_sync(_upgrade_sync, revision)
    except (OSError, ConnectionError) as error:
        raise UpstreamUnavailable(f"database unreachable at {_redact(str(engine.url))}: {error}") from None
    except DBAPIError as error:
        raise unavailable(error, engine.url.render_as_string(hide_password=False)) from None


@cache
def head_revision() -> str:
    """The newest migration's revision, read from the files in migrations/versions (one head, checked by a test
    against Alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (MIGRATIONS / "versions").glob("*.py"):
        source = file.read_text(encoding="utf-8")
        found = re.search(r'^revision\s*=\s*"([^"]+)"', source, re.MULTILINE)
        down = re.search(r'^down_revision\s*=\s*"([^"]+)"', source, re.MULTILINE)
        if found:
            revisions.add(found.group(1))
        if down:
            parents.add(down.group(1))
    (head,) = revisions - parents
    return head


def _schema_state(connection: Connection) -> str:
    """ "head" (at the newest revision), "empty" (no table at all) or "behind" (anything else: Alembic decides)."""
    tables = inspect(connection).get_table_names()
    if not tables:
        return "empty"
    if "alembic_version" not in tables:
        return "behind"
    current = connection.execute(text(CURRENT_REVISION)).scalars().all()
    return "head" if current == [head_revision()] else "behind"


def _create_head(connection: Connection) -> None:
    """The head schema on an empty database, in the connection's transaction, stamped with the head revision."""
    from sqlalchemy import Column, Index, MetaData, PrimaryKeyConstraint, String, Table

    from bot.storage.pages import ChannelPageRow
    from bot.storage.polls import PollRow
    from bot.storage.slack_tables import slack_tables
    from bot.storage.tables import NAMING, Base
    from bot.storage.threads import ThreadReplyRow

    for row in (ChannelPageRow, PollRow, ThreadReplyRow):  # modules loaded on first use: importing them here puts
        assert row.metadata is Base.metadata  # their tables (the poll votes and threads too) in the one metadata
    Base.metadata.create_all(connection)
    slack = MetaData(naming_convention=NAMING)  # as Alembic's op.create_table names constraints (target metadata)
    for name, (columns, indexed) in slack_tables().items():
        table = Table(name, slack, *columns)
        if indexed:
            Index(f"{name}_idx", *(table.c[column] for column in indexed))
    slack.create_all(connection)
    version = Table(  # Alembic's own version table, as `alembic upgrade` creates it
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=head_revision()))


def _upgrade_sync(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

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
