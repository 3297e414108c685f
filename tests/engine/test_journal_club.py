"""The journal club (issue 19) on the in-memory unit of work: the same use cases as tests/storage/test_journal_club.py
runs on SQLite and PostgreSQL, here without a database (the fake's poll repository keeps the same rules)."""

from __future__ import annotations

import pytest

from bot.domain.errors import BadInput
from bot.domain.model import VoteEvent
from tests.engine.conftest import Engine
from tests.storage.test_journal_club import CHANNEL, PollPlatform, Polls


async def test_start_a_changed_vote_a_tie_broken_by_hotness_and_history(engine: Engine) -> None:
    shared = PollPlatform()
    service = engine.service
    start = await service.journal_club_start(CHANNEL, Polls(shared), candidates=3, closes="1h")
    assert start.state == "started" and start.message is not None and start.draft is not None
    message = start.message.message_id
    await service.poll_vote(CHANNEL, message, "ada", 0)
    _, before = await service.poll_vote(CHANNEL, message, "ada", 1)
    draft, _ = await service.poll_vote(CHANNEL, message, "grace", 0)
    assert before == 0 and draft.counts == (1, 1, 0)
    assert (await service.journal_club_start(CHANNEL, Polls(shared))).state == "open"
    engine.clock.advance(hours=1)
    (closed,) = await service.close_due_polls(lambda _: Polls(shared))
    assert closed.outcome is not None and closed.outcome.winner.paper.id == start.draft.options[0].paper_id
    assert "the tie was broken by hotness" in closed.outcome.tie
    assert len(shared.visible("win")) == 1 and await service.close_due_polls(lambda _: Polls(shared)) == []
    (past,) = await service.journal_club_history(CHANNEL)
    assert (past.paper_id, past.votes, past.voters) == (start.draft.options[0].paper_id, 1, 2)
    assert await service.forget_user("console", "ada") == 1
    with pytest.raises(BadInput, match="closed"):
        await service.poll_vote(CHANNEL, message, "ada", 0)


async def test_a_tie_equal_on_votes_and_hotness_goes_to_the_first_answer_and_says_so(engine: Engine) -> None:
    service = engine.service
    for paper in ("1704.01212", "1611.03530"):  # no signals: the same hotness once each has one 👍 here
        await service.record_vote(VoteEvent(CHANNEL, "ada", "", 1, paper_id=paper))
    shared = PollPlatform()
    start = await service.journal_club_start(CHANNEL, Polls(shared), candidates=2)
    assert start.draft is not None
    first, second = (option.paper_id for option in start.draft.options)
    assert {first, second} == {"1704.01212", "1611.03530"}
    closed = await service.journal_club_close(CHANNEL, Polls(shared))
    assert closed.outcome is not None and closed.outcome.winner.paper.id == first
    assert closed.outcome.tie == (
        f"2 papers tied at 0 votes: the tie was broken by the order of the poll (still equal on this channel's votes "
        f"and hotness) in favour of arXiv:{first}."
    )


async def test_the_winners_card_is_scored_with_the_channels_settings_as_its_digest_would_be(engine: Engine) -> None:
    """A poll's cards are not filtered again (the papers are chosen), but followed authors and keywords still add to
    the score and say so in the why-line, as in the channel's digest — not the default settings' card."""
    service, shared = engine.service, PollPlatform()
    start = await service.journal_club_start(CHANNEL, Polls(shared), candidates=3)
    assert start.draft is not None and start.message is not None
    chosen = start.draft.options[1].paper_id
    author = (await service.paper(chosen)).paper.authors[0]
    await service.subscribe(CHANNEL, {"follow": author, "categories": "q-bio"})  # a filter the winner fails
    await service.poll_vote(CHANNEL, start.message.message_id, "ada", 1)

    closed = await service.journal_club_close(CHANNEL, Polls(shared))

    assert closed.outcome is not None and closed.outcome.winner.paper.id == chosen
    assert f"follows: {author}" in " ".join(closed.outcome.winner.why)
