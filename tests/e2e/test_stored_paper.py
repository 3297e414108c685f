"""`hotpapers paper REF` for a paper stored in SQLite is answered by the stdlib-`sqlite3` reader
(bot/runtime/stored_paper.py) with the card the full stack gives — the same dataclass, the same JSON, the same
terminal panel — and whatever needs more than reading that card (a paper not stored, a newer version, stale
signals to refresh, a summary to ask the LLM for, a database to migrate, PostgreSQL) is left to the full stack."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adapters.console.render import paper_panel
from bot.domain.clock import FrozenClock
from bot.domain.config import Config
from bot.domain.model import ChannelRef, PaperCard, ReplyEvent, Signal, Summary, VoteEvent
from bot.runtime.bootstrap import App, build
from bot.runtime.json_view import card_json
from bot.runtime.sample import load_sample
from bot.runtime.stored_paper import stored_card
from tests.conftest import SAMPLE_DAY
from tests.fakes.recording_publisher import MemoryPlatform, RecordingPublisher

CLOSED = "http://127.0.0.1:9"
HERE = ChannelRef("discord", "G1", "C1", "#ml-papers")
THERE = ChannelRef("slack", "T1", "C2", "#reading")
NEVER_SEEN = ChannelRef("console", "local", "nobody-here")
NOT_STORED = "2101.00001"


def _config(url: str, **sections: Any) -> Config:
    """The CLI's setting for these tests: arXiv at a closed port, every signal source off unless `sections` says."""
    return Config.model_validate(
        {
            "database": {"url": url},
            "arxiv": {"api_url": f"{CLOSED}/api/query", "rss_url": f"{CLOSED}/rss/"},
            "signals": {name: {"enabled": False} for name in ("hf", "hn", "bluesky", "s2")},
            **sections,
        }
    )


@dataclass
class Stored:
    app: App
    config: Config
    clock: FrozenClock
    top: str
    """The paper the busy channels posted first, voted on, summarised and discussed."""
    path: Path


@pytest.fixture
async def stored(fresh_sqlite: Callable[[str], str], clock: FrozenClock) -> AsyncIterator[Stored]:
    """The sample, posted in two channels' digests, with votes in each, a community summary and a discussion."""
    url = fresh_sqlite("stored.db")
    config = _config(url)
    platform = MemoryPlatform()
    async with await build(config, clock=clock) as app:  # online, as the CLI builds it
        await load_sample(app.uow, now=clock.now())
        messages: dict[ChannelRef, list[tuple[str, str]]] = {}
        for channel in (HERE, THERE):
            publisher = RecordingPublisher(channel.platform, world=platform)
            await app.service.post_digest(channel, SAMPLE_DAY, publisher)
            messages[channel] = [
                (call.entry.card.paper.id, call.message.message_id) for call in publisher.calls if call.entry
            ]
        top, message = messages[HERE][0]
        for user, value in (("u1", 1), ("u2", 1), ("u3", -1)):
            await app.service.record_vote(VoteEvent(HERE, user, message, value, reaction="👍" if value > 0 else "👎"))
        await app.service.record_vote(VoteEvent(THERE, "u9", messages[THERE][1][1], 1, reaction="+1"))
        await app.service.add_summary(top, HERE, author="Ada", text="Edge masks show which GNN edges matter.")
        opened = await app.service.discuss(HERE, top, RecordingPublisher(HERE.platform, world=platform))
        for n, user in enumerate(("ada", "bob", "ada")):
            await app.service.record_reply(ReplyEvent(HERE, opened.thread_id, f"r{n}", user))
        yield Stored(app, config, clock, top, Path(url.removeprefix("sqlite+aiosqlite:///")))


def _shown(card: PaperCard) -> tuple[str, str]:
    """The card as `hotpapers paper --json` and `hotpapers paper` print it."""
    out = StringIO()
    Console(file=out, width=100, highlight=False).print(paper_panel(card))
    return json.dumps(card_json(card), ensure_ascii=False, indent=2), out.getvalue()


@pytest.mark.parametrize("channel", [None, HERE, THERE, NEVER_SEEN], ids=["everywhere", "here", "there", "unseen"])
async def test_a_stored_paper_read_with_sqlite3_is_the_card_the_full_stack_gives(
    stored: Stored, channel: ChannelRef | None
) -> None:
    papers = [stored.top, "1611.03530", "2010.00402"]  # the busy one, one with a sample summary, one without
    for paper_id in papers:
        for ref in (paper_id, f"{paper_id}v1", f"https://arxiv.org/abs/{paper_id}"):
            fast = await stored_card(stored.config, ref, channel, clock=stored.clock)
            full = await stored.app.service.paper(ref, channel)
            assert fast is not None, "the sqlite3 reader answered"
            assert fast == full
            assert _shown(fast) == _shown(full)
    busy = await stored_card(stored.config, stored.top, HERE, clock=stored.clock)
    assert busy is not None  # the fixture made what the comparison covers
    assert (busy.votes.up, busy.votes.down) == (2, 1) and busy.summary.source == "community"
    assert busy.posted_count == 2 and busy.discussed and busy.discussed[0].people == 2


async def test_whatever_needs_more_than_a_stored_card_is_left_to_the_full_stack(stored: Stored) -> None:
    config, clock = stored.config, stored.clock
    assert await stored_card(config, NOT_STORED, None, clock=clock) is None  # arXiv would be asked
    assert await stored_card(config, f"{stored.top}v2", None, clock=clock) is None  # a newer version, likewise
    echoing = _config(config.database.url, database={"url": config.database.url, "echo": True})  # SQL in the log
    assert await stored_card(echoing, stored.top, None, clock=clock) is None
    postgres = _config("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert await stored_card(postgres, stored.top, None, clock=clock) is None
    missing = _config(f"sqlite+aiosqlite:///{stored.path.parent / 'missing.db'}")
    assert await stored_card(missing, stored.top, None, clock=clock) is None
    assert not (stored.path.parent / "missing.db").exists()  # the full stack creates it, not the reader


async def test_stale_signals_are_refreshed_by_the_full_stack_and_fresh_ones_are_read(stored: Stored) -> None:
    with_hn = _config(stored.config.database.url, signals={"hn": {"enabled": True, "base_url": CLOSED}})
    assert await stored_card(with_hn, stored.top, None, clock=stored.clock) is None  # 2020's counts: stale
    async with stored.app.uow() as uow:
        await uow.signals.add([(stored.top, Signal("hn", 120, "HN 120 pts", stored.clock.now(), None))])
        await uow.commit()
    fresh = await stored_card(with_hn, stored.top, None, clock=stored.clock)
    assert fresh is not None and any(s.source == "hn" for s in fresh.signals)


async def test_an_llm_summary_is_read_when_cached_and_asked_for_by_the_full_stack_when_not(stored: Stored) -> None:
    with_llm = _config(stored.config.database.url, llm={"enabled": True, "base_url": CLOSED, "model": "tiny-1"})
    plain = "2010.00402"  # no stored summary: the LLM would be asked
    assert await stored_card(with_llm, plain, None, clock=stored.clock) is None
    async with stored.app.uow() as uow:
        paper = await uow.papers.get(plain)
        assert paper is not None
        cached = Summary(text="An LLM's words.", source="llm", created=stored.clock.now(), model="tiny-1")
        await uow.summaries.add(plain, cached, version=paper.version)
        await uow.commit()
    card = await stored_card(with_llm, plain, None, clock=stored.clock)
    assert card is not None and card.summary.source == "llm" and card.summary.text == "An LLM's words."


async def test_a_database_behind_the_newest_migration_is_left_to_the_full_stack(stored: Stored) -> None:
    assert await stored_card(stored.config, stored.top, None, clock=stored.clock) is not None
    with sqlite3.connect(stored.path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert await stored_card(stored.config, stored.top, None, clock=stored.clock) is None
