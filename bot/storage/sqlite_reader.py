"""A read-only unit of work on an SQLite database through the stdlib `sqlite3` module, for `hotpapers paper REF`.

Importing SQLAlchemy and aiosqlite costs a one-shot `hotpapers paper` more than everything else it does. For a stored
paper on SQLite this reads the card's inputs without them: the statements are the repositories' own, compiled to
SQL once (`bot/storage/sqlite_sql.py`, checked against them by a test), their values turned into what SQLAlchemy's
column types give (`_DECODE`), and the rows mapped by the repositories' own code (`bot/storage/rows.py`). It offers
only the reads a stored paper's card makes (`HotPapers.paper`); anything else — a write, another repository, a
database not at the head revision — raises `NeedsFullPath`, and the caller answers with the full stack instead.

The calls block: this serves one command in a process of its own, with nothing else on its event loop, and each is a
primary-key look-up on a local file.
"""

from __future__ import annotations

import json
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.domain.model import ChannelRef, Paper, PostRecord, Signal, Summary, VoteTally
from bot.domain.records import CardParts, PaperView
from bot.storage.rows import (
    counts_of,
    latest_signals,
    paper_of,
    paper_view_in_steps,
    posting_records,
    tallies_of,
    visible_summaries,
)
from bot.storage.sqlite_sql import HEAD_REVISION, STATEMENTS

SQLITE_URL = "sqlite+aiosqlite:///"
LIST_LIMIT = 500
"""Ids one list parameter may hold (as `bot.storage.dialect.list_chunk` on SQLite); a card asks for one."""


class NeedsFullPath(Exception):
    """What was asked needs more than reading a stored paper's card from SQLite: answer it with the full stack."""


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)  # as SQLAlchemy's SQLite DATETIME stores it: "2020-10-01 17:59:59.000000"
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # `UTCDateTime`


_DECODE: dict[str, Callable[[Any], Any]] = {
    "datetime": _utc,
    "date": date.fromisoformat,
    "json": json.loads,
    "bool": bool,
}
"""A stored value as SQLAlchemy's column type hands it back, by the kind `sqlite_compile` recorded for the column."""


class SQLiteReader:
    """One read-only connection to the database file; `unit_of_work()` makes the units of work `HotPapers` asks for."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._shapes: dict[str, Any] = {}

    @classmethod
    def open(cls, url: str) -> SQLiteReader | None:
        """The reader for `url`, or None when the fast path does not apply: not a plain SQLite file, a file that
        does not exist or cannot be read, a database not at the head revision (the full stack migrates it)."""
        if not url.startswith(SQLITE_URL):
            return None
        path = url.removeprefix(SQLITE_URL)
        if not path or path == ":memory:" or path.startswith("file:") or any(c in path for c in "?%#"):
            return None
        file = Path(path).resolve()
        if not file.is_file():
            return None
        try:
            connection = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None)
        except sqlite3.Error:
            return None
        reader = cls(connection)
        try:
            at = [revision for (revision,) in reader.rows("current_revision")]
        except (sqlite3.Error, NeedsFullPath):
            at = []
        if at != [HEAD_REVISION]:
            reader.close()
            return None
        return reader

    def close(self) -> None:
        self._connection.close()

    def unit_of_work(self) -> StoredPaperUnitOfWork:
        return StoredPaperUnitOfWork(self)

    def rows(self, name: str, ids: Sequence[str] = (), **values: Any) -> list[Any]:
        """Run the compiled statement `name` with `values` (and the list `ids`, for the statements that take one):
        its rows, as named tuples of the values SQLAlchemy would give."""
        sql, constants, columns, kinds = STATEMENTS[name]
        if "__[POSTCOMPILE_ids]" in sql:  # SQLAlchemy's expanding list: one parameter per id
            if not ids or len(ids) > LIST_LIMIT:
                raise NeedsFullPath(f"{len(ids)} ids in one list")
            sql = sql.replace("__[POSTCOMPILE_ids]", ", ".join(f":ids__{i}" for i in range(len(ids))))
            values |= {f"ids__{i}": paper_id for i, paper_id in enumerate(ids)}
        try:
            found = self._connection.execute(sql, constants | values).fetchall()
        except sqlite3.Error as error:
            raise NeedsFullPath(f"{name}: {error}") from None
        if not columns:  # a text statement: plain tuples
            return found
        shape: Any = self._shapes.get(name)
        if shape is None:
            shape = self._shapes[name] = namedtuple(f"{name}_row", columns, rename=True)
        decoders = [(at, _DECODE[kind]) for at, kind in enumerate(kinds) if kind]
        decoded = []
        for row in found:
            values_of = list(row)
            for at, decode in decoders:
                if values_of[at] is not None:
                    values_of[at] = decode(values_of[at])
            decoded.append(shape._make(values_of))
        return decoded


class StoredPaperReads:
    """The reads of a stored paper's card, each the repository method of the same name (`bot.domain.ports`), on the
    same statements: `Papers.get`, `Channels.id_of`, `Signals.latest`, `Votes.tallies`, `Summaries.for_papers`,
    `Posts.postings`, `Threads.people`, `CardPartsReader.read` and `.paper_view`."""

    def __init__(self, reader: SQLiteReader) -> None:
        self._reader = reader

    async def get(self, paper_id: str) -> Paper | None:
        found = self._reader.rows("paper_by_id", id=paper_id)
        return paper_of(found[0]) if found else None

    async def id_of(self, ref: ChannelRef) -> int | None:
        where = {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel}
        found = self._reader.rows("channel_id_by_ref", **where)
        return int(found[0][0]) if found else None

    async def latest(self, ids: Sequence[str]) -> dict[str, tuple[Signal, ...]]:
        return latest_signals(self._reader.rows("latest_signals", ids))

    async def tallies(self, channel_id: int | None, paper_ids: Sequence[str]) -> dict[str, VoteTally]:
        if channel_id is None:
            return tallies_of(self._reader.rows("tallies_everywhere", paper_ids))
        return tallies_of(self._reader.rows("tallies_in_channel", paper_ids, channel_id=channel_id))

    async def for_papers(self, papers: Sequence[Paper]) -> dict[str, list[Summary]]:
        versions = {p.id: p.version for p in papers}
        return visible_summaries(self._reader.rows("visible_summaries", list(versions)), versions)

    async def postings(self, paper_ids: Sequence[str]) -> dict[str, list[PostRecord]]:
        return posting_records(self._reader.rows("postings", list(dict.fromkeys(paper_ids))))

    async def people(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        return counts_of(self._reader.rows("thread_people", list(dict.fromkeys(paper_ids)), channel_id=channel_id))

    async def read(self, papers: Sequence[Paper]) -> CardParts:
        """`CardPartsRepository.read` on SQLite: the summaries, then the postings."""
        summaries = await self.for_papers(papers)
        return summaries, await self.postings([p.id for p in papers])

    async def paper_view(self, paper_id: str, channel: ChannelRef | None) -> PaperView | None:
        """`CardPartsRepository.paper_view` on SQLite (the same steps)."""
        return await paper_view_in_steps(
            paper_id,
            channel,
            get=self.get,
            id_of=self.id_of,
            latest=self.latest,
            tallies=self.tallies,
            parts=self.read,
            people=self.people,
        )


class _Repository:
    """One repository of the unit of work with only the reads named for it; any other method raises NeedsFullPath."""

    def __init__(self, reads: StoredPaperReads, *methods: str) -> None:
        for method in methods:
            setattr(self, method, getattr(reads, method))

    def __getattr__(self, name: str) -> Any:
        raise NeedsFullPath(f"{name} is not a read of a stored paper's card")


class StoredPaperUnitOfWork:
    """The unit of work of `bot.domain.ports.UnitOfWork` for the reads of a stored paper's card. Any other
    repository, or another method of these, raises `NeedsFullPath`; so nothing is written, and `commit` has nothing to
    do."""

    def __init__(self, reader: SQLiteReader) -> None:
        reads = StoredPaperReads(reader)
        self.papers = _Repository(reads, "get")
        self.channels = _Repository(reads, "id_of")
        self.signals = _Repository(reads, "latest")
        self.votes = _Repository(reads, "tallies")
        self.summaries = _Repository(reads, "for_papers")
        self.posts = _Repository(reads, "postings")
        self.threads = _Repository(reads, "people")
        self.card_parts = _Repository(reads, "read", "paper_view")

    def __getattr__(self, name: str) -> Any:
        raise NeedsFullPath(f"the {name} repository is not read by a stored paper's card")

    async def __aenter__(self) -> StoredPaperUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def read_only(self) -> None:
        return None  # the connection runs each statement by itself (autocommit), as `UnitOfWork.read_only` does

    async def commit(self) -> None:
        return None  # nothing here writes
