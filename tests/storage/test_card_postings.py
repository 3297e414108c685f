"""A `/paper` card of a paper posted in many channels carries the most recent postings and the count of all of them
(a popular paper was posted in hundreds), on SQLite and PostgreSQL; a digest's cards carry every posting."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from adapters.console.render import paper_panel
from bot.domain.model import POSTINGS_ON_A_CARD, ChannelRef
from bot.domain.records import PlanEntry
from bot.runtime.bootstrap import App
from bot.runtime.json_view import card_json
from tests.conftest import SAMPLE_DAY, SAMPLE_NOW
from tests.fakes.recording_publisher import RecordingPublisher

CHANNELS = [ChannelRef("discord", "G1", f"C{n:02d}", f"#c{n:02d}") for n in range(POSTINGS_ON_A_CARD + 2)]


async def test_a_paper_posted_in_twelve_channels_shows_the_ten_most_recent_and_counts_twelve(app: App) -> None:
    for channel in CHANNELS:
        await app.service.post_digest(channel, SAMPLE_DAY, RecordingPublisher())
    preview = await app.service.digest(ChannelRef("discord", "G1", "fresh"), SAMPLE_DAY)
    paper_id = preview.entries[0].card.paper.id  # the same ranking everywhere: the top paper was posted in all
    card = await app.service.paper(paper_id)
    assert card.posted_count == len(CHANNELS) and len(card.posted) == POSTINGS_ON_A_CARD
    # One day for all of them: the most recent are the channels that posted last, oldest first.
    assert [p.channel.channel for p in card.posted] == [c.channel for c in CHANNELS[2:]]
    assert {p.day for p in card.posted} == {SAMPLE_DAY}
    shown = card_json(card)
    assert shown["posted_count"] == len(CHANNELS) and len(shown["posted"]) == POSTINGS_ON_A_CARD


async def test_a_paper_posted_once_shows_that_posting_and_a_count_of_one(app: App) -> None:
    await app.service.post_digest(CHANNELS[0], SAMPLE_DAY, RecordingPublisher())
    paper_id = (await app.service.digest(CHANNELS[1], SAMPLE_DAY)).entries[0].card.paper.id
    card = await app.service.paper(paper_id, CHANNELS[1])
    assert card.posted_count == 1 and [(p.channel.channel, p.day) for p in card.posted] == [("C00", SAMPLE_DAY)]
    wider = ChannelRef("discord", "G1", "wider")
    await app.service.subscribe(wider, {"top_n": "10"})
    tenth = (await app.service.digest(wider, SAMPLE_DAY)).entries[-1].card.paper.id  # C00 posted the top 5
    unposted = await app.service.paper(tenth)
    assert unposted.posted_count == 0 and unposted.posted == ()


async def _post(app: App, channel: ChannelRef, day: date, paper_id: str, *, recorded: bool = True) -> None:
    """One digest of `channel` on `day` with `paper_id` as its only entry, its message recorded (or only planned)."""
    async with app.uow() as uow:
        row = await uow.channels.ensure(channel, defaults=app.service.default_settings(), now=SAMPLE_NOW)
        claim = await uow.digests.claim(row.id, day, holder="test", now=SAMPLE_NOW, lease=timedelta(minutes=5))
        await uow.posts.plan(claim.digest_id, row.id, day, [PlanEntry(1, paper_id, 1, False, 1.0, ())])
        (planned,) = await uow.posts.planned(claim.digest_id)
        if recorded:
            message = f"m-{channel.channel}-{day}"
            await uow.posts.record(planned.post_id, claim.digest_id, claim.fence, message, now=SAMPLE_NOW, until=None)
        await uow.commit()


async def test_a_paper_posted_on_several_days_shows_the_ten_most_recent_by_day_then_channel(app: App) -> None:
    """The postings come from the posts' own copy of their digest's day: the card shows the ten latest (day, then
    the order the channels were first seen) oldest first and counts every recorded one — with and without a channel,
    one statement on PostgreSQL, step by step on SQLite — and each post's day is its digest's."""
    paper_id = "2010.00577"
    days = [SAMPLE_DAY - timedelta(days=n) for n in (2, 0, 3, 1)]  # not in the channels' order
    channels = [ChannelRef("discord", "G2", f"D{n:02d}", f"#d{n:02d}") for n in range(14)]
    for n, channel in enumerate(channels):
        await _post(app, channel, days[n % len(days)], paper_id)
    await _post(app, ChannelRef("discord", "G2", "planned"), SAMPLE_DAY, paper_id, recorded=False)  # never counted
    everyone = sorted((days[n % len(days)], n) for n in range(len(channels)))
    expected = [(channels[n].channel, day) for day, n in everyone[-POSTINGS_ON_A_CARD:]]
    for here in (None, channels[0], ChannelRef("discord", "G2", "never-seen")):
        card = await app.service.paper(paper_id, here)
        assert [(p.channel.channel, p.day) for p in card.posted] == expected, here
        assert card.posted_count == len(channels)
    async with app.engine.connect() as connection:
        found = await connection.execute(
            text("SELECT posts.day, digests.day FROM posts JOIN digests ON digests.id = posts.digest_id")
        )
        pairs = [(str(post_day), str(digest_day)) for post_day, digest_day in found]
    assert len(pairs) == len(channels) + 1 and all(post_day == digest_day for post_day, digest_day in pairs)


def test_the_console_card_names_the_three_most_recent_postings_and_how_many_more() -> None:
    from dataclasses import replace
    from io import StringIO

    from rich.console import Console

    from bot.domain.model import PostRecord
    from tests.adapters.slack.support import card

    posted = tuple(PostRecord(c, SAMPLE_DAY) for c in CHANNELS[:POSTINGS_ON_A_CARD])
    shown = replace(card(), posted=posted, posted_count=len(CHANNELS))
    out = StringIO()
    Console(file=out, width=400).print(paper_panel(shown))
    assert f"Posted in #c07 on {SAMPLE_DAY}, #c08 on {SAMPLE_DAY}, #c09 on {SAMPLE_DAY} and 9 more" in out.getvalue()
