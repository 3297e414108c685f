"""Digest messages go to each Slack channel at chat.postMessage's pace (a short burst, then one a second), so Slack
never has to answer `ratelimited`; channels do not wait for each other. The clock is a manual one: no real waits."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.publisher import ChannelPacer, SlackPublisher, static_tokens
from adapters.slack.settings import Settings
from bot.domain.errors import UpstreamUnavailable
from bot.domain.model import ChannelRef
from tests.fakes.faults import ManualClock
from tests.fakes.slack_server import REALISTIC_POST_RATE, FakeSlack

TEAM, TOKEN, PAPERS, GENERAL = "T0HOTPAPER", "xoxb-hot", "C0PAPERS01", "C0GENERAL1"


def channel(channel_id: str) -> ChannelRef:
    return ChannelRef("slack", TEAM, channel_id, f"#{channel_id}")


class Sleeps:
    """`sleep` for a pacer: records each wait and moves the manual clock by it (or not, with `advance=False`)."""

    def __init__(self, clock: ManualClock, *, advance: bool = True) -> None:
        self.clock, self.advance, self.waits = clock, advance, list[float]()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        if self.advance:
            self.clock.now += seconds


async def test_ten_messages_to_one_channel_go_three_at_once_then_one_a_second_and_slack_never_says_ratelimited() -> (
    None
):
    clock = ManualClock()
    sleeps = Sleeps(clock)
    async with FakeSlack(clock=clock, post_rate=REALISTIC_POST_RATE) as fake:
        fake.add_workspace(TEAM, token=TOKEN, bot_user="U0HOTPAPER")
        fake.add_channel(PAPERS, "papers", team=TEAM)
        publisher = SlackPublisher(
            AsyncWebClient(base_url=fake.api_url),
            static_tokens(TOKEN),
            pacer=ChannelPacer(*REALISTIC_POST_RATE, clock=clock, sleep=sleeps),
        )
        for n in range(10):
            await publisher.say(channel(PAPERS), f"line {n}")
        answers = [call.status for call in fake.calls_to("chat.postMessage")]
    assert answers == [200] * 10 and fake.posted[PAPERS] == 10
    assert sleeps.waits == [1.0] * 7  # the burst of three, then a token a second


async def test_a_thread_opener_after_a_burst_waits_for_the_channels_turn_and_slack_never_says_ratelimited() -> None:
    """A reply in a thread is a chat.postMessage in the channel: it takes its turn with the digest's messages."""
    clock = ManualClock()
    sleeps = Sleeps(clock)
    async with FakeSlack(clock=clock, post_rate=REALISTIC_POST_RATE) as fake:
        fake.add_workspace(TEAM, token=TOKEN, bot_user="U0HOTPAPER")
        fake.add_channel(PAPERS, "papers", team=TEAM)
        publisher = SlackPublisher(
            AsyncWebClient(base_url=fake.api_url),
            static_tokens(TOKEN),
            pacer=ChannelPacer(*REALISTIC_POST_RATE, clock=clock, sleep=sleeps),
        )
        posted = [await publisher.say(channel(PAPERS), f"line {n}") for n in range(REALISTIC_POST_RATE[0])]
        await publisher.open_thread(channel(PAPERS), posted[0].message_id, name="A paper", opener="Discuss it here")
        answers = [call.status for call in fake.calls_to("chat.postMessage")]
    assert answers == [200] * (REALISTIC_POST_RATE[0] + 1)
    assert sleeps.waits == [1.0]  # the opener waited for the channel's next token


async def test_without_a_pacer_the_same_posts_are_answered_ratelimited() -> None:
    """The fake's limit is real: the test above passes because of the pacer (slack_sdk without retries here)."""
    clock = ManualClock()
    async with FakeSlack(clock=clock, post_rate=REALISTIC_POST_RATE) as fake:
        fake.add_workspace(TEAM, token=TOKEN, bot_user="U0HOTPAPER")
        fake.add_channel(PAPERS, "papers", team=TEAM)
        publisher = SlackPublisher(AsyncWebClient(base_url=fake.api_url), static_tokens(TOKEN))
        for n in range(3):
            await publisher.say(channel(PAPERS), f"line {n}")
        with pytest.raises(UpstreamUnavailable, match="ratelimited"):
            await publisher.say(channel(PAPERS), "one too many")


async def test_concurrent_posts_to_one_channel_take_turns_and_other_channels_do_not_wait() -> None:
    clock = ManualClock()
    sleeps = Sleeps(clock)
    pacer = ChannelPacer(3, 1.0, clock=clock, sleep=sleeps)

    async def post(where: str) -> None:
        async with pacer.turn(channel(where)):
            await asyncio.sleep(0)

    await asyncio.gather(*(post(PAPERS) for _ in range(6)))
    assert sleeps.waits == [1.0, 1.0, 1.0] and clock.now == 1003.0  # the burst of three, then one a second
    await asyncio.gather(*(post(GENERAL) for _ in range(3)))
    assert sleeps.waits == [1.0, 1.0, 1.0]  # another channel's burst is its own
    clock.now += 10.0
    await asyncio.gather(*(post(PAPERS) for _ in range(3)))
    assert sleeps.waits == [1.0, 1.0, 1.0]  # refilled, up to the burst


async def test_the_refill_counts_from_the_answer_so_a_slow_answer_cannot_let_the_next_post_arrive_early() -> None:
    clock = ManualClock()
    sleeps = Sleeps(clock)
    pacer = ChannelPacer(1, 1.0, clock=clock, sleep=sleeps)
    async with pacer.turn(channel(PAPERS)):
        clock.now += 0.75  # Slack may have seen this post only now
    async with pacer.turn(channel(PAPERS)):
        pass
    assert sleeps.waits == [1.0]  # a full second after the answer, not 0.25 s


async def test_a_post_in_flight_refills_the_bucket_below_full_so_ten_posts_take_seven_seconds_plus_two_flights() -> (
    None
):
    """Each answer comes 0.25 s after its post is sent. Below a full bucket, when Slack took the token does not
    change its level later, so the flights count as refill: the channel's ten posts take 7 s (its pace) plus the
    first and the last flight — not 7 s plus every flight (9.5 s), which cost a 100-channel fan-out 5-10 % of
    Slack's rate on a busy machine. Slack sees each post at the end of its flight here and never refuses one."""
    clock = ManualClock()
    sleeps = Sleeps(clock)
    pacer = ChannelPacer(*REALISTIC_POST_RATE, clock=clock, sleep=sleeps)
    slack = FakeSlack(clock=clock, post_rate=REALISTIC_POST_RATE)  # its rate limit only: no server started
    start, refused = clock.now, []
    for _ in range(10):
        async with pacer.turn(channel(PAPERS)):
            clock.now += 0.25
            refused.append(slack.post_wait(PAPERS))
    assert refused == [None] * 10
    assert sleeps.waits == [0.5] + [0.75] * 6  # the 4th post: a second after the 3rd was sent
    assert clock.now - start == pytest.approx(7.5)


@settings(max_examples=300, deadline=None)
@given(
    burst=st.integers(1, 4),
    posts=st.lists(
        st.tuples(st.floats(0, 2), st.floats(0, 1), st.floats(0, 2)),  # flight, when Slack saw it in it, then idle
        min_size=1,
        max_size=25,
    ),
)
async def test_wherever_in_its_flight_slack_sees_a_post_the_pacer_never_lets_one_be_refused(
    burst: int, posts: list[tuple[float, float, float]]
) -> None:
    """The pacer's bucket stays a lower bound of Slack's: a post reaches Slack at any moment between its sending
    and its answer (here: `at` of the way through its flight), then the engine is busy for a while."""
    clock = ManualClock()
    pacer = ChannelPacer(burst, 1.0, clock=clock, sleep=Sleeps(clock))
    slack = FakeSlack(clock=clock, post_rate=(burst, 1.0))
    for flight, at, idle in posts:
        async with pacer.turn(channel(PAPERS)):
            clock.now += flight * at
            assert slack.post_wait(PAPERS) is None
            clock.now += flight * (1 - at)
        clock.now += idle


async def test_the_pace_is_configured_in_the_slack_table() -> None:
    assert (Settings().post_burst, Settings().posts_per_second) == (3, 1.0)
    settings = Settings.parse({"post_burst": 5, "posts_per_second": 0.5})
    assert (settings.post_burst, settings.posts_per_second) == (5, 0.5)
