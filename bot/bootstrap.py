"""The composition root: Config → engine → HTTP session → sources → HotPapers. Nothing else builds clients."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cards import CardContext, Summarizer
from bot.clock import SystemClock
from bot.config import Config
from bot.digest import PostingPolicy
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.ports import Clock
from bot.ranking import RankingWeights
from bot.service import HotPapers
from bot.signals import SignalHub
from bot.sources.arxiv_api import ArxivApiSource
from bot.sources.arxiv_rss import ArxivRssSource
from bot.sources.llm import LLMSummarizer
from bot.sources.pacing import PacingGate
from bot.storage.database import create_engine, upgrade
from bot.storage.uow import UnitOfWork

USER_AGENT = "hotpapers/0.1 (+https://github.com/hotpapers/hotpapers)"


@dataclass
class App:
    """Everything `build` made, closed together by `async with` / `aclose()`."""

    config: Config
    engine: AsyncEngine
    service: HotPapers
    clock: Clock
    signals: SignalHub | None = None
    http: aiohttp.ClientSession | None = None
    sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)

    def uow(self) -> UnitOfWork:
        assert self.sessions is not None
        return UnitOfWork(self.sessions)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.close()
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

    http: aiohttp.ClientSession | None = None
    hub: SignalHub | None = None
    llm: Summarizer | None = None
    ingestor = Ingestor(new_uow, clock)
    if not offline:
        http = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        gate = PacingGate(config.arxiv.delay_seconds)
        hub = SignalHub.from_config(config.signals, session=http, clock=clock)
        if metrics is not None:
            hub.on_error = metrics.source_error
        ingestor = Ingestor(
            new_uow,
            clock,
            metadata=ArxivApiSource.from_config(config.arxiv, gate=gate),
            feed=ArxivRssSource.from_config(http, config.arxiv, gate=gate),
            signals=hub,
        )
        if config.llm.enabled:
            llm = LLMSummarizer(config.llm, session=http, clock=clock)
    rc = config.ranking
    weights = RankingWeights(
        half_life_hours=rc.half_life_hours,
        vote_weight=rc.vote_weight,
        follow_bonus=rc.follow_bonus,
        keyword_bonus=rc.keyword_bonus,
        taste_cap=rc.taste_cap,
        taste_rate=rc.taste_rate,
        signal_weights={name: cfg.weight for name, cfg in config.signals.items()},
    )
    service = HotPapers(
        new_uow,
        config=config,
        clock=clock,
        context=CardContext(weights, config.summaries, llm),
        ingestor=ingestor,
        holder=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        metrics=metrics,
        policy=PostingPolicy(
            lease=timedelta(seconds=config.digest.lease_seconds),
            backoff_seconds=config.digest.backoff_seconds,
            backoff_max_seconds=config.digest.backoff_max_seconds,
        ),
    )
    return App(config, engine, service, clock, hub, http, sessions)
