"""Discussion threads and the weekly roundup through the engine, on SQLite and PostgreSQL (issue 18)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta

import pytest

from bot.domain.clock import FrozenClock
from bot.domain.errors import BadInput, NotFound, UpstreamUnavailable
from bot.domain.messages import discussed_line
from bot.domain.model import ChannelRef, PostKey, ReplyEvent, VoteEvent
from bot.runtime.bootstrap import App
from tests.conftest import SAMPLE_DAY, SAMPLE_NOW, MakeApp
from tests.fakes.recording_publisher import MemoryPlatform, RecordingPublisher

HERE = ChannelRef("discord", "G1", "C1", "#ml-papers")
THERE = ChannelRef("discord", "G1", "C2", "#elsewhere")
WEEK_END = date(2020, 11, 7)
"""SAMPLE_NOW's day: the roundup's week is 1–7 November, with the sample's digest of the 6th."""


PLATFORM = MemoryPlatform()
"""What the channels show (the cards threads hang on); every publisher of a test looks at it."""


@pytest.fixture(autouse=True)
def _fresh_platform() -> None:
    PLATFORM.messages.clear()
    PLATFORM.threads.clear()


def _publisher(platform: str = "discord") -> RecordingPublisher:
    return RecordingPublisher(platform, world=PLATFORM)


async def _posted(app: App, channel: ChannelRef) -> dict[str, str]:
    """Post the sample day's digest in `channel`; paper id → its message id, in rank order."""
    publisher = _publisher(channel.platform)
    await app.service.post_digest(channel, SAMPLE_DAY, publisher)
    return {call.entry.card.paper.id: call.message.message_id for call in publisher.calls if call.entry is not None}


async def _reply(app: App, channel: ChannelRef, thread: str, message: str, user: str, **extra: bool) -> int | None:
    discussion = await app.service.record_reply(ReplyEvent(channel, thread, message, user, **extra))
    return None if discussion is None else discussion.people


async def _new_version(app: App, *paper_ids: str) -> None:
    """arXiv announces v2 of these papers: each comes back in the channels that posted v1, as an update."""
    cards = [await app.service.paper(paper_id) for paper_id in paper_ids]
    later = SAMPLE_NOW - timedelta(hours=1)
    await app.operations.store_papers([dataclasses.replace(c.paper, version=2, updated=later) for c in cards])


async def test_replies_move_the_paper_up_in_that_channels_next_digest_and_not_in_another(app: App) -> None:
    here, there = await _posted(app, HERE), await _posted(app, THERE)
    order = list(here)
    fourth, fifth = order[3], order[4]  # ranked 4th and 5th by their signals in both channels
    opened = await app.service.discuss(HERE, fifth, _publisher())
    assert await _reply(app, HERE, opened.thread_id, "r1", "ada") == 1
    assert await _reply(app, HERE, opened.thread_id, "r2", "bob") == 2
    await _new_version(app, fourth, fifth)

    ranked_here = [e.card.paper.id for e in (await app.service.digest(HERE, SAMPLE_DAY)).entries]
    ranked_there = [e.card.paper.id for e in (await app.service.digest(THERE, SAMPLE_DAY)).entries]
    assert ranked_here.index(fifth) < ranked_here.index(fourth)
    assert ranked_there.index(fourth) < ranked_there.index(fifth)
    entry = next(e for e in (await app.service.digest(HERE, SAMPLE_DAY)).entries if e.card.paper.id == fifth)
    assert "💬 2 here" in entry.card.why and entry.updated
    assert there[fifth] != here[fifth]


async def test_deleting_a_reply_lowers_the_count_and_each_person_counts_once(app: App) -> None:
    messages = await _posted(app, HERE)
    paper = next(iter(messages))
    thread = (await app.service.discuss(HERE, paper, _publisher())).thread_id
    assert await _reply(app, HERE, thread, "r1", "ada") == 1
    assert await _reply(app, HERE, thread, "r2", "ada") == 1  # a second reply by the same person
    assert await _reply(app, HERE, thread, "r2", "ada") == 1  # the same event delivered again
    assert await _reply(app, HERE, thread, "r3", "bob") == 2
    assert await _reply(app, HERE, thread, "r4", "helper-bot", by_bot=True) is None
    assert await _reply(app, HERE, "not-a-thread-of-ours", "r5", "cy") is None
    assert await _reply(app, THERE, thread, "r6", "cy") is None

    assert (await app.service.remove_reply(HERE, "r3")).people == 1  # type: ignore[union-attr]
    assert (await app.service.remove_reply(HERE, "r1")).people == 1  # type: ignore[union-attr]  # ada's r2 stays
    assert await app.service.remove_reply(HERE, "r1") is None  # already gone
    assert await app.service.remove_reply(HERE, messages[paper]) is None  # the card itself is no reply
    card = await app.service.paper(paper, HERE)
    assert discussed_line(card.discussed) == "discussed in #ml-papers (1 person)"
    assert "💬 1 here" in card.why
    await app.service.record_vote(VoteEvent(HERE, "ada", messages[paper], 1))
    (top,) = await app.service.top(HERE)
    assert "💬 1 here" in top.why and top.score == (await app.service.paper(paper, HERE)).score  # one score


async def test_the_discuss_button_opens_one_thread_per_card(app: App) -> None:
    messages = await _posted(app, HERE)
    paper, message = next(iter(messages.items()))
    first = await app.service.discuss(HERE, message, _publisher())
    again = await app.service.discuss(HERE, f"arXiv:{paper}", _publisher())
    assert first.created and not again.created and first.thread_id == again.thread_id == message
    assert first.paper_id == again.paper_id == paper
    with pytest.raises(NotFound, match="was not posted in this channel"):
        await app.service.discuss(HERE, "2010.00577", _publisher())
    with pytest.raises(NotFound):
        await app.service.discuss(ChannelRef("discord", "G1", "never"), paper, _publisher())
    await app.service.subscribe(HERE, {"threads": "off"})
    with pytest.raises(BadInput, match="threads are off"):
        await app.service.discuss(HERE, message, _publisher())


async def test_threads_always_opens_one_per_entry_and_a_failure_never_stops_the_digest(app: App) -> None:
    await app.service.subscribe(HERE, {"threads": "always"})
    publisher = _publisher()
    publisher.thread_script = ["ok", UpstreamUnavailable("503 on the thread")]
    result = await app.service.post_digest(HERE, SAMPLE_DAY, publisher)
    assert result.state == "posted" and result.posted == 5
    posted = [call.message.message_id for call in publisher.calls if call.kind == "publish"]
    assert publisher.opened == [posted[0], *posted[2:]]  # the second entry's thread failed; the digest went on
    again = await app.service.discuss(HERE, posted[1], publisher)
    assert again.created  # the button opens the one that failed


async def test_replies_expire_after_the_retention_and_forget_user_removes_them(make_app: MakeApp) -> None:
    clock = FrozenClock(SAMPLE_NOW)
    app = await make_app(sample=True, clock_=clock)
    messages = await _posted(app, HERE)
    paper = next(iter(messages))
    thread = (await app.service.discuss(HERE, paper, _publisher())).thread_id
    await _reply(app, HERE, thread, "r1", "ada")
    clock.advance(days=60)
    await _reply(app, HERE, thread, "r2", "bob")
    await _reply(app, HERE, thread, "r3", "cy")
    assert await app.operations.prune_replies(timedelta(days=90)) == 0
    clock.advance(days=31)
    assert await app.operations.prune_replies(timedelta(days=90)) == 1  # ada's, 91 days old
    assert (await app.service.paper(paper, HERE)).discussed[0].people == 2
    assert await app.service.forget_user("discord", "bob") == 1
    assert await app.service.forget_user("slack", "cy") == 0  # another platform's cy
    assert discussed_line((await app.service.paper(paper, HERE)).discussed) == "discussed in #ml-papers (1 person)"


async def test_the_roundup_lists_the_weeks_top_papers_by_votes_and_discussion_once(app: App) -> None:
    messages = await _posted(app, HERE)
    order = list(messages)
    await app.service.record_vote(VoteEvent(HERE, "ada", messages[order[2]], 1))
    await app.service.record_vote(VoteEvent(HERE, "bob", messages[order[2]], 1))
    await app.service.record_vote(VoteEvent(HERE, "ada", messages[order[0]], -1))
    thread = (await app.service.discuss(HERE, order[4], _publisher())).thread_id
    await _reply(app, HERE, thread, "r1", "cy")
    await app.service.subscribe(HERE, {"roundup": "on"})

    publisher = _publisher()
    result = await app.service.post_roundup(HERE, publisher)
    assert result.state == "posted" and result.roundup.last_day == WEEK_END
    assert [e.card.paper.id for e in result.roundup.entries] == [order[2], order[4]]  # 👎 on the first: left out
    (text,) = publisher.said
    assert text.startswith("📚 The week in #ml-papers (Sun 01 Nov – Sat 07 Nov 2020): top 2")
    assert "👍2 👎0 here" in text and "💬 1 here" in text
    links = [f"original post: https://chat.example/discord/C1/{messages[p]}" for p in (order[2], order[4])]
    assert all(link in text for link in links)  # each entry's link is the publisher's permalink to its message
    assert [str(m.key) for m in PLATFORM.visible(HERE) if m.key and m.key.prefix == "hr"] == ["hr-20201107-0"]
    assert PostKey.search("hr-20201107-0") == PostKey(WEEK_END, 0, "", "hr")

    again = await app.service.post_roundup(HERE, _publisher())
    assert again.state == "done-before" and PLATFORM.copies(HERE)["hr-20201107-0"] == 1
    daily = await app.service.post_digest(HERE, WEEK_END, _publisher())
    assert daily.state != "done-before"  # the roundup's claim is not the day's digest
    await app.service.subscribe(HERE, {"top": "1"})
    assert [e.card.paper.id for e in (await app.service.roundup(HERE)).entries] == [order[2]]  # the channel's top N


async def test_the_roundups_cards_are_scored_with_the_channels_settings_and_not_filtered_again(app: App) -> None:
    messages = await _posted(app, HERE)
    voted = list(messages)[1]
    await app.service.record_vote(VoteEvent(HERE, "ada", messages[voted], 1))
    author = (await app.service.paper(voted)).paper.authors[0]
    await app.service.subscribe(HERE, {"follow": author, "categories": "q-bio"})  # a filter the paper fails

    (entry,) = (await app.service.roundup(HERE)).entries

    assert entry.card.paper.id == voted and f"follows: {author}" in " ".join(entry.card.why)


async def test_a_quiet_week_posts_nothing_unless_the_channel_asks_for_a_line(app: App) -> None:
    await _posted(app, HERE)
    await app.service.subscribe(HERE, {"roundup": "on"})
    quiet = _publisher()
    assert (await app.service.post_roundup(HERE, quiet)).state == "quiet" and quiet.calls == []
    await app.service.subscribe(HERE, {"roundup_empty": "yes"})
    result = await app.service.post_roundup(HERE, quiet)
    assert result.state == "empty"
    line = "📚 The week in #ml-papers (Sun 01 Nov – Sat 07 Nov 2020): no votes and no discussion this week."
    assert quiet.said == [line]


async def test_two_replicas_pressing_discuss_on_one_card_at_once_post_one_opener(make_app: MakeApp, database) -> None:  # type: ignore[no-untyped-def]
    """Each replica's own lock cannot see the other's press: the thread's lock in PostgreSQL makes the second wait
    until the first has recorded its thread, which it then answers with (no second opener on Slack)."""
    if database.kind != "postgresql":
        pytest.skip("replicas share PostgreSQL")
    replicas = [await make_app(sample=(i == 0)) for i in range(2)]
    channel = ChannelRef("slack", "T1", "C1")
    card = next(iter((await _posted(replicas[0], channel)).values()))
    publishers = [_publisher("slack") for _ in replicas]
    for publisher in publishers:
        publisher.thread_flight = 0.3  # both would look before either posted
    opened = await asyncio.gather(
        *(replica.service.discuss(channel, card, p) for replica, p in zip(replicas, publishers, strict=True))
    )
    assert PLATFORM.openers[card] == 1 and {o.thread_id for o in opened} == {card}
    assert sorted(o.created for o in opened) == [False, True]


class _Stalled(RecordingPublisher):
    """A replica stopped in the middle of opening a thread (SIGSTOP): it holds the thread's lock until let go."""

    def __init__(self) -> None:
        super().__init__("slack", world=PLATFORM)
        self.inside, self.go = asyncio.Event(), asyncio.Event()

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        self.inside.set()
        await self.go.wait()
        return await super().open_thread(channel, message_id, name=name, opener=opener)


async def test_a_replica_stalled_while_opening_a_thread_makes_another_say_try_again_not_post_a_second(
    make_app: MakeApp,
    database,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if database.kind != "postgresql":
        pytest.skip("replicas share PostgreSQL")
    monkeypatch.setattr("bot.storage.threads._WAIT_MS", "100")  # instead of OPENING_WAIT's 10 s
    stalled_app, other = await make_app(sample=True), await make_app()
    channel = ChannelRef("slack", "T1", "C1")
    card = next(iter((await _posted(stalled_app, channel)).values()))
    stalled = _Stalled()
    first = asyncio.create_task(stalled_app.service.discuss(channel, card, stalled))
    await stalled.inside.wait()
    with pytest.raises(UpstreamUnavailable, match="another replica is opening this thread"):
        await other.service.discuss(channel, card, _publisher("slack"))
    stalled.go.set()
    assert (await first).created and PLATFORM.openers[card] == 1
    again = await other.service.discuss(channel, card, _publisher("slack"))
    assert (again.thread_id, again.created, PLATFORM.openers[card]) == (card, False, 1)


async def test_a_roundup_is_posted_once_across_two_replicas(make_app: MakeApp, database) -> None:  # type: ignore[no-untyped-def]
    if database.kind != "postgresql":
        pytest.skip("replicas share PostgreSQL")
    fast = {"digest": {"backoff_seconds": 0, "lease_seconds": 60}}
    replicas = [await make_app(sample=(i == 0), config=fast) for i in range(2)]
    channels = [ChannelRef("slack", "T1", f"C{i}") for i in range(4)]
    for channel in channels:
        first = next(iter((await _posted(replicas[0], channel)).values()))
        await replicas[0].service.record_vote(VoteEvent(channel, "ada", first, 1))
    world = MemoryPlatform()
    publishers = [RecordingPublisher("slack", world=world) for _ in replicas]
    results = await asyncio.gather(
        *(
            replica.service.post_roundup(channel, publisher)
            for channel in channels
            for replica, publisher in zip(replicas, publishers, strict=True)
        )
    )
    for channel in channels:
        assert world.copies(channel)["hr-20201107-0"] == 1 and len(world.visible(channel)) == 1
    assert sorted(r.state for r in results).count("posted") == len(channels)
