"""The journal club (issue 19) on SQLite and PostgreSQL: start → votes → winner, a changed vote, ties, history,
forget_user, and exactly once across replicas (a race to close, a replica down at the close, a lost answer).

`PollPlatform` is an in-memory chat platform that replicas share; `Polls` is one replica's PollPublisher on it:
`counts=True` makes it count votes itself like Discord (the final tally comes from the poll), otherwise the core
records the votes like Slack and the console."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.clock import FrozenClock
from bot.domain.errors import BadInput, NotFound, Undeliverable, UpstreamUnavailable
from bot.domain.journal_rules import parse_closes
from bot.domain.messages import history_lines, poll_label, winner_announcement
from bot.domain.model import (
    ChannelRef,
    DigestEntry,
    PollDraft,
    PollOutcome,
    PollTally,
    PostedMessage,
    PostKey,
    ReplyEvent,
    VoteEvent,
)
from bot.domain.ports import PollPublisher
from bot.runtime.bootstrap import App
from tests.conftest import SAMPLE_NOW, MakeApp

CHANNEL = ChannelRef("console", "lab", "jc", "#journal-club")
FAST = {"digest": {"backoff_seconds": 0, "lease_seconds": 60}}


@dataclass
class Message:
    id: str
    key: PostKey | None
    text: str
    deleted: bool = False
    poll: PollDraft | None = None
    ended: bool = False
    votes: dict[str, int] = field(default_factory=dict)


@dataclass
class PollPlatform:
    messages: list[Message] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    threads: dict[str, tuple[str, str]] = field(default_factory=dict)

    def visible(self, kind: str) -> list[Message]:
        return [m for m in self.messages if not m.deleted and m.key is not None and m.key.paper.endswith(kind)]


class Polls:
    """One replica's PollPublisher. `lose_answer` makes the next post happen but its answer get lost;
    `crash_announce` makes announcing fail (the replica dies after ending the poll)."""

    platform = "console"

    def __init__(self, shared: PollPlatform, *, counts: bool = False) -> None:
        self.shared = shared
        self.counts = counts
        self.lose_answer = False
        self.crash_announce = False
        self.ended: list[str] = []
        self.outcomes: list[PollOutcome] = []
        self.gate: asyncio.Event | None = None
        self.refuse_threads = False
        self.waiting = asyncio.Event()

    def _post(self, key: PostKey | None, text: str, poll: PollDraft | None = None) -> PostedMessage:
        message = Message(f"m{next(self.shared.ids)}", key, text, poll=poll)
        self.shared.messages.append(message)
        if self.lose_answer:
            self.lose_answer = False
            raise UpstreamUnavailable("timeout: the answer was lost")
        return PostedMessage(CHANNEL, message.id)

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey) -> PostedMessage:
        return self._post(key, entry.card.paper.title)

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        return self._post(key, text)

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        found: dict[PostKey, list[str]] = {}
        for m in self.shared.messages:
            if not m.deleted and m.key in keys:
                found.setdefault(m.key, []).append(m.id)
        return found

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        self._message(message_id).deleted = True

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        return False

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        if self.refuse_threads:
            raise Undeliverable("missing permission: Create Public Threads", scope="channel", fix="grant it")
        self.shared.threads.setdefault(message_id, (name, opener))
        return f"t-{message_id}"

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        return f"message {message_id}"

    async def start_poll(self, channel: ChannelRef, draft: PollDraft, *, key: PostKey) -> PostedMessage:
        return self._post(key, "poll", draft)

    async def end_poll(self, channel: ChannelRef, message_id: str, *, final: PollDraft) -> PollTally | None:
        message = self._message(message_id)
        if message.deleted:
            raise Undeliverable("the message is gone (Unknown Message)", scope="message")
        message.ended = True
        self.ended.append(message_id)
        if not self.counts:
            return None
        assert message.poll is not None
        return PollTally(tuple(list(message.votes.values()).count(i) for i in range(len(message.poll.options))))

    async def announce_winner(self, channel: ChannelRef, outcome: PollOutcome, *, key: PostKey) -> PostedMessage:
        if self.crash_announce:
            raise asyncio.CancelledError  # the process is stopped here
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        self.outcomes.append(outcome)
        return self._post(key, winner_announcement(outcome))

    def _message(self, message_id: str) -> Message:
        return next(m for m in self.shared.messages if m.id == message_id)


async def test_a_poll_offers_the_weeks_top_papers_by_this_channels_votes_then_hotness(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    assert isinstance(publisher, PollPublisher)
    await app.service.post_digest(CHANNEL, None, publisher)
    posted = [m for m in shared.messages if m.key is not None and m.key.rank > 0]
    fifth = posted[4].id
    await app.service.record_vote(VoteEvent(CHANNEL, "ada", fifth, 1))  # the least hot paper, voted up here
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates="3")
    assert start.state == "started" and start.draft is not None
    ids = [option.paper_id for option in start.draft.options]
    preview = await app.service.digest(ChannelRef("console", "lab", "elsewhere"))
    hottest = [e.card.paper.id for e in preview.entries]
    assert ids == [hottest[4], hottest[0], hottest[1]]  # net votes first, then hotness
    assert all(len(option.label) <= 55 for option in start.draft.options)
    assert start.draft.hours == 48 and start.draft.closes == SAMPLE_NOW + timedelta(hours=48)
    assert len(shared.visible("poll")) == 1


async def test_discussion_ranks_a_paper_above_hotter_ones_with_the_same_votes(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    await app.service.post_digest(CHANNEL, None, publisher)
    posted = [m for m in shared.messages if m.key is not None and m.key.rank > 0]
    opened = await app.service.discuss(CHANNEL, posted[3].id, publisher)  # the 4th hottest paper's thread
    for number, user in enumerate(("grace", "alan"), 1):
        await app.service.record_reply(ReplyEvent(CHANNEL, opened.thread_id, f"reply-{number}", user))
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=3)
    assert start.draft is not None
    preview = await app.service.digest(ChannelRef("console", "lab", "elsewhere"))
    hottest = [e.card.paper.id for e in preview.entries]
    assert [o.paper_id for o in start.draft.options] == [hottest[3], hottest[0], hottest[1]]


async def test_a_channel_with_nothing_posted_or_voted_gets_its_current_digests_papers(app: App) -> None:
    start = await app.service.journal_club_start(CHANNEL, Polls(PollPlatform()), candidates=4)
    preview = await app.service.digest(CHANNEL)
    assert start.draft is not None
    assert [o.paper_id for o in start.draft.options] == [e.card.paper.id for e in preview.entries][:4]


async def test_start_votes_winner_with_a_changed_vote_and_history(app: App, clock: FrozenClock) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=4, closes="24h")
    assert start.message is not None and start.draft is not None
    message = start.message.message_id
    await app.service.poll_vote(CHANNEL, message, "ada", 0)
    await app.service.poll_vote(CHANNEL, message, "grace", 2)
    draft, before = await app.service.poll_vote(CHANNEL, message, "alan", 0)
    assert before is None and draft.counts == (2, 0, 1, 0)
    draft, before = await app.service.poll_vote(CHANNEL, message, "ada", 2)  # ada changes her mind
    assert before == 0 and draft.counts == (1, 0, 2, 0)
    again = await app.service.journal_club_start(CHANNEL, publisher)
    assert again.state == "open" and len(shared.visible("poll")) == 1
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.state == "closed" and closed.outcome is not None
    assert closed.outcome.winner.paper.id == start.draft.options[2].paper_id and closed.outcome.votes == 2
    assert closed.outcome.tie == ""
    (announcement,) = shared.visible("win")
    assert "chosen with 2 of 3 votes" in announcement.text and "tie" not in announcement.text
    winner = start.draft.options[2]
    assert shared.threads == {  # the winner's discussion thread, on the announcement
        announcement.id: (
            f"Journal club: {winner.title}",
            f"Discuss “{winner.title}” (arXiv:{winner.paper_id}) here.",
        )
    }
    assert closed.outcome.thread_id == f"t-{announcement.id}"
    with pytest.raises(BadInput, match="closed"):
        await app.service.poll_vote(CHANNEL, message, "ada", 0)
    with pytest.raises(NotFound):
        await app.service.journal_club_close(CHANNEL, publisher)
    (past,) = await app.service.journal_club_history(CHANNEL)
    assert (past.paper_id, past.day, past.votes, past.voters) == (
        start.draft.options[2].paper_id,
        clock.now().date(),
        2,
        3,
    )
    assert history_lines([past])[0].startswith(f"{clock.now():%Y-%m-%d} · arXiv:{past.paper_id} · ")


async def test_a_tie_is_broken_by_the_channels_votes_and_the_announcement_says_so(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=3)
    assert start.message is not None and start.draft is not None
    first, second, _ = (option.paper_id for option in start.draft.options)
    await app.service.poll_vote(CHANNEL, start.message.message_id, "ada", 0)
    await app.service.poll_vote(CHANNEL, start.message.message_id, "grace", 1)
    for user in ("alan", "barbara"):  # the second paper has more of this channel's votes (a 👍 on its card)
        await app.service.record_vote(VoteEvent(CHANNEL, user, "", 1, paper_id=second))
    await app.service.record_vote(VoteEvent(CHANNEL, "alan", "", 1, paper_id=first))
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.outcome is not None and closed.outcome.winner.paper.id == second
    assert closed.outcome.tie == (
        f"2 papers tied at 1 vote: the tie was broken by this channel's votes (arXiv:{first} +1, "
        f"arXiv:{second} +2) in favour of arXiv:{second}."
    )
    assert closed.outcome.tie in shared.visible("win")[0].text
    assert (await app.service.journal_club_history(CHANNEL))[0].tie == closed.outcome.tie


async def test_a_tie_on_votes_everywhere_is_broken_by_hotness(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    assert start.draft is not None
    hotter = start.draft.options[0].paper_id  # no votes here: the candidates come by hotness
    closed = await app.service.journal_club_close(CHANNEL, publisher)  # nobody voted: both tied at 0
    assert closed.outcome is not None and closed.outcome.winner.paper.id == hotter
    assert "the tie was broken by hotness" in closed.outcome.tie


async def test_a_platform_that_counts_the_votes_itself_gives_the_final_tally(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared, counts=True)
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=3)
    assert start.message is not None and start.draft is not None
    poll = shared.visible("poll")[0]
    poll.votes.update({"u1": 1, "u2": 1, "u3": 0})  # Discord's own answer counts
    await app.service.poll_vote(CHANNEL, start.message.message_id, "ignored", 2)  # not what decides here
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.outcome is not None and closed.outcome.counts == (1, 2, 0)
    assert closed.outcome.winner.paper.id == start.draft.options[1].paper_id
    assert publisher.ended == [poll.id]


async def test_forget_user_removes_a_persons_poll_votes(app: App) -> None:
    publisher = Polls(PollPlatform())
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    assert start.message is not None
    await app.service.poll_vote(CHANNEL, start.message.message_id, "ada", 1)
    await app.service.poll_vote(CHANNEL, start.message.message_id, "grace", 1)
    assert await app.service.forget_user("console", "ada") == 1
    poll = await app.service.journal_club_poll(CHANNEL)
    assert poll is not None and poll.counts == (0, 1)


async def test_two_replicas_close_a_due_poll_exactly_once(make_app: MakeApp, clock: FrozenClock) -> None:
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    shared = PollPlatform()
    start = await first.service.journal_club_start(CHANNEL, Polls(shared), candidates=3, closes="2h")
    assert start.state == "started"
    assert await first.service.close_due_polls(lambda _: Polls(shared)) == []  # not due yet
    clock.advance(hours=2)
    results = await asyncio.gather(
        first.service.close_due_polls(lambda _: Polls(shared)),
        second.service.close_due_polls(lambda _: Polls(shared)),
    )
    states = sorted(r.state for batch in results for r in batch)
    assert states.count("closed") == 1 and len(shared.visible("win")) == 1
    assert set(states) <= {"closed", "held-elsewhere", "closed-before"}
    assert len(await second.service.journal_club_history(CHANNEL)) == 1


async def test_two_replicas_asked_to_start_start_one_poll(make_app: MakeApp) -> None:
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    shared = PollPlatform()
    starts = await asyncio.gather(
        first.service.journal_club_start(CHANNEL, Polls(shared), candidates=3),
        second.service.journal_club_start(CHANNEL, Polls(shared), candidates=3),
    )
    assert len(shared.visible("poll")) == 1
    assert sorted(s.state for s in starts)[-1] == "started"


async def test_a_poll_due_while_its_replica_was_down_is_closed_by_another(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    shared = PollPlatform()
    down = await make_app(sample=True, config=FAST)
    start = await down.service.journal_club_start(CHANNEL, Polls(shared), candidates=3, closes="1h")
    assert start.message is not None
    await down.service.poll_vote(CHANNEL, start.message.message_id, "ada", 1)
    await down.aclose()  # the replica that started it is gone when the poll is due
    clock.advance(hours=3)
    other = await make_app(config=FAST)
    (closed,) = await other.service.close_due_polls(lambda _: Polls(shared))
    assert closed.state == "closed" and closed.outcome is not None
    assert start.draft is not None and closed.outcome.winner.paper.id == start.draft.options[1].paper_id
    assert len(shared.visible("win")) == 1


async def test_a_close_that_failed_mid_way_is_released_and_finished_once_by_another(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    shared = PollPlatform()
    failing = await make_app(sample=True, config=FAST)
    start = await failing.service.journal_club_start(CHANNEL, Polls(shared), candidates=2, closes="1h")
    assert start.message is not None
    await failing.service.poll_vote(CHANNEL, start.message.message_id, "ada", 1)
    clock.advance(hours=1)
    crashing = Polls(shared)
    crashing.crash_announce = True
    with pytest.raises(asyncio.CancelledError):
        await failing.service.close_due_polls(lambda _: crashing)  # ended the poll, then was cancelled
    other = await make_app(config=FAST)
    (closed,) = await other.service.close_due_polls(lambda _: Polls(shared))  # released: at once
    assert closed.state == "closed" and len(shared.visible("win")) == 1
    assert closed.outcome is not None and closed.outcome.counts == (0, 1)


async def test_a_close_stalled_past_its_lease_is_taken_over_and_its_late_copy_removed(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    shared = PollPlatform()
    stalled = await make_app(sample=True, config=FAST)
    start = await stalled.service.journal_club_start(CHANNEL, Polls(shared), candidates=2, closes="1h")
    assert start.message is not None
    clock.advance(hours=1)
    slow = Polls(shared)
    slow.gate = asyncio.Event()
    late = asyncio.create_task(stalled.service.close_due_polls(lambda _: slow))
    await slow.waiting.wait()  # its intent is committed; it stalls before the announcement (SIGSTOP, a frozen VM)
    other = await make_app(config=FAST)
    assert await other.service.close_due_polls(lambda _: Polls(shared)) == []  # its lease still runs
    clock.advance(seconds=61)
    (closed,) = await other.service.close_due_polls(lambda _: Polls(shared))
    assert closed.state == "closed" and len(shared.visible("win")) == 1
    slow.gate.set()
    (result,) = await late
    assert result.state == "held-elsewhere"
    assert list(shared.threads) == [m.id for m in shared.visible("win")]  # on the recorded announcement only
    (announcement,) = shared.visible("win")  # the stalled replica's copy was posted, then deleted
    assert closed.outcome is not None and announcement.text == winner_announcement(closed.outcome)
    assert len([m for m in shared.messages if m.key is not None and m.key.paper.endswith("win")]) == 2


async def test_a_start_whose_answer_was_lost_adopts_the_poll_instead_of_posting_another(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    publisher.lose_answer = True
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    assert start.state == "started" and start.message is not None
    (poll,) = shared.visible("poll")
    assert start.message.message_id == poll.id


async def test_a_platform_refusing_threads_still_closes_the_poll_without_one(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    publisher.refuse_threads = True
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.state == "closed" and closed.outcome is not None and closed.outcome.thread_id is None
    assert shared.threads == {} and len(shared.visible("win")) == 1


async def test_a_poll_deleted_on_the_platform_still_closes_on_the_votes_recorded(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    start = await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    assert start.message is not None and start.draft is not None
    await app.service.poll_vote(CHANNEL, start.message.message_id, "ada", 1)
    await publisher.delete(CHANNEL, start.message.message_id)  # a moderator removed the poll
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.state == "closed" and closed.outcome is not None and closed.outcome.counts == (0, 1)
    assert len(shared.visible("win")) == 1


async def test_an_announcement_whose_answer_was_lost_is_adopted_once(app: App) -> None:
    shared = PollPlatform()
    publisher = Polls(shared)
    await app.service.journal_club_start(CHANNEL, publisher, candidates=2)
    publisher.lose_answer = True
    closed = await app.service.journal_club_close(CHANNEL, publisher)
    assert closed.state == "closed" and len(shared.visible("win")) == 1


def test_closes_is_whole_hours_from_36h_2d_or_a_moment_in_the_channels_zone() -> None:
    now = SAMPLE_NOW  # 2020-11-07 09:00 UTC
    assert parse_closes(None, now=now, timezone="UTC", default_hours=48) == 48
    assert parse_closes("36h", now=now, timezone="UTC", default_hours=48) == 36
    assert parse_closes("2d", now=now, timezone="UTC", default_hours=48) == 48
    assert parse_closes("2020-11-08T17:30", now=now, timezone="UTC", default_hours=48) == 33  # rounded up
    assert parse_closes("2020-11-08 10:00", now=now, timezone="Europe/Berlin", default_hours=48) == 24
    for bad in ("0h", "769h", "33d", "soon", "2020-11-01T00:00"):
        with pytest.raises(BadInput, match="closes"):
            parse_closes(bad, now=now, timezone="UTC", default_hours=48)


def test_a_poll_answer_is_at_most_55_characters_with_an_ellipsis() -> None:
    title = "Multi-task learning for electronic structure to predict and explore molecular potential energy surfaces"
    label = poll_label(title)
    assert len(label) <= 55 and label.endswith("…") and title.startswith(label[:-1])
    assert poll_label("Short title") == "Short title"


async def test_the_schedulers_sweep_closes_a_poll_at_its_time(app: App, clock: FrozenClock) -> None:
    from bot.runtime.scheduler import DigestScheduler

    shared = PollPlatform()
    scheduler = DigestScheduler(
        app.operations, app.service, config=app.config, clock=clock, publisher_for=lambda _: Polls(shared)
    )
    assert "close journal-club polls" in dict(scheduler.next_runs())
    await app.service.journal_club_start(CHANNEL, Polls(shared), candidates=2, closes="5h")
    clock.advance(hours=4, minutes=59)
    assert await scheduler.close_polls() == [] and shared.visible("win") == []
    clock.advance(minutes=1)
    (closed,) = await scheduler.close_polls() or []
    assert closed.state == "closed" and len(shared.visible("win")) == 1


async def test_a_weekly_poll_is_started_once_a_week_however_many_replicas_run_the_job(
    make_app: MakeApp, clock: FrozenClock
) -> None:
    first = await make_app(sample=True, config=FAST)
    second = await make_app(config=FAST)
    await first.service.subscribe(CHANNEL, {"journalclub": "sat 09:00", "tz": "Europe/Berlin"})
    shared = PollPlatform()
    starts = await asyncio.gather(
        first.service.journal_club_weekly(CHANNEL, Polls(shared)),
        second.service.journal_club_weekly(CHANNEL, Polls(shared)),
    )
    assert len(shared.visible("poll")) == 1 and "started" in [s.state for s in starts if s is not None]
    await first.service.journal_club_close(CHANNEL, Polls(shared))
    again = await second.service.journal_club_weekly(CHANNEL, Polls(shared))  # the same week, after the close
    assert again is not None and again.state == "done-before" and len(shared.visible("poll")) == 1
    clock.advance(days=7)
    following = await second.service.journal_club_weekly(CHANNEL, Polls(shared))
    assert following is not None and following.state == "started" and len(shared.visible("poll")) == 2


async def test_the_weekly_poll_is_a_job_at_the_channels_day_time_and_zone(app: App) -> None:
    from bot.runtime.scheduler import DigestScheduler

    scheduler = DigestScheduler(
        app.operations, app.service, config=app.config, clock=app.clock, publisher_for=lambda _: None
    )
    app.service.on_settings_changed(scheduler.on_settings_changed)
    await app.service.subscribe(CHANNEL, {"journalclub": "Friday@15:30", "tz": "Europe/Berlin"})
    assert (await app.service.settings(CHANNEL)).journal_club == "fri 15:30"
    runs = dict(scheduler.next_runs())  # Saturday 2020-11-07 09:00 UTC: next Friday 15:30 Berlin (CET)
    assert runs["journal club console:lab:jc"].astimezone(UTC) == datetime(2020, 11, 13, 14, 30, tzinfo=UTC)
    await app.service.subscribe(CHANNEL, {"journalclub": "off"})
    assert "journal club console:lab:jc" not in dict(scheduler.next_runs())
    await app.service.subscribe(CHANNEL, {"journalclub": "mon 08:00"})
    await app.service.unsubscribe(CHANNEL)
    assert "journal club console:lab:jc" not in dict(scheduler.next_runs())
