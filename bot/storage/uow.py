"""The unit of work: one transaction per use-case, rolled back unless the use-case commits."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.errors import UpstreamUnavailable
from bot.storage.card_parts import CardPartsRepository
from bot.storage.changes import Changes
from bot.storage.channels import ChannelRepository
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


class UnitOfWork:
    """`async with uow: … await uow.commit()`. Adapters never see a session."""

    papers: PaperRepository
    signals: SignalRepository
    summaries: SummaryRepository
    channels: ChannelRepository
    votes: VoteRepository
    events: EventRepository
    digests: DigestRepository
    posts: PostRepository
    vote_batch: VoteBatchRepository
    card_parts: CardPartsRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._pages: ChannelPageRepository | None = None
        self._threads: ThreadRepository | None = None
        self._polls: PollRepository | None = None

    async def __aenter__(self) -> UnitOfWork:
        session = self._session = self._sessions()
        self.papers = PaperRepository(session)
        self.signals = SignalRepository(session)
        self.summaries = SummaryRepository(session)
        self.votes = VoteRepository(session)
        self.channels = ChannelRepository(session, votes=self.votes)
        self.events = EventRepository(session)
        self.digests = DigestRepository(session)
        self.posts = PostRepository(session, digests=self.digests)
        self.vote_batch = VoteBatchRepository(session)
        self.card_parts = CardPartsRepository(
            session,
            papers=self.papers,
            signals=self.signals,
            summaries=self.summaries,
            posts=self.posts,
            channels=self.channels,
            votes=self.votes,
        )
        self._pages = self._threads = self._polls = None
        return self

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

    def _open(self) -> AsyncSession:
        assert self._session is not None, "repositories live inside `async with uow:`"
        return self._session

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self._session
        assert session is not None
        try:
            if session.in_transaction() or session.new or len(session.identity_map):
                await session.close()  # releases the connection, rolling back whatever was not committed
            # else it never began (a `/paper` card read on its own connection): nothing to release
        finally:
            self._session = None
        if isinstance(error, OperationalError | DBAPIError) and _is_connection_error(error):
            raise UpstreamUnavailable(f"database unavailable: {type(error.orig).__name__}") from None

    async def read_only(self) -> None:
        """Declare, before the first query, that this unit of work only reads: its statements then run without a
        transaction around them (no BEGIN and ROLLBACK round trips). Each still sees what was committed before it
        started, exactly as in a READ COMMITTED transaction, the default; a write would be committed at once, so
        a unit of work that may write must not call this."""
        assert self._session is not None
        await self._session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def one_statement(self) -> None:
        """Declare, before the first query, that this unit of work writes with a single statement (plus reads that
        only explain its outcome): it then runs without BEGIN and COMMIT round trips, the statement committing by
        itself — as atomic as the transaction around it would have been."""
        assert self._session is not None
        await self._session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def commit(self) -> None:
        assert self._session is not None
        if not self._session.in_transaction():
            return  # nothing was read or written through the session (a `/paper` card read on its own connection)
        await self._session.commit()
        if self._session.info.pop("papers_changed", False):
            Changes.bump()  # again once committed: a cache rebuilt between the write and the commit is stale
        if self._session.info.pop("plans_changed", False):
            Changes.bump_plans()
        if self._session.info.pop("cards_changed", False):
            Changes.bump_cards()


def _is_connection_error(error: DBAPIError) -> bool:
    return bool(error.connection_invalidated) or isinstance(error.orig, OSError | ConnectionError)
