"""The use cases of `HotPapers` on the in-memory unit of work: channel settings, pauses, summaries, votes, digests
and cards, without a database. (tests/storage runs the same engine on SQLite and PostgreSQL.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest

from bot.app.votes import ATTEMPTS
from bot.domain.channel_settings import SettingsChange
from bot.domain.clock import FrozenClock
from bot.domain.errors import BadInput, NotFound
from bot.domain.messages import summary_author
from bot.domain.model import ChannelRef, ChannelSettings, Paper, VoteEvent
from bot.domain.vote_rules import VotesChanged
from bot.runtime.sample import load_sample
from bot.storage.summaries import REPORTS_TO_HIDE
from tests.conftest import SAMPLE_DAY
from tests.engine import fake_uow
from tests.engine.conftest import Engine, make_engine
from tests.fakes.recording_publisher import RecordingPublisher, refused

CHANNEL = ChannelRef("console", "local", "ml-papers", "#ml-papers")
OTHER = ChannelRef("console", "local", "other", "#other")
SUMMARISED = "1611.03530"
"""A sample paper with a ShortScience summary."""


# ── channel settings ────────────────────────────────────────────────────────────────────────────────────────────


async def test_subscribe_stores_the_options_and_settings_reads_them_back(engine: Engine) -> None:
    changed: list[tuple[ChannelRef, ChannelSettings]] = []
    engine.service.on_settings_changed(lambda channel, settings: changed.append((channel, settings)))

    settings = await engine.service.subscribe(CHANNEL, {"top": "3", "time": "07:30", "tz": "Europe/Berlin"}, by="U1")

    assert (settings.top_n, settings.post_time, settings.timezone, settings.subscribed) == (
        3,
        "07:30",
        "Europe/Berlin",
        True,
    )
    assert await engine.service.settings(CHANNEL) == settings
    assert changed == [(CHANNEL, settings)]
    async with engine.db.uow() as uow:
        stored = await uow.channels.find(CHANNEL)
    assert stored is not None and stored.subscribed_by == "U1" and stored.ref.name == "#ml-papers"


async def test_a_typed_change_applies_like_typed_text(engine: Engine) -> None:
    settings = await engine.service.subscribe(CHANNEL, SettingsChange(top_n=4))
    assert settings.top_n == 4 and settings.subscribed


async def test_a_bad_option_changes_nothing(engine: Engine) -> None:
    with pytest.raises(BadInput):
        await engine.service.subscribe(CHANNEL, {"top": "many"})
    assert engine.db.tables.channels == {}  # not even the channel's first-contact row: the unit rolled back
    assert (await engine.service.settings(CHANNEL)).subscribed is False


async def test_unsubscribe_keeps_the_settings_and_a_second_one_is_refused(engine: Engine) -> None:
    await engine.service.subscribe(CHANNEL, {"top": "2"})
    await engine.service.unsubscribe(CHANNEL)
    settings = await engine.service.settings(CHANNEL)
    assert (settings.subscribed, settings.top_n) == (False, 2)
    with pytest.raises(NotFound):
        await engine.service.unsubscribe(CHANNEL)


async def test_an_unknown_channel_has_the_configured_defaults(clock: FrozenClock) -> None:
    engine = make_engine(clock, {"digest": {"top_n": 7}})
    settings = await engine.service.settings(CHANNEL)
    assert (settings.top_n, settings.subscribed) == (7, False)


# ── pauses ──────────────────────────────────────────────────────────────────────────────────────────────────────


async def test_pausing_a_workspace_pauses_only_its_subscribed_channels(engine: Engine) -> None:
    elsewhere = ChannelRef("console", "team-b", "ml", "#ml")
    await engine.service.subscribe(CHANNEL)
    await engine.service.subscribe(elsewhere)
    await engine.service.settings(OTHER)  # seen, never subscribed

    paused = await engine.service.pause_workspace("console", "local", reason="token revoked", fix="reinstall")

    assert paused == 1
    pause = (await engine.service.settings(CHANNEL)).paused
    assert pause is not None and (pause.scope, pause.reason, pause.fix) == ("workspace", "token revoked", "reinstall")
    assert (await engine.service.settings(elsewhere)).paused is None


async def test_a_refused_channel_is_paused_told_once_and_resumed_by_subscribing(engine: Engine) -> None:
    await engine.service.subscribe(CHANNEL, by="U1")
    refusing = RecordingPublisher(script=[refused("channel", "missing access")])

    result = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, refusing)

    assert result.state == "paused" and result.pause is not None and result.pause.reason == "missing access"
    assert (await engine.service.settings(CHANNEL)).paused is not None
    told = [text for text in refusing.said if "paused the daily digest" in text]
    assert len(told) == 1 and "missing access" in told[0]

    engine.clock.advance(seconds=3600)  # within a day: the paused channel is not tried, nothing is sent
    quiet = RecordingPublisher()
    assert (await engine.service.post_digest(CHANNEL, SAMPLE_DAY, quiet)).state == "paused"
    assert quiet.calls == []

    resumed = await engine.service.subscribe(CHANNEL)
    assert resumed.paused is None and (await engine.service.settings(CHANNEL)).paused is None
    posted = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, quiet)
    assert posted.state == "resumed" and posted.posted == 5  # the header was out before the refusal
    assert quiet.said == []


# ── papers and summaries ────────────────────────────────────────────────────────────────────────────────────────


async def test_the_card_of_a_stored_paper_has_its_summary_and_signals(engine: Engine) -> None:
    card = await engine.service.paper(f"https://arxiv.org/abs/{SUMMARISED}", CHANNEL)
    assert card.paper.id == SUMMARISED
    assert card.summary.source == "community" and card.summary.author == "ShortScience"

    day_paper = "2011.02519"
    card = await engine.service.paper(day_paper)
    assert [s.source for s in card.signals] == ["tweets"]


class CountingSignals:
    """A signal source that finds nothing and counts the papers it was asked to refresh."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def refresh(self, papers: Sequence[Paper], day: date) -> object:
        self.asked += [p.id for p in papers]
        return object()

    def unavailable(self) -> tuple[str, ...]:
        return ()

    def health(self) -> list[Any]:
        return []


async def test_a_stored_paper_with_fresh_signals_is_read_and_shown_in_one_unit_of_work(clock: FrozenClock) -> None:
    signals = CountingSignals()
    engine = make_engine(clock, signals=signals, refresh_after=timedelta(days=2))
    await load_sample(engine.db.uow, now=clock.now())
    day_paper = "2011.02519"  # its tweets were counted at noon of the sample day, 21 hours before `clock`
    units = engine.db.units
    card = await engine.service.paper(day_paper, CHANNEL)
    assert engine.db.units == units + 1 and signals.asked == [] and card.signals
    clock.advance(days=2)  # now they are stale: refreshed first, then the card is read again
    await engine.service.paper(day_paper, CHANNEL)
    assert signals.asked == [day_paper] and engine.db.units > units + 2


async def test_a_paper_not_stored_is_not_found_without_arxiv(engine: Engine) -> None:
    with pytest.raises(NotFound):
        await engine.service.paper("2101.00001")


async def test_a_community_summary_is_added_voted_and_hidden_by_three_reports(engine: Engine) -> None:
    paper = "2011.02519"
    saved = await engine.service.add_summary(paper, CHANNEL, author="Ada", text="  It works.\n", author_id="U1")
    assert saved.id is not None and saved.text == "It works."
    card = await engine.service.paper(paper, CHANNEL)
    assert card.summary.id == saved.id and card.summary.provenance == "Community summary by Ada"

    assert (await engine.service.vote_summary(CHANNEL, "U2", saved.id, 1)).votes == 1
    assert (await engine.service.vote_summary(CHANNEL, "U2", saved.id, 1)).votes == 1  # one vote per person
    assert (await engine.service.vote_summary(CHANNEL, "U3", saved.id, -1)).votes == 0

    for reporter in ("U4", "U4", "U5"):  # the same person twice counts once
        card = await engine.service.report_summary(paper, CHANNEL, user_id=reporter)
    assert card.summary.id == saved.id
    card = await engine.service.report_summary(paper, CHANNEL, user_id="U6")
    assert card.summary.id != saved.id and card.summary.source == "extractive"


async def test_empty_or_oversized_summaries_are_refused_and_nothing_is_written(engine: Engine) -> None:
    commits = engine.db.commits
    with pytest.raises(BadInput):
        await engine.service.add_summary("2011.02519", CHANNEL, author="Ada", text=" \n ")
    with pytest.raises(BadInput):
        await engine.service.add_summary("2011.02519", CHANNEL, author="Ada", text="x" * 10_000)
    assert engine.db.commits == commits


async def test_the_fake_hides_summaries_at_the_storage_threshold() -> None:
    assert fake_uow.REPORTS_TO_HIDE == REPORTS_TO_HIDE


# ── digests and votes ───────────────────────────────────────────────────────────────────────────────────────────


async def test_a_digest_is_posted_once_and_its_messages_take_votes(engine: Engine) -> None:
    await engine.service.subscribe(CHANNEL, {"top": "3"})
    preview = await engine.service.digest(CHANNEL, SAMPLE_DAY)
    publisher = RecordingPublisher()

    result = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)

    assert result.state == "posted" and result.posted == 3
    assert publisher.published_ids() == [entry.card.paper.id for entry in preview.entries]
    again = await engine.service.post_digest(CHANNEL, SAMPLE_DAY, RecordingPublisher())
    assert again.state == "done-before"

    first = publisher.calls[-3]
    assert first.entry is not None
    message, paper = first.message.message_id, first.entry.card.paper.id
    vote = VoteEvent(CHANNEL, "U1", message, 1, event_id="e1", reaction="👍")
    tally = await engine.service.record_vote(vote)
    assert tally is not None and (tally.up, tally.down) == (1, 0)
    assert await engine.service.record_vote(vote) is None  # a retried delivery
    assert await engine.service.record_vote(VoteEvent(CHANNEL, "B", message, 1, by_bot=True)) is None
    assert await engine.service.record_vote(VoteEvent(CHANNEL, "U2", "not-ours", 1)) is None
    tally = await engine.service.record_vote(VoteEvent(CHANNEL, "U2", message, -1, event_id="e2", reaction="👎"))
    assert tally is not None and (tally.up, tally.down) == (1, 1)

    top = await engine.service.top(CHANNEL)
    assert [card.paper.id for card in top] == [paper]
    assert (await engine.service.paper(paper, CHANNEL)).posted[0].channel == CHANNEL


async def test_a_vote_group_whose_votes_changed_before_its_write_is_read_and_applied_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a group only if nothing it read changed meanwhile (`VotesChanged` otherwise, nothing
    written): the group is read again and applied once; a group that keeps losing fails after `ATTEMPTS`."""
    await engine.service.subscribe(CHANNEL, {"top": "1"})
    publisher = RecordingPublisher()
    await engine.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    message = publisher.calls[-1].message.message_id
    apply_many, failures = fake_uow.FakeVoteBatches.apply_many, [1]

    async def losing_first(self: fake_uow.FakeVoteBatches, *args: Any, **kwargs: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise VotesChanged("another writer first")
        return await apply_many(self, *args, **kwargs)

    monkeypatch.setattr(fake_uow.FakeVoteBatches, "apply_many", losing_first)
    tally = await engine.service.record_vote(VoteEvent(CHANNEL, "U1", message, 1, event_id="e1", reaction="👍"))
    assert tally is not None and (tally.up, tally.down) == (1, 0) and failures == [0]
    failures[0] = ATTEMPTS
    with pytest.raises(VotesChanged):
        await engine.service.record_vote(VoteEvent(CHANNEL, "U2", message, 1, event_id="e2", reaction="👍"))
    tally = await engine.service.record_vote(VoteEvent(CHANNEL, "U2", message, 1, event_id="e2", reaction="👍"))
    assert tally is not None and (tally.up, tally.down) == (2, 0)  # the failed group left nothing behind


async def test_clearing_reactions_removes_their_votes(engine: Engine) -> None:
    await engine.service.subscribe(CHANNEL, {"top": "1"})
    publisher = RecordingPublisher()
    await engine.service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    message = publisher.calls[-1].message.message_id
    await engine.service.record_vote(VoteEvent(CHANNEL, "U1", message, 1, reaction="👍"))
    await engine.service.record_vote(VoteEvent(CHANNEL, "U2", message, 1, reaction="🔥"))

    tally = await engine.service.clear_reactions(CHANNEL, message, "🔥")

    assert tally is not None and (tally.up, tally.down) == (1, 0)
    assert await engine.service.clear_reactions(CHANNEL, "not-ours") is None


async def test_a_button_vote_names_its_paper_and_forget_user_removes_votes_and_summaries(engine: Engine) -> None:
    paper = "2011.02519"
    tally = await engine.service.record_vote(VoteEvent(CHANNEL, "U1", "card", 1, paper_id=paper))
    assert tally is not None and tally.up == 1
    await engine.service.add_summary(
        paper, CHANNEL, author="Ada", text="Short.", author_id=summary_author("console", "U1")
    )
    await engine.service.record_vote(VoteEvent(OTHER, "U1", "card", -1, paper_id=paper))

    assert await engine.service.forget_user("console", "U1") == 3

    card = await engine.service.paper(paper)
    assert (card.votes.up, card.votes.down) == (0, 0) and card.summary.source != "community"


async def test_a_digest_preview_writes_nothing(engine: Engine) -> None:
    commits = engine.db.commits
    digest = await engine.service.digest(CHANNEL)
    assert digest.day == SAMPLE_DAY and digest.entries
    assert engine.db.commits == commits and engine.db.tables.channels == {}


async def test_a_day_without_papers_is_not_announced(engine: Engine) -> None:
    later = SAMPLE_DAY + timedelta(days=3)  # a Monday after the sample's last day
    digest = await engine.service.digest(CHANNEL, later)
    assert digest.entries == () and not digest.announced and not digest.ingested


async def test_regenerating_needs_an_llm_and_top_checks_its_days(engine: Engine) -> None:
    with pytest.raises(BadInput, match="no LLM is configured"):
        await engine.service.regenerate_summary(SUMMARISED, CHANNEL)
    with pytest.raises(BadInput, match="days must be between 1 and 365"):
        await engine.service.top(CHANNEL, days=0)
    assert await engine.service.top(CHANNEL) == []  # a channel never seen has no votes


async def test_a_newer_version_than_the_stored_one_is_not_found_without_arxiv(engine: Engine) -> None:
    with pytest.raises(NotFound, match="v1 is the only version"):
        await engine.service.paper(f"{SUMMARISED}v9")
