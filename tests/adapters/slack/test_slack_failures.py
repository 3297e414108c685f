"""Slack as it really fails, with the real slack_sdk against the hostile fake: what a digest does in each mode.

Slack has no idempotency key of its own: a post whose answer was lost is found again by the key in its `metadata`
(conversations.history with include_all_metadata). The engine's clock is frozen, so backoff waits take no time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.publisher import SlackPublisher, static_tokens
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, PostKey
from tests.fakes.slack_server import FakeSlack

TEAM, TOKEN, PAPERS, GENERAL, ADMIN = "T0HOTPAPER", "xoxb-hot", "C0PAPERS01", "C0GENERAL1", "U0ADMIN001"
HERE = ChannelRef("slack", TEAM, PAPERS, "#papers")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace(TEAM, token=TOKEN, bot_user="U0HOTPAPER")
        fake.add_channel(PAPERS, "papers", team=TEAM)
        fake.add_channel(GENERAL, "general", team=TEAM)
        yield fake


@pytest.fixture
def publisher(slack: FakeSlack) -> SlackPublisher:
    return SlackPublisher(AsyncWebClient(base_url=slack.api_url), static_tokens(TOKEN))


def shown_keys(slack: FakeSlack, channel: str = PAPERS) -> Counter[PostKey | None]:
    found: Counter[PostKey | None] = Counter()
    for message in slack.channel_messages(channel):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        found[PostKey.search(str(payload.get("key", "")))] += 1
    return found


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("5xx", {"status": 503}),
        ("reset", {}),
        ("lost", {"answer": "5xx", "status": 502}),  # Slack posted it; the bot never heard
        ("lost", {"answer": "reset"}),
        ("ratelimited", {"retry_after": 90}),
        ("internal_error", {}),
        ("slow", {"delay": 0.3}),
    ],
)
async def test_a_transient_failure_mid_digest_is_retried_and_every_entry_appears_once(
    slack: FakeSlack, publisher: SlackPublisher, hotpapers: HotPapers, sample_day: date, mode: str, params: Any
) -> None:
    fault = slack.faults.inject("chat.postMessage", mode, times=3, after=2, **params)
    result = await hotpapers.post_digest(HERE, sample_day, publisher)
    assert result.state == "posted" and result.posted == 5 and fault.hits == 3
    keys = shown_keys(slack)
    assert len(keys) == 6 and set(keys.values()) == {1} and None not in keys, keys


async def test_one_message_slack_refuses_is_skipped_and_the_rest_goes_on(
    slack: FakeSlack, publisher: SlackPublisher, hotpapers: HotPapers, sample_day: date
) -> None:
    slack.faults.inject("chat.postMessage", "msg_blocks_too_long", times=1, after=3)
    result = await hotpapers.post_digest(HERE, sample_day, publisher)
    assert result.state == "posted" and result.posted == 4
    assert sorted(k.rank for k in shown_keys(slack) if k) == [0, 1, 2, 4, 5]


@pytest.mark.parametrize(
    ("mode", "reason", "fix"),
    [
        ("not_in_channel", "hotpapers is not a member of #papers", "invite @hotpapers to #papers"),
        ("is_archived", "#papers is archived", "unarchive #papers"),
        ("channel_not_found", "Slack cannot find #papers for hotpapers", "invite @hotpapers to #papers"),
    ],
)
async def test_a_channel_slack_refuses_is_paused_and_the_admin_told_by_dm(
    slack: FakeSlack,
    publisher: SlackPublisher,
    hotpapers: HotPapers,
    sample_day: date,
    mode: str,
    reason: str,
    fix: str,
) -> None:
    await hotpapers.subscribe(HERE, {}, by=ADMIN)
    slack.faults.inject("chat.postMessage", mode, times=2)  # the header, then the notice in the channel
    result = await hotpapers.post_digest(HERE, sample_day, publisher)
    assert result.state == "paused"
    paused = (await hotpapers.settings(HERE)).paused
    assert paused is not None and paused.reason == reason and fix in paused.fix
    (dm,) = [m for m in slack.calls_to("chat.postMessage") if m.args.get("channel") == ADMIN]
    assert reason in dm.args["text"] and "paused the daily digest" in dm.args["text"]
    posts = len(slack.calls_to("chat.postMessage"))
    assert (await hotpapers.post_digest(HERE, sample_day, publisher)).state == "paused"
    assert len(slack.calls_to("chat.postMessage")) == posts  # nothing more goes to a paused channel


@pytest.mark.parametrize("mode", ["invalid_auth", "account_inactive", "token_revoked", "missing_scope"])
async def test_a_token_slack_refuses_pauses_every_channel_of_the_workspace(
    slack: FakeSlack, publisher: SlackPublisher, hotpapers: HotPapers, sample_day: date, mode: str
) -> None:
    other = ChannelRef("slack", TEAM, GENERAL, "#general")
    elsewhere = ChannelRef("slack", "T0ELSEWHER", "C0ELSEWHER", "#x")
    for channel in (HERE, other, elsewhere):
        await hotpapers.subscribe(channel, {})
    slack.faults.inject("chat.postMessage", mode, times=None)
    result = await hotpapers.post_digest(HERE, sample_day, publisher)
    assert result.state == "paused" and result.pause is not None and result.pause.scope == "workspace"
    assert mode in result.pause.reason and "reinstall" in result.pause.fix
    assert (await hotpapers.settings(other)).paused is not None
    assert (await hotpapers.settings(elsewhere)).paused is None


async def test_an_install_without_the_history_scope_still_posts_and_is_not_paused(
    slack: FakeSlack,
    publisher: SlackPublisher,
    hotpapers: HotPapers,
    sample_day: date,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack.set_scopes(TOKEN, "chat:write", "commands")  # an install from before the app asked for channels:history
    slack.faults.inject("chat.postMessage", "5xx", status=503, after=2)
    result = await hotpapers.post_digest(HERE, sample_day, publisher)
    assert result.state == "posted" and result.posted == 5
    assert (await hotpapers.settings(HERE)).paused is None
    assert "reinstall the app to grant channels:history" in caplog.text
