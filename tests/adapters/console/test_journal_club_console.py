"""`/journalclub start|vote|close|history` in the console REPL, and the journal-club section of `make demo`."""

from __future__ import annotations

import io

from rich.console import Console

from adapters.console.demo import run_demo
from adapters.console.repl import ConsoleSession
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef

LAB = ChannelRef("console", "local", "lab", "#lab")


def session_on(service: HotPapers, channel: ChannelRef = LAB, user: str = "ada") -> tuple[ConsoleSession, io.StringIO]:
    out = io.StringIO()
    return ConsoleSession(service, Console(file=out, width=400), channel=channel, user=user), out


async def test_a_poll_from_start_to_winner_with_a_changed_vote_and_history(hotpapers: HotPapers) -> None:
    session, out = session_on(hotpapers)
    await session.handle("/post")
    await session.handle("/vote 4 up")  # this channel's votes put the 4th entry first in the poll
    await session.handle("/journalclub start candidates=3 closes=36h")
    shown = out.getvalue()
    assert "📚 Journal club: which paper do we read together? Vote until Sun 2020-11-08 21:00 UTC (poll #1)." in shown
    assert "Started journal-club poll #1" in shown
    poll = await hotpapers.journal_club_poll(LAB)
    assert poll is not None and len(poll.options) == 3
    for n, option in enumerate(poll.options, 1):  # full titles and links above the short answers
        assert f"{n}. {option.title} — https://arxiv.org/abs/{option.paper_id}" in shown
    await session.handle("/journalclub start")
    assert "A journal-club poll is already open here (it closes Sun 2020-11-08 21:00 UTC)" in out.getvalue()
    await session.handle("/journalclub vote 1")
    await session.handle("/journalclub vote 2")
    assert "(changed from 1)" in out.getvalue()
    await session.handle("/journalclub close")
    winner = poll.options[1]
    announced = (
        f"📚 Journal club (poll #1): we read “{winner.title}” (arXiv:{winner.paper_id}), chosen with 1 of 1 vote."
    )
    assert announced in out.getvalue()
    assert (
        f"🧵 Journal club: {winner.title} — Discuss “{winner.title}” (arXiv:{winner.paper_id}) here." in out.getvalue()
    )
    await session.handle("/journalclub history")
    assert f"2020-11-07 · arXiv:{winner.paper_id} · {winner.title} · 1 of 1 vote" in out.getvalue()


async def test_journalclub_answers_mistakes_with_a_usage_line(hotpapers: HotPapers) -> None:
    session, out = session_on(hotpapers)
    await session.handle("/journalclub close")
    assert "✗ There is no open journal-club poll here; /journalclub start begins one." in out.getvalue()
    await session.handle("/journalclub vote 1")
    assert "✗ no journal-club poll was started in this session" in out.getvalue()
    for line in ("/journalclub", "/journalclub start when=now", "/journalclub start candidates=11"):
        await session.handle(line)
    shown = out.getvalue()
    assert shown.count("usage: /journalclub start [candidates=5] [closes=48h]") == 2
    assert "candidates must be a whole number from 2 to 10 (got '11')" in shown
    await session.handle("/journalclub start closes=1000h")
    assert "closes (1 to 768 hours" in out.getvalue()
    await session.handle("/journalclub history")
    assert "No journal-club poll has closed here yet" in out.getvalue()
    elsewhere, said = session_on(hotpapers, ChannelRef("slack", "T1", "C1"))
    await elsewhere.handle("/journalclub start")
    assert "/journalclub start posts to console channels only" in said.getvalue()


async def test_the_demo_ends_with_a_poll_and_its_winner() -> None:
    out = io.StringIO()
    await run_demo(Console(file=out, width=400))
    shown = out.getvalue()
    assert "7) /journalclub start candidates=3 closes=24h" in shown
    assert "(changed from 1)" in shown
    assert "3 papers tied at 1 vote: the tie was broken by this channel's votes" in shown
    assert "/journalclub history:" in shown and "after a tie" in shown
    assert "🧵 Journal club: " in shown
