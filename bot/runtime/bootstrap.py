"""The composition root: Config → engine → HTTP session → sources → HotPapers and Operations. Nothing else builds
clients."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace, TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app.cards import CardContext, Summarizer
from bot.app.digest import PostingPolicy, starts_at_once, writes_at_once
from bot.app.discussion import Discussions
from bot.app.ingest import Ingestor
from bot.app.lookups import LookupGuard, LookupPolicy
from bot.app.operations import Operations
from bot.app.service import HotPapers
from bot.domain.clock import SystemClock
from bot.domain.config import Config
from bot.domain.model import Announcement, Paper
from bot.domain.ports import Clock
from bot.domain.ranking import ranking_weights
from bot.storage.database import create_engine, upgrade
from bot.storage.dialect import writers
from bot.storage.uow import UnitOfWork
from bot.storage.window import WindowCache

if TYPE_CHECKING:  # loaded when first needed: prometheus with `run`, the network stack with the first request
    import aiohttp

    from bot.app.signals import SignalHub
    from bot.runtime.metrics import Metrics
    from bot.sources.arxiv_api import ArxivApiSource
    from bot.sources.arxiv_rss import ArxivRssSource
    from bot.sources.pacing import PacingGate

USER_AGENT = "hotpapers/0.1 (+https://github.com/hotpapers/hotpapers)"


class Network:
    """The HTTP session and every network source, each made on first use.

    Importing aiohttp, the `arxiv` package (with requests) and feedparser costs more than a whole `hotpapers paper`
    answer for a stored paper whose signals are fresh, which needs none of them; and an idle `hotpapers run` would
    carry them (13 MB) before its first ingest. So the session and the signal hub load when something first talks
    to the network (or when `run` and `status` ask for the signal hub's health), the arXiv API client with the first
    metadata fetch, the feed reader with the first ingest."""

    def __init__(self, config: Config, clock: Clock, metrics: Metrics | None) -> None:
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self.http: aiohttp.ClientSession | None = None
        self._gate: PacingGate | None = None
        self._hub: SignalHub | None = None
        self._metadata: ArxivApiSource | None = None
        self._feed: ArxivRssSource | None = None

    def session(self) -> aiohttp.ClientSession:
        if self.http is None:
            import aiohttp

            self.http = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self.http

    def _arxiv_gate(self) -> PacingGate:
        """One gate for the API and the feed: arXiv's 1 request per 3 s is shared by both."""
        if self._gate is None:
            from bot.sources.pacing import PacingGate

            self._gate = PacingGate(self._config.arxiv.delay_seconds)
        return self._gate

    def hub(self) -> SignalHub:
        if self._hub is None:
            from bot.runtime.signal_sources import hub_from_config

            hub = hub_from_config(self._config.signals, session=self.session(), clock=self._clock)
            if self._metrics is not None:
                hub.on_error = self._metrics.source_error
            self._hub = hub
        return self._hub

    def signal_health(self) -> list[Any]:
        """The signal hub's health report; before anything needed the hub, what it would report (each source on or
        off, nothing tried yet), without building it: `/healthz` on an idle `run` loads no source."""
        if self._hub is not None:
            return self._hub.health()
        from bot.runtime.signal_sources import health_before_use

        return health_before_use(self._config.signals)

    def metadata(self) -> ArxivApiSource:
        if self._metadata is None:
            from bot.sources.arxiv_api import ArxivApiSource

            self._metadata = ArxivApiSource.from_config(self._config.arxiv, gate=self._arxiv_gate())
        return self._metadata

    def feed(self) -> ArxivRssSource:
        if self._feed is None:
            from bot.sources.arxiv_rss import ArxivRssSource

            self._feed = ArxivRssSource.from_config(self.session(), self._config.arxiv, gate=self._arxiv_gate())
        return self._feed

    def made(self) -> tuple[SignalHub | None, ArxivApiSource | None, ArxivRssSource | None]:
        """The hub, the API client and the feed reader that exist so far (None: not needed yet)."""
        return self._hub, self._metadata, self._feed

    def any_signal_enabled(self) -> bool:
        return any(section.enabled for section in self._config.signals.values())

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.close()


class _LazyMetadata:
    def __init__(self, network: Network) -> None:
        self._network = network

    @property
    def requests(self) -> int:
        made = self._network.made()[1]
        return made.requests if made is not None else 0

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        return await self._network.metadata().fetch(ids)


class _LazyFeed:
    def __init__(self, network: Network) -> None:
        self._network = network

    @property
    def requests(self) -> int:
        made = self._network.made()[2]
        return made.requests if made is not None else 0

    async def announcements(self, categories: Sequence[str], day: date | None = None) -> list[Announcement]:
        return await self._network.feed().announcements(categories, day)


class _LazySignals:
    """The signal hub once something needs it; before that nothing failed, and with every source off nothing is
    ever asked (no session is made for it)."""

    def __init__(self, network: Network) -> None:
        self._network = network

    async def refresh(self, papers: Sequence[Paper], day: date) -> object:
        if self._network.made()[0] is None and not self._network.any_signal_enabled():
            return SimpleNamespace(readings={}, summaries={}, unavailable=())
        return await self._network.hub().refresh(papers, day)

    def unavailable(self) -> tuple[str, ...]:
        hub = self._network.made()[0]
        return hub.unavailable() if hub is not None else ()

    def health(self) -> list[Any]:
        return self._network.signal_health()


@dataclass
class App:
    """Everything `build` made, closed together by `async with` / `aclose()`."""

    config: Config
    engine: AsyncEngine
    service: HotPapers
    operations: Operations
    clock: Clock
    network: Network | None = None
    sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)

    @property
    def signals(self) -> SignalHub | None:
        """The signal hub (made now if nothing needed it yet); None offline."""
        return self.network.hub() if self.network is not None else None

    def signal_health(self) -> list[Any]:
        """Each signal source's health (`Network.signal_health`), without building the hub; [] offline."""
        return self.network.signal_health() if self.network is not None else []

    @property
    def http(self) -> aiohttp.ClientSession | None:
        return self.network.http if self.network is not None else None

    def uow(self) -> UnitOfWork:
        assert self.sessions is not None
        return UnitOfWork(self.sessions)

    async def aclose(self) -> None:
        if self.network is not None:
            await self.network.aclose()
        await self.engine.dispose()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def build(
    config: Config,
    *,
    clock: Clock | None = None,
    offline: bool = False,
    migrate: bool = True,
    schema: str | None = None,
    metrics: Metrics | None = None,
) -> App:
    """Build the engine. `offline` leaves out every network source (demo, tests of the core)."""
    clock = clock or SystemClock()
    db = config.database
    engine = create_engine(db.url, echo=db.echo, pool_size=db.pool_size, schema=schema or db.schema_name or None)
    try:
        if migrate:
            await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    def new_uow() -> UnitOfWork:
        return UnitOfWork(sessions)

    network: Network | None = None
    llm: Summarizer | None = None
    guard = LookupGuard(
        clock,
        LookupPolicy(
            per_user_per_hour=config.arxiv.lookups_per_user_per_hour,
            missing_for=timedelta(hours=config.arxiv.missing_paper_hours),
        ),
    )
    ingestor = Ingestor(new_uow, clock, guard=guard)
    if not offline:
        network = Network(config, clock, metrics)
        ingestor = Ingestor(
            new_uow,
            clock,
            metadata=_LazyMetadata(network),
            feed=_LazyFeed(network),
            signals=_LazySignals(network),
            guard=guard,
        )
        if config.llm.enabled:
            from bot.sources.llm import LLMSummarizer

            llm = LLMSummarizer(config.llm, session=network.session(), clock=clock)
    context = CardContext(ranking_weights(config), config.summaries, WindowCache(), llm)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    policy = PostingPolicy(
        lease=timedelta(seconds=config.digest.lease_seconds),
        backoff_seconds=config.digest.backoff_seconds,
        backoff_max_seconds=config.digest.backoff_max_seconds,
        starts_at_once=starts_at_once(config.database.pool_size),
        writes_at_once=writes_at_once(config.database.pool_size),
    )
    service = HotPapers(
        new_uow,
        config=config,
        clock=clock,
        context=context,
        ingestor=ingestor,
        holder=holder,
        metrics=metrics,
        policy=policy,
        discussions=Discussions(new_uow, clock=clock, context=context, holder=holder, policy=policy),
        vote_lanes=writers(engine, config.database.vote_lanes, pool_size=config.database.pool_size),
    )
    operations = Operations(new_uow, config=config, clock=clock, ingestor=ingestor)
    return App(config, engine, service, operations, clock, network, sessions)
