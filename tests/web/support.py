"""A channel with a published page, built through the engine on the test's database: two digest days (October
and November 2020), votes, community summaries and one hostile paper."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.domain.model import ChannelRef, Paper, VoteEvent
from bot.runtime.bootstrap import App
from tests.conftest import SAMPLE_DAY
from tests.fakes.recording_publisher import RecordingPublisher

CHANNEL = ChannelRef("slack", "T0SECRETWS", "C0SECRETCH", "#secret-lab-name")
OCTOBER_DAY = date(2020, 10, 2)
HOSTILE_ID = "2011.09999"
SCRIPT = "<script>alert('title')</script>"
HOSTILE_TITLE = f"{SCRIPT} Attention \u202eeviL\u202c <img src=x onerror=alert(1)> [x](javascript:alert(1))"
HOSTILE_SUMMARY = "<script>alert('summary')</script> see javascript:alert(2) and <a href=\"javascript:alert(3)\">me</a>"
VOTERS = ("U0VOTER1", "U0VOTER2", "U0VOTER3")
AUTHOR_NAME = "Dr. Secret Summarist"


@dataclass(frozen=True)
class Published:
    token: str
    url: str
    publisher: RecordingPublisher


def hostile_paper() -> Paper:
    stamp = datetime(2020, 11, 5, tzinfo=UTC)
    return Paper(
        id=HOSTILE_ID,
        version=1,
        title=HOSTILE_TITLE,
        authors=("Mallory <b>Bold</b>", "Eve \u2067Isolate\u2069 Q."),
        abstract="We <script>steal()</script> everything.\u202e Reversed. <style>body{display:none}</style>",
        categories=("cs.LG",),
        primary_category="cs.LG",
        published=stamp,
        updated=stamp,
    )


async def published_channel(app: App) -> Published:
    """Subscribe (top 25), add the hostile paper to the sample's last day with votes enough to be posted, post the
    October and November digests, vote and summarise, then publish the page (confirmation, then URL)."""
    service = app.service
    await service.subscribe(CHANNEL, {"top": "25"}, by="U0ADMIN")
    await app.operations.store_papers([hostile_paper()])
    async with app.uow() as uow:
        await uow.papers.mark_announced([HOSTILE_ID], SAMPLE_DAY)
        await uow.commit()
    for voter in VOTERS:  # a button vote on a card: the channel likes it, so it ranks in
        await service.record_vote(VoteEvent(CHANNEL, voter, "", 1, paper_id=HOSTILE_ID, reaction="button"))
    publisher = RecordingPublisher("slack")
    await service.post_digest(CHANNEL, OCTOBER_DAY, publisher)
    await service.post_digest(CHANNEL, SAMPLE_DAY, publisher)
    first = next(call for call in publisher.calls if call.entry is not None and call.entry.card.paper.id != HOSTILE_ID
                 and call.entry.card.paper.announced == SAMPLE_DAY)  # fmt: skip
    assert first.entry is not None
    await service.record_vote(VoteEvent(CHANNEL, "U0VOTER1", first.message.message_id, 1, reaction="+1"))
    await service.record_vote(VoteEvent(CHANNEL, "U0VOTER2", first.message.message_id, -1, reaction="-1"))
    await service.add_summary(HOSTILE_ID, CHANNEL, author=AUTHOR_NAME, text=HOSTILE_SUMMARY, author_id="slack:U0AUTH")
    liked = await service.add_summary(HOSTILE_ID, CHANNEL, author=AUTHOR_NAME, text="The better-voted summary.",
                                      author_id="slack:U0AUTH2")  # fmt: skip
    assert liked.id is not None
    await service.vote_summary(CHANNEL, "U0VOTER3", liked.id, 1)
    other = ChannelRef("slack", "T0SECRETWS", "C0OTHER", "#other")
    await service.add_summary(HOSTILE_ID, other, author="Other", text="Written in another channel.")
    asked = await service.publish(CHANNEL, "yes")
    assert asked.state == "confirm" and asked.url is None
    answer = await service.publish(CHANNEL, "confirm")
    assert answer.state == "published" and answer.url is not None
    match = re.search(r"/c/([A-Za-z0-9_-]{43})/$", answer.url)
    assert match is not None
    return Published(match[1], answer.url, publisher)


def secrets_of(published: Published) -> list[str]:
    """Strings that must appear in no page, feed or log line."""
    return [published.token, CHANNEL.workspace, CHANNEL.channel, CHANNEL.name, *VOTERS, "U0ADMIN", "U0AUTH",
            AUTHOR_NAME, "C0OTHER", "Written in another channel"]  # fmt: skip
