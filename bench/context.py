"""What a run of benchmarks shares: the PostgreSQL URL and the big corpus, generated at most once per run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.common import say
from bench.data import Corpus, drop_schema, load_corpus
from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.domain.ports import Clock
from bot.runtime.bootstrap import App, build

CORPUS_SCHEMA = "bench"


class BenchContext:
    def __init__(self, url: str, *, reuse: bool = False) -> None:
        self.url = url
        self.reuse = reuse
        self._corpus: Corpus | None = None

    async def corpus(self) -> Corpus:
        """The 1,000,000-paper corpus in schema `bench` (made on first use in this run)."""
        if self._corpus is None:
            say("  preparing the corpus (1,000,000 papers, 5,000,000 votes) in PostgreSQL …")
            self._corpus = await load_corpus(self.url, schema=CORPUS_SCHEMA, reuse=self.reuse)
        return self._corpus

    async def app(
        self,
        *,
        schema: str | None,
        url: str | None = None,
        clock: Clock | None = None,
        now: datetime | None = None,
        **config: Any,
    ) -> App:
        """The engine, built by the real composition root, offline (no network sources)."""
        data = {"database": {"url": url or self.url, **config.pop("database", {})}, **config}
        clock = clock or FrozenClock(now or datetime.now().astimezone())
        return await build(parse_config(data), clock=clock, offline=True, schema=schema)

    async def close(self) -> None:
        """Drop the corpus unless it is to be reused by the next run (`--reuse`): it takes about 2 GB."""
        if self._corpus is not None and not self.reuse:
            await drop_schema(self.url, CORPUS_SCHEMA)
            say(f"\ndropped schema {CORPUS_SCHEMA!r} (run with --reuse to keep it for the next run)")
