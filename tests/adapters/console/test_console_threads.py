"""`/thread` and `/roundup` in the console REPL, on the real engine with the sample data (issue 18)."""

from __future__ import annotations

import io

from rich.console import Console

from adapters.console.repl import ConsoleSession
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef

LAB = ChannelRef("console", "local", "lab", "#lab")


def _session(hotpapers: HotPapers, user: str, out: io.StringIO) -> ConsoleSession:
    return ConsoleSession(hotpapers, Console(file=out, width=300), channel=LAB, user=user)


async def test_replies_in_a_papers_thread_count_its_people_and_show_on_its_card(hotpapers: HotPapers) -> None:
    out = io.StringIO()
    ada, bob = _session(hotpapers, "ada", out), _session(hotpapers, "bob", out)
    await ada.handle("/post 2020-11-06")
    await ada.handle('/thread 2011.02809 "Is the <@everyone> baseline fair?"')
    await ada.handle("/thread 2011.02809 And the ablation?")
    await bob.handle("/thread arXiv:2011.02809 I think so")
    shown = out.getvalue()
    assert shown.count("🧵") == 1  # opened once, on the card posted here
    assert "↳ ada: Is the <@everyone> baseline fair?" in shown and "↳ bob: I think so" in shown
    assert "💬 1 person in the thread on arXiv:2011.02809 here." in shown
    assert "💬 2 people in the thread on arXiv:2011.02809 here." in shown
    await ada.handle("/paper 2011.02809")
    card = out.getvalue()[len(shown) :]
    assert "💬 2 here" in card and "Discussed in #lab (2 people)" in card
    await ada.handle("/thread 2010.00577 not posted here")
    assert "✗ arXiv:2010.00577 was not posted in this channel" in out.getvalue()
    await bob.handle("/forget-me")
    assert "Deleted 1 votes, summaries and thread replies by bob" in out.getvalue()


async def test_roundup_posts_the_weeks_top_papers_once(hotpapers: HotPapers) -> None:
    out = io.StringIO()
    ada = _session(hotpapers, "ada", out)
    await ada.handle("/post 2020-11-06")
    await ada.handle("/roundup")
    assert "No votes and no discussion in the week ending Sat 2020-11-07: nothing posted" in out.getvalue()
    await ada.handle("/vote 3 up")
    await ada.handle("/thread 2011.02809 worth a look")
    await ada.handle("/roundup")
    shown = out.getvalue()
    assert "📚 The week in #lab (Sun 01 Nov – Sat 07 Nov 2020): top 2 by your votes and discussion" in shown
    assert "1. " in shown and "👍1 👎0 here" in shown and "💬 1 here" in shown and "original post: message " in shown
    assert "Posted the roundup of the week ending Sat 2020-11-07 (2 papers)." in shown
    await ada.handle("/roundup")
    assert "The roundup of the week ending Sat 2020-11-07 was already posted here." in out.getvalue()
    await ada.handle("/roundup now")
    assert "✗ usage: /roundup" in out.getvalue()


async def test_thread_takes_a_digest_entry_number_like_vote(hotpapers: HotPapers) -> None:
    out = io.StringIO()
    ada = _session(hotpapers, "ada", out)
    await ada.handle("/post 2020-11-06")
    await ada.handle("/thread 5 the singing one")  # entry 5 of that day is arXiv:2011.02809
    assert "💬 1 person in the thread on arXiv:2011.02809 here." in out.getvalue()
    await ada.handle("/thread ² nope")
    assert "✗ N (a digest entry) must be a whole number from 1 to 25 (got '²')" in out.getvalue()
