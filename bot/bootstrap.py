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

from bot.cards import CardContext, Summarizer
from bot.clock import SystemClock
from bot.config import Config
from bot.digest import PostingPolicy
from bot.discussion import Discussions
from bot.ingest import Ingestor
from bot.lookups import LookupGuard, LookupPolicy
from bot.model import Announcement, Paper
from bot.operations import Operations
from bot.ports import Clock
from bot.ranking import RankingWeights
from bot.service import HotPapers
from bot.storage.database import create_engine, upgrade
from bot.storage.uow import UnitOfWork

if TYPE_CHECKING:  # loaded when first needed: prometheus with `run`, the network stack with the first request
    import aiohttp

    from bot.metrics import Metrics
    from bot.signals import SignalHub
    from bot.sources.arxiv_api import ArxivApiSource
    from bot.sources.arxiv_rss import ArxivRssSource

USER_AGENT = "hotpapers/0.1 (+https://github.com/hotpapers/hotpapers)"


class Network:
    """The HTTP session and every network source, made on first use.

    Importing aiohttp, the `arxiv` package and feedparser costs more than a whole `hotpapers paper` answer for a
    stored paper whose signals are fresh, which needs none of them; so they load when something first talks to
    the network (or when `run` and `status` ask for the signal hub)."""

    def __init__(self, config: Config, clock: Clock, metrics: Metrics | None) -> None:
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self.http: aiohttp.ClientSession | None = None
        self._parts: tuple[SignalHub, ArxivApiSource, ArxivRssSource] | None = None

    @property
    def built(self) -> bool:
        return self._parts is not None

    def parts(self) -> tuple[SignalHub, ArxivApiSource, ArxivRssSource]:
        if self._parts is None:
            import aiohttp

            from bot.signals import SignalHub
            from bot.sources.arxiv_api import ArxivApiSource
            from bot.sources.arxiv_rss import ArxivRssSource
            from bot.sources.pacing import PacingGate

            self.http = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
            gate = PacingGate(self._config.arxiv.delay_seconds)
            hub = SignalHub.from_config(self._config.signals, session=self.http, clock=self._clock)
            if self._metrics is not None:
                hub.on_error = self._metrics.source_error
            metadata = ArxivApiSource.from_config(self._config.arxiv, gate=gate)
            feed = ArxivRssSource.from_config(self.http, self._config.arxiv, gate=gate)
            self._parts = (hub, metadata, feed)
        return self._parts

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
        return self._network.parts()[1].requests if self._network.built else 0

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        return await self._network.parts()[1].fetch(ids)


class _LazyFeed:
    def __init__(self, network: Network) -> None:
        self._network = network

    @property
    def requests(self) -> int:
        return self._network.parts()[2].requests if self._network.built else 0

    async def announcements(self, categories: Sequence[str], day: date | None = None) -> list[Announcement]:
        return await self._network.parts()[2].announcements(categories, day)


class _LazySignals:
    """The signal hub once something needs it; before that nothing failed, and with every source off nothing is
    ever asked (no session is made for it)."""

    def __init__(self, network: Network) -> None:
        self._network = network

    async def refresh(self, papers: Sequence[Paper], day: date) -> object:
        if not self._network.built and not self._network.any_signal_enabled():
            return SimpleNamespace(readings={}, summaries={}, unavailable=())
        return await self._network.parts()[0].refresh(papers, day)

    def unavailable(self) -> tuple[str, ...]:
        return self._network.parts()[0].unavailable() if self._network.built else ()

    def health(self) -> list[Any]:
        return self._network.parts()[0].health()


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
        return self.network.parts()[0] if self.network is not None else None

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


def ranking_weights(config: Config) -> RankingWeights:
    """`[ranking]` and each signal's weight, as the ranking takes them."""
    rc = config.ranking
    return RankingWeights(
        half_life_hours=rc.half_life_hours,
        vote_weight=rc.vote_weight,
        follow_bonus=rc.follow_bonus,
        keyword_bonus=rc.keyword_bonus,
        taste_cap=rc.taste_cap,
        taste_rate=rc.taste_rate,
        discussion_weight=rc.discussion_weight,
        discussion_cap=rc.discussion_cap,
        signal_weights={name: cfg.weight for name, cfg in config.signals.items()},
    )


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

            network.parts()
            assert network.http is not None
            llm = LLMSummarizer(config.llm, session=network.http, clock=clock)
    context = CardContext(ranking_weights(config), config.summaries, llm)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    policy = PostingPolicy(
        lease=timedelta(seconds=config.digest.lease_seconds),
        backoff_seconds=config.digest.backoff_seconds,
        backoff_max_seconds=config.digest.backoff_max_seconds,
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
    )
    operations = Operations(new_uow, config=config, clock=clock, ingestor=ingestor)
    return App(config, engine, service, operations, clock, network, sessions)
