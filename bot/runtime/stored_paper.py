"""`hotpapers paper REF` for a paper stored in an SQLite database, without SQLAlchemy, aiosqlite or the network.

The card is made by `HotPapers.paper` itself, the use case every adapter calls, on a unit of work that reads the
database through the stdlib `sqlite3` module (`bot.storage.sqlite_reader`). Whatever that use case would do beyond
reading a stored paper's card — fetch a paper not stored here (or a newer version) from arXiv, refresh stale signals,
ask the LLM for a summary, write anything — raises `NeedsFullPath`, and `stored_card` answers None: the CLI then
builds the full stack (`bot.runtime.bootstrap`) and asks again, so the answer is the same either way
(tests/e2e/test_stored_paper.py renders one paper both ways).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from bot.app.cards import CardContext
from bot.app.ingest import Ingestor
from bot.app.service import HotPapers
from bot.domain.clock import SystemClock
from bot.domain.config import Config
from bot.domain.model import ChannelRef, Paper, PaperCard, Summary
from bot.domain.ports import Clock, ReadModel, UnitOfWork
from bot.domain.ranking import ranking_weights
from bot.storage.sqlite_reader import NeedsFullPath, SQLiteReader


class _Elsewhere:
    """Stands for what a stored paper's card does not reach — arXiv, the signal sources, the LLM, the digests' read
    model: using it means the full stack must answer."""

    requests = 0

    def __init__(self, model: str = "") -> None:
        self.model = model  # the LLM's: a summary it cached for this model is shown without asking it

    def __getattr__(self, name: str) -> Any:
        raise NeedsFullPath(f"{name} needs the full stack")

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        raise NeedsFullPath("a paper to fetch from arXiv")

    async def refresh(self, papers: Sequence[Paper], day: date) -> object:
        raise NeedsFullPath("signals to refresh")

    async def summarize(self, paper: Paper) -> Summary:
        raise NeedsFullPath("a summary to ask the LLM for")

    def unavailable(self) -> tuple[str, ...]:
        return ()  # as before any source was asked (bootstrap's lazy signal hub)


async def stored_card(
    config: Config, ref: str, channel: ChannelRef | None, *, clock: Clock | None = None
) -> PaperCard | None:
    """The card of a stored paper, read from SQLite with the stdlib; None when the full stack must answer."""
    database = config.database
    reader = None if database.echo else SQLiteReader.open(database.url)
    if reader is None:
        return None
    clock = clock or SystemClock()
    llm = _Elsewhere(config.llm.model) if config.llm.enabled else None
    context = CardContext(ranking_weights(config), config.summaries, cast(ReadModel, _Elsewhere()), llm)

    def unit_of_work() -> UnitOfWork:
        return cast(UnitOfWork, reader.unit_of_work())  # the reads a card makes; anything else: NeedsFullPath

    # With every signal source off, the full stack's hub refreshes nothing (and asks nobody): no refresh here either.
    signals = _Elsewhere() if any(section.enabled for section in config.signals.values()) else None
    ingestor = Ingestor(unit_of_work, clock, metadata=_Elsewhere(), signals=signals)
    service = HotPapers(
        unit_of_work, config=config, clock=clock, context=context, ingestor=ingestor, holder="hotpapers paper"
    )
    try:
        return await service.paper(ref, channel)
    except NeedsFullPath:
        return None
    finally:
        reader.close()
