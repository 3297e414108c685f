"""`hotpapers demo`: the whole engine offline on the bundled sample data, in a temporary SQLite database."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from adapters.console.publisher import ConsolePublisher
from adapters.console.render import digest_table, paper_panel
from adapters.console.repl import run_repl
from bot.app.service import HotPapers
from bot.domain.clock import FrozenClock
from bot.domain.config import Config, DatabaseConfig
from bot.domain.messages import history_lines, poll_vote_receipt, roundup_result
from bot.domain.model import ChannelRef, ReplyEvent, VoteEvent
from bot.runtime.bootstrap import App, build
from bot.runtime.sample import SIGNAL_NOTE, load_sample, sample_days

DEMO_NOW = datetime(2020, 11, 7, 9, 0, tzinfo=UTC)
"""The morning after the last sample announcement, so the demo is the same on every machine."""
DEMO_PAPER = "1704.01212"


@asynccontextmanager
async def sample_app(config: Config | None = None) -> AsyncIterator[App]:
    """The engine, offline, on the sample data in a temporary SQLite database that is removed afterwards."""
    clock = FrozenClock(DEMO_NOW)
    with tempfile.TemporaryDirectory(prefix="hotpapers-demo-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"
        settings = (config or Config()).model_copy(update={"database": DatabaseConfig(url=url)})
        async with await build(settings, clock=clock, offline=True) as app:
            await load_sample(app.uow, now=clock.now())
            yield app


async def run_sample_repl(console: Console, config: Config | None, *, channel: ChannelRef, user: str) -> None:
    async with sample_app(config) as app:
        await run_repl(app.service, console, channel=channel, user=user)


async def run_demo(console: Console, config: Config | None = None) -> None:
    async with sample_app(config) as app:
        service = app.service
        days = sample_days()
        channel = ChannelRef("console", "demo", "ml-papers", "#ml-papers")
        await service.subscribe(channel, {"categories": "cs,stat.ML", "top_n": "5"})
        console.print(Rule(f"hotpapers demo — {sum(len(d.papers) for d in days)} sample papers, offline"))
        console.print(Text(SIGNAL_NOTE, style="dim"))
        console.print(Text("1) Preview of today's digest for #ml-papers, with why each paper is hot:", style="bold"))
        console.print(digest_table(await service.digest(channel)))
        console.print(
            Text("2) Posting it: a header, then one message per paper so each can be voted on:", style="bold")
        )
        publisher = ConsolePublisher(console, prefix="console-demo")  # fixed ids: the demo prints them
        await service.post_digest(channel, None, publisher)
        console.print(
            Text(
                "3) Three people react 👍 to message 3 and one 👎 to message 1 (the votes feed the "
                "channel's ranking and /top):",
                style="bold",
            )
        )
        by_rank = {e.rank: m for m, e in publisher.posted if e is not None}
        for user in ("ada", "grace", "alan"):
            third = await service.record_vote(VoteEvent(channel, user, by_rank[3].message_id, 1))
        first = await service.record_vote(VoteEvent(channel, "ada", by_rank[1].message_id, -1))
        assert first is not None and third is not None
        console.print(f"   message 3: 👍{third.up} 👎{third.down}   message 1: 👍{first.up} 👎{first.down}")
        for rank, card in enumerate(await service.top(channel, 30), 1):
            console.print(
                Text(f"   /top {rank}. {card.paper.id}  👍{card.votes.up} 👎{card.votes.down}  ")
                + Text(card.paper.title[:70], style="italic")
            )
        console.print(Rule())
        console.print(Text(f"4) /paper {DEMO_PAPER} (with a ShortScience community summary):", style="bold"))
        console.print(paper_panel(await service.paper(DEMO_PAPER, channel)))
        console.print(Rule())
        await _thread_and_roundup(console, service, channel, publisher, by_rank[2].message_id)
        await journal_club_section(console, app, channel)
        hint = "Try it yourself, offline: .venv/bin/hotpapers console --sample   (type /help)"
        console.print(Text(hint, style="dim"))


async def _thread_and_roundup(
    console: Console, service: HotPapers, channel: ChannelRef, publisher: ConsolePublisher, message_id: str
) -> None:
    """5) A short discussion in message 2's thread, then 6) the week's roundup: votes and replies together."""
    console.print(Text("5) Discuss on message 2 opens its thread; two people reply (only who replied is kept):",
                       style="bold"))  # fmt: skip
    opened = await service.discuss(channel, message_id, publisher)
    people = 0
    for number, (user, text) in enumerate((("grace", "The ablation in §4 is convincing."), ("alan", "Agreed.")), 1):
        reply = publisher.reply(channel, opened.thread_id, user, text)
        discussion = await service.record_reply(ReplyEvent(channel, opened.thread_id, reply, user, False))
        people = discussion.people if discussion else people
        assert number == people
    console.print(f"   💬 {people} people in the thread: the paper's why-line here now says “💬 {people} here”.")
    heading = (
        "6) The week's roundup (roundup=on posts it Fridays at 16:00; /roundup now): the top papers by this "
        "channel's votes and discussion, once, with each original post:"
    )
    console.print(Text(heading, style="bold"))
    result = await service.post_roundup(channel, publisher)
    console.print(Text(roundup_result(result.state, result.roundup), style="yellow"))


async def journal_club_section(console: Console, app: App, channel: ChannelRef) -> None:
    """The journal club (issue 19): a poll over the week's top papers, a changed vote, a tie, its winner."""
    service = app.service
    console.print(Rule())
    console.print(Text("7) /journalclub start candidates=3 closes=24h — a poll over the week's top papers here "
                       "(this channel's votes, then its discussion, then hotness):", style="bold"))  # fmt: skip
    publisher = ConsolePublisher(console)
    start = await service.journal_club_start(channel, publisher, candidates=3, closes="24h", by="ada")
    assert start.message is not None
    console.print(Text("   ada votes 1, then changes her mind to 2; grace votes 3; alan votes 1:", style="bold"))
    for user, choice in (("ada", 0), ("ada", 1), ("grace", 2), ("alan", 0)):
        draft, before = await service.poll_vote(channel, start.message.message_id, user, choice)
        console.print(Text(f"   {user}: {poll_vote_receipt(draft, choice, changed_from=before)}"))
    console.print(Text("8) A day later the poll closes by itself (any replica's sweep): a three-way tie, broken by "
                       "this channel's votes:", style="bold"))  # fmt: skip
    if isinstance(app.clock, FrozenClock):
        app.clock.advance(hours=24)
    await service.close_due_polls(lambda _: publisher)
    console.print(Text("   /journalclub history:", style="bold"))
    for line in history_lines(await service.journal_club_history(channel)):
        console.print(Text(f"   {line}"))
