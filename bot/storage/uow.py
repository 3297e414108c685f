"""The unit of work: one transaction per use-case, rolled back unless the use-case commits."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.domain.errors import UpstreamUnavailable
from bot.storage.card_parts import CardPartsRepository
from bot.storage.changes import Changes
from bot.storage.channels import ChannelRepository
from bot.storage.dialect import writes_in_ctes
from bot.storage.digests import DigestRepository
from bot.storage.events import EventRepository
from bot.storage.papers import PaperRepository
from bot.storage.posts import PostRepository
from bot.storage.signals import SignalRepository
from bot.storage.summaries import SummaryRepository
from bot.storage.vote_batch import VoteBatchRepository
from bot.storage.votes import VoteRepository

if TYPE_CHECKING:  # each loaded (with its tables' mapping) by the first unit of work that uses it
    from bot.storage.pages import ChannelPageRepository
    from bot.storage.polls import PollRepository
    from bot.storage.threads import ThreadRepository


R = TypeVar("R")


class _OnSession(Generic[R]):
    """A repository on the unit of work's session: the first one used makes the session and all of them
    (`UnitOfWork._open`), which then sit in the instance's dict, found before this descriptor (it has no `__set__`)."""

    def __set_name__(self, _owner: type, name: str) -> None:
        self._name = name

    def __get__(self, uow: UnitOfWork | None, _owner: type) -> R:
        if uow is None:
            raise AttributeError(f"{self._name} is a unit of work's, made inside `async with uow:`")
        uow._open()
        found: R = vars(uow)[self._name]
        return found


class UnitOfWork:
    """`async with uow: … await uow.commit()`. Adapters never see a session.

    The session and the repositories on it are made when the first of them is used, not on entering: a `/paper`
    card on PostgreSQL is read on the driver's own connection (`card_parts`) and commits nothing, so it needs
    neither, and making them took 6-14 µs, a tenth of the card's own Python (`bench/RESULTS.md`, "paper", second
    session)."""

    papers = _OnSession[PaperRepository]()
    signals = _OnSession[SignalRepository]()
    summaries = _OnSession[SummaryRepository]()
    channels = _OnSession[ChannelRepository]()
    votes = _OnSession[VoteRepository]()
    events = _OnSession[EventRepository]()
    digests = _OnSession[DigestRepository]()
    posts = _OnSession[PostRepository]()
    vote_batch = _OnSession[VoteBatchRepository]()
    card_parts: CardPartsRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._opened: AsyncSession | None = None
        self._entered = False
        self._pages: ChannelPageRepository | None = None
        self._threads: ThreadRepository | None = None
        self._polls: PollRepository | None = None

    async def __aenter__(self) -> UnitOfWork:
        self._entered = True
        self.card_parts = CardPartsRepository(self)
        return self

    @property
    def engine(self) -> AsyncEngine:
        """The engine the session is (or would be) bound to, known without making the session."""
        engine = self._sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine), "sessions are bound to the engine"
        return engine

    @property
    def began(self) -> bool:
        """Whether the session holds a connection (a transaction, or an autocommit one from `read_only`)."""
        return self._opened is not None and self._opened.in_transaction()

    @property
    def _session(self) -> AsyncSession:
        """The session (made on first use), for the storage's own reads across repositories (`card_parts`)."""
        return self._open()

    def _open(self) -> AsyncSession:
        """The session, made (with the repositories on it) on first use."""
        assert self._entered, "repositories live inside `async with uow:`"
        session = self._opened
        if session is None:
            session = self._opened = self._sessions()
            votes = VoteRepository(session)
            digests = DigestRepository(session)
            vars(self).update(
                papers=PaperRepository(session),
                signals=SignalRepository(session),
                summaries=SummaryRepository(session),
                votes=votes,
                channels=ChannelRepository(session, votes=votes),
                events=EventRepository(session),
                digests=digests,
                posts=PostRepository(session, digests=digests),
                vote_batch=VoteBatchRepository(session),
            )
        return session

    @property
    def pages(self) -> ChannelPageRepository:
        """The channel's public page (issue 20, `bot/web`)."""
        if self._pages is None:
            from bot.storage.pages import ChannelPageRepository

            self._pages = ChannelPageRepository(self._open())
        return self._pages

    @property
    def threads(self) -> ThreadRepository:
        """Discussion threads and who replied in them (issue 18)."""
        if self._threads is None:
            from bot.storage.threads import ThreadRepository

            self._threads = ThreadRepository(self._open())
        return self._threads

    @property
    def polls(self) -> PollRepository:
        """Journal-club polls (issue 19, `bot/app/journal_club.py`)."""
        if self._polls is None:
            from bot.storage.polls import PollRepository

            self._polls = PollRepository(self._open())
        return self._polls

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self._opened
        try:
            if session is not None and (session.in_transaction() or session.new or len(session.identity_map)):
                await session.close()  # releases the connection, rolling back whatever was not committed
            # else it never began (a `/paper` card read on its own connection): nothing to release
        finally:
            self._entered = False
            if session is not None:
                self._opened = None
                for name in _REPOSITORIES:
                    del vars(self)[name]
            self._pages = self._threads = self._polls = None
        if isinstance(error, OperationalError | DBAPIError) and _is_connection_error(error):
            raise UpstreamUnavailable(f"database unavailable: {type(error.orig).__name__}") from None

    async def read_only(self) -> None:
        """Declare, before the first query, that this unit of work only reads: its statements then run without a
        transaction around them (no BEGIN and ROLLBACK round trips). Each still sees what was committed before it
        started, exactly as in a READ COMMITTED transaction, the default; a write would be committed at once, so
        a unit of work that may write must not call this."""
        await self._open().connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def one_statement(self) -> None:
        """Declare, before the first query, that this unit of work writes with a single statement (plus reads that
        only explain its outcome): it then runs without BEGIN and COMMIT round trips, the statement committing by
        itself — as atomic as the transaction around it would have been."""
        await self._open().connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def planning(self) -> None:
        """Reads, then a digest's plan stored by `PostRepository.plan_fenced`: one statement on PostgreSQL (then no
        BEGIN and COMMIT round trips; each read sees what was committed before it, as in a READ COMMITTED
        transaction, and what the plan's cards cache — an LLM summary — is committed at once); on SQLite the
        renewal and the entries are two statements, in a transaction."""
        if writes_in_ctes(self._open()):
            await self.one_statement()

    async def commit(self) -> None:
        assert self._entered, "commit inside `async with uow:`"
        session = self._opened
        if session is None or not session.in_transaction():
            return  # nothing was read or written through the session (a `/paper` card read on its own connection)
        await session.commit()
        if session.info.pop("papers_changed", False):
            Changes.bump()  # again once committed: a cache rebuilt between the write and the commit is stale
        if session.info.pop("plans_changed", False):
            Changes.bump_plans(session.info.pop("planned_channels", ()))
        if session.info.pop("cards_changed", False):
            Changes.bump_cards()


_REPOSITORIES = tuple(name for name, kind in vars(UnitOfWork).items() if isinstance(kind, _OnSession))


def _is_connection_error(error: DBAPIError) -> bool:
    return bool(error.connection_invalidated) or isinstance(error.orig, OSError | ConnectionError)
