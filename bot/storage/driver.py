"""Statements run on asyncpg's own connection (PostgreSQL), for the few hot paths where SQLAlchemy's execution and
result machinery cost more than PostgreSQL takes to answer: a `/paper` card's one statement (`card_parts`) and a
vote group's two (`vote_batch`). The driver prepares each SQL text once per connection (its statement cache) and
hands back what SQLAlchemy's types would (JSON decoded by the codec SQLAlchemy's dialect sets on each connection,
timestamps as aware UTC datetimes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

from bot.domain.errors import UpstreamUnavailable


@asynccontextmanager
async def on_driver(session: AsyncSession) -> AsyncIterator[Any]:
    """asyncpg's connection for statements of this unit of work. One that already holds a connection runs them in
    its transaction; any other borrows one from the pool for them (`borrowed_driver`), outside any transaction
    (each statement commits by itself, as `UnitOfWork.read_only` and `one_statement` run theirs). A connection that
    broke is reported as the database being unavailable, as the unit of work reports SQLAlchemy's connection
    errors."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "sessions are bound to the engine"
    if session.in_transaction():
        held = await (await session.connection()).get_raw_connection()
        driver = held.driver_connection
        try:
            yield driver
        except Exception as error:
            raise_if_unavailable(error, driver)
            raise
        return
    async with borrowed_driver(engine) as driver:
        yield driver


@asynccontextmanager
async def borrowed_driver(engine: AsyncEngine) -> AsyncIterator[Any]:
    """asyncpg's connection of one borrowed from the engine's pool for a few statements outside any transaction.
    One that failed other than by PostgreSQL's answer (an error the server reported leaves it ready for the next
    statement) may be mid-protocol, so it is not reused; one that broke is reported as the database being
    unavailable."""
    async with _checked_out(engine) as borrowed:
        driver = borrowed.driver_connection
        try:
            yield driver
        except BaseException as error:
            if not _answered(error):
                borrowed.invalidate()
            raise_if_unavailable(error, driver)
            raise


@asynccontextmanager
async def kept_driver(engine: AsyncEngine) -> AsyncIterator[Any]:
    """asyncpg's connection of one borrowed from the engine's pool and kept while the caller does other work besides
    its statements (a lock held in a transaction on it, `ThreadRepository.opening`): what that work raises passes
    through untouched, and only a connection that closed meanwhile is not reused. The caller words the errors of
    its own statements (`raise_if_unavailable`)."""
    async with _checked_out(engine) as borrowed:
        driver = borrowed.driver_connection
        try:
            yield driver
        except BaseException:
            if driver.is_closed():
                borrowed.invalidate()
            raise


@asynccontextmanager
async def _checked_out(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A connection of the engine's pool (its `PoolProxiedConnection`), given back however the caller ends."""
    borrowed = await engine.raw_connection()
    try:
        yield borrowed
    finally:
        await greenlet_spawn(borrowed.close)


def _answered(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL's answer to a statement (the connection is then in a clean state)."""
    from asyncpg import PostgresError  # type: ignore[import-untyped]  # only reached on PostgreSQL

    return isinstance(error, PostgresError)


def raise_if_unavailable(error: BaseException, driver: Any) -> None:
    """A statement on `driver` failed: a connection that broke (a socket error, or the driver closed it) means the
    database is unavailable, as the unit of work reports SQLAlchemy's connection errors; anything else is the
    caller's to re-raise."""
    if isinstance(error, OSError) or (isinstance(error, Exception) and driver.is_closed()):
        raise UpstreamUnavailable(f"database unavailable: {type(error).__name__}") from None
