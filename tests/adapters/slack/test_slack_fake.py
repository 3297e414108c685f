"""The fake Slack is only worth its tests if it refuses what Slack refuses: checked here with the real client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.publisher import SlackPublisher, static_tokens
from bot.domain.errors import Undeliverable
from bot.domain.model import ChannelRef
from tests.fakes.faults import ManualClock
from tests.fakes.slack_server import DEFAULT_SCOPES, REALISTIC_POST_RATE, WAIT, FakeSlack, manifest_events
from tests.fakes.spec import slack_errors

SLACK_SCHEMA_METHODS = {
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.getPermalink",
    "conversations.history",
    "conversations.info",
    "conversations.replies",
}

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace("T111", token="xoxb-good")
        yield fake


async def post(fake: FakeSlack, token: str, **args: Any) -> str:
    try:
        await AsyncWebClient(token=token, base_url=fake.api_url).chat_postMessage(channel="C1", **args)
    except SlackApiError as error:
        return str(error.response["error"])
    return "ok"


@pytest.mark.parametrize(
    ("blocks", "answer"),
    [
        ([SECTION] * 50, "ok"),
        ([SECTION] * 51, "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "invalid_blocks"),
        ([{"type": "context", "elements": []}], "invalid_blocks"),
    ],
)
async def test_the_fake_enforces_block_kit_limits(fake: FakeSlack, blocks: list[dict[str, Any]], answer: str) -> None:
    assert await post(fake, "xoxb-good", text="t", blocks=blocks) == answer


async def test_the_fake_wants_a_known_bearer_token(fake: FakeSlack) -> None:
    assert await post(fake, "xoxb-stolen", text="t") == "invalid_auth"
    async with aiohttp.ClientSession() as http, http.post(fake.api_url + "chat.postMessage", json={}) as response:
        assert (await response.json())["error"] == "not_authed"


async def test_the_fake_reads_form_bodies_with_json_encoded_blocks_and_refuses_other_content_types(
    fake: FakeSlack,
) -> None:
    headers = {"Authorization": "Bearer xoxb-good"}
    form = {"channel": "C1", "text": "t", "blocks": json.dumps([SECTION] * 51)}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(fake.api_url + "chat.postMessage", data=form) as response:
            assert (await response.json())["error"] == "invalid_blocks"
        async with http.post(
            fake.api_url + "chat.postMessage", data=b"<xml/>", headers={"Content-Type": "application/xml"}
        ) as response:
            assert (await response.json())["error"] == "invalid_form_data"


async def test_a_rejected_token_is_a_refusal_of_the_whole_workspace_naming_slacks_error_but_no_token(
    fake: FakeSlack,
) -> None:
    publisher = SlackPublisher(AsyncWebClient(base_url=fake.api_url), static_tokens("xoxb-revoked"))
    with pytest.raises(Undeliverable, match="invalid_auth") as caught:
        await publisher.say(ChannelRef("slack", "T111", "C1"), "hello")
    assert "xoxb" not in str(caught.value) and caught.value.scope == "workspace"


# -- hostile modes (issue 12), idempotency routes (issue 13), shapes -------------------------------------------------

TEAM, BOT_TOKEN, CHANNEL, OTHER = "T0HOTPAPER", "xoxb-hot", "C0PAPERS01", "C0GENERAL1"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake with Slack-shaped ids (the published schema checks them) and #papers added."""
    async with FakeSlack() as fake:
        fake.add_workspace(TEAM, token=BOT_TOKEN, bot_user="U0HOTPAPER")
        fake.add_channel(CHANNEL, "papers", team=TEAM)
        yield fake


def client(fake: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, **kwargs)


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


@pytest.mark.parametrize(
    "mode",
    [
        "not_in_channel",
        "is_archived",
        "channel_not_found",
        "msg_blocks_too_long",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
    ],
)
async def test_any_slack_error_code_is_a_mode_answered_with_http_200_and_ok_false(slack: FakeSlack, mode: str) -> None:
    fault = slack.faults.inject("chat.postMessage", mode)
    error = await error_of(client(slack).chat_postMessage(channel=CHANNEL, text="hi"))
    assert (error.response.status_code, error.response["ok"], error.response["error"]) == (200, False, mode)
    assert fault.hits == 1 and slack.posted[CHANNEL] == 0
    await client(slack).chat_postMessage(channel=CHANNEL, text="hi")  # times=1: the next one lands
    assert slack.posted[CHANNEL] == 1


async def test_missing_scope_names_what_is_needed_and_what_the_token_has(slack: FakeSlack) -> None:
    slack.faults.inject("chat.postMessage", "missing_scope")
    error = await error_of(client(slack).chat_postMessage(channel=CHANNEL, text="hi"))
    assert (error.response["error"], error.response["needed"]) == ("missing_scope", "chat:write")
    assert "channels:history" in error.response["provided"].split(",")
    assert error.response.headers["X-Accepted-OAuth-Scopes"] == "chat:write"
    slack.set_scopes(BOT_TOKEN, "chat:write")  # installed without the history scopes
    error = await error_of(client(slack).conversations_history(channel=CHANNEL))
    assert (error.response["needed"], error.response["provided"]) == ("channels:history", "chat:write")


async def test_ratelimited_is_a_429_with_retry_after_that_the_sdks_handler_honours(slack: FakeSlack) -> None:
    slack.faults.inject("chat.postMessage", "ratelimited", retry_after=30)
    error = await error_of(client(slack).chat_postMessage(channel=CHANNEL, text="hi"))
    assert (error.response.status_code, error.response["error"]) == (429, "ratelimited")
    assert error.response.headers["Retry-After"] == "30"
    slack.faults.inject("chat.postMessage", "429", retry_after=0)
    patient = client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    await patient.chat_postMessage(channel=CHANNEL, text="hi")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]


async def test_a_5xx_is_an_html_page_and_the_server_error_handler_retries_it(slack: FakeSlack) -> None:
    slack.faults.inject("chat.postMessage", "5xx", status=503)
    error = await error_of(client(slack).chat_postMessage(channel=CHANNEL, text="hi"))
    assert error.response.status_code == 503 and error.response.data == {}
    slack.faults.inject("chat.postMessage", "5xx")
    patient = client(slack, retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)])
    await patient.chat_postMessage(channel=CHANNEL, text="hi")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 500, 200] and slack.posted[CHANNEL] == 1
    async with aiohttp.ClientSession() as http:
        slack.faults.inject("auth.test", "5xx", status=502)
        async with http.post(slack.api_url + "auth.test", headers={"Authorization": f"Bearer {BOT_TOKEN}"}) as answer:
            assert (answer.status, answer.content_type) == (502, "text/html")
            assert "502 Bad Gateway" in await answer.text()


async def test_a_reset_is_retried_once_by_the_sdks_default_handler_and_then_surfaces(slack: FakeSlack) -> None:
    slack.faults.inject("chat.postMessage", "reset")
    await client(slack).chat_postMessage(channel=CHANNEL, text="hi")  # AsyncConnectionErrorRetryHandler: once
    slack.faults.inject("chat.postMessage", "reset", times=2)
    with pytest.raises(aiohttp.ClientError):
        await client(slack).chat_postMessage(channel=CHANNEL, text="hi")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [0, 200, 0, 0] and slack.posted[CHANNEL] == 1


async def test_a_slow_answer_trips_the_clients_timeout(slack: FakeSlack) -> None:
    slack.faults.inject("chat.postMessage", "slow", delay=1.0)
    with pytest.raises(TimeoutError):
        await client(slack, timeout=0.05).chat_postMessage(channel=CHANNEL, text="hi")  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", ["5xx", "reset"])
async def test_a_lost_post_exists_on_slack_and_history_with_metadata_finds_it(slack: FakeSlack, answer: str) -> None:
    slack.faults.inject("chat.postMessage", "lost", answer=answer, status=503, times=2)
    metadata = {"event_type": "hotpapers_entry", "event_payload": {"key": "C0PAPERS01/2020-11-06/1/2010.00577v2"}}
    with pytest.raises((SlackApiError, aiohttp.ClientError)):
        await client(slack).chat_postMessage(channel=CHANNEL, text="card", metadata=metadata)
    assert slack.posted[CHANNEL] >= 1  # done on Slack, though the app never heard (a reset is retried: twice)
    history = await client(slack).conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert {m["metadata"]["event_payload"]["key"] for m in history["messages"]} == {metadata["event_payload"]["key"]}
    plain = await client(slack).conversations_history(channel=CHANNEL)
    assert all("metadata" not in m for m in plain["messages"])  # metadata only when asked for


async def test_channels_the_bot_has_not_joined_or_that_are_archived_refuse_as_slack_does(slack: FakeSlack) -> None:
    slack.add_channel(OTHER, "general", member=False, team=TEAM)
    slack.add_channel("C0ARCHIVED", "old", archived=True, team=TEAM)
    web = client(slack)
    assert (await error_of(web.chat_postMessage(channel=OTHER, text="hi"))).response["error"] == "not_in_channel"
    assert (await error_of(web.conversations_history(channel=OTHER))).response["error"] == "not_in_channel"
    assert (await error_of(web.chat_postMessage(channel="C0ARCHIVED", text="x"))).response["error"] == "is_archived"
    await web.conversations_join(channel=OTHER)
    await web.chat_postMessage(channel=OTHER, text="hi")
    assert slack.posted[OTHER] == 1


async def test_history_pages_newest_first_with_cursors_and_time_bounds(slack: FakeSlack) -> None:
    web = client(slack)
    stamps = [(await web.chat_postMessage(channel=CHANNEL, text=f"#{n}"))["ts"] for n in range(5)]
    first = await web.conversations_history(channel=CHANNEL, limit=2)
    assert [m["text"] for m in first["messages"]] == ["#4", "#3"] and first["has_more"]
    second = await web.conversations_history(channel=CHANNEL, limit=2, cursor=first["response_metadata"]["next_cursor"])
    last = await web.conversations_history(channel=CHANNEL, limit=2, cursor=second["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"] + last["messages"]] == ["#2", "#1", "#0"]
    assert not last["has_more"] and "response_metadata" not in last
    bounded = await web.conversations_history(channel=CHANNEL, oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in bounded["messages"]] == ["#2"]
    inclusive = await web.conversations_history(channel=CHANNEL, oldest=stamps[1], latest=stamps[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["#3", "#2", "#1"]
    assert (await error_of(web.conversations_history(channel=CHANNEL, cursor="bogus"))).response["error"] == (
        "invalid_cursor"
    )
    texts = []
    async for page in await web.conversations_history(channel=CHANNEL, limit=2):  # the SDK's own paginator
        texts += [m["text"] for m in page["messages"]]
    assert texts == ["#4", "#3", "#2", "#1", "#0"]


async def test_posted_messages_keep_blocks_and_metadata_and_update_and_delete_work_on_the_bots_own(
    slack: FakeSlack,
) -> None:
    web = client(slack)
    text_only = await web.chat_postMessage(channel=CHANNEL, text="plain")
    assert text_only["message"]["blocks"][0]["type"] == "rich_text"  # Slack turns the text into blocks
    with_blocks = await web.chat_postMessage(channel=CHANNEL, text="t", blocks=[SECTION])
    assert with_blocks["message"]["blocks"][0]["type"] == "section" and with_blocks["message"]["blocks"][0]["block_id"]
    updated = await web.chat_update(channel=CHANNEL, ts=with_blocks["ts"], text="edited", blocks=[SECTION])
    assert updated["text"] == "edited" and slack.channel_messages(CHANNEL)[1]["edited"]["user"] == "U0HOTPAPER"
    someone = slack.add_message(CHANNEL, "a human wrote this")
    assert (await error_of(web.chat_delete(channel=CHANNEL, ts=someone["ts"]))).response["error"] == (
        "cant_delete_message"
    )
    assert (await error_of(web.chat_update(channel=CHANNEL, ts=someone["ts"], text="x"))).response["error"] == (
        "cant_update_message"
    )
    await web.chat_delete(channel=CHANNEL, ts=text_only["ts"])
    assert (await error_of(web.chat_delete(channel=CHANNEL, ts=text_only["ts"]))).response["error"] == (
        "message_not_found"
    )
    assert [m["text"] for m in slack.channel_messages(CHANNEL)] == ["edited", "a human wrote this"]
    assert slack.posted[CHANNEL] == 2 and [m["text"] for m in slack.deleted] == ["plain"]
    bad = await error_of(web.chat_postMessage(channel=CHANNEL, text="t", metadata={"event_payload": {}}))
    assert bad.response["error"] == "invalid_metadata_format"


async def test_the_realistic_post_rate_allows_a_short_burst_then_about_one_a_second_per_channel() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock, post_rate=REALISTIC_POST_RATE) as fake:
        fake.add_workspace(TEAM, token=BOT_TOKEN, bot_user="U0HOTPAPER")
        web = client(fake)
        for _ in range(3):
            await web.chat_postMessage(channel=CHANNEL, text="burst")
        error = await error_of(web.chat_postMessage(channel=CHANNEL, text="one too many"))
        assert (error.response.status_code, error.response.headers["Retry-After"]) == (429, "1")
        await web.chat_postMessage(channel=OTHER, text="another channel has its own rate")
        clock.now += 1.0
        await web.chat_postMessage(channel=CHANNEL, text="a second later")
        assert (await error_of(web.chat_postMessage(channel=CHANNEL, text="x"))).response.status_code == 429
        assert fake.posted[CHANNEL] == 4


async def test_every_answer_fits_slacks_published_schema_as_amended_by_the_reference(slack: FakeSlack) -> None:
    web = client(slack)
    slack.add_channel(OTHER, "general", member=False, team=TEAM)
    metadata = {"event_type": "hotpapers_entry", "event_payload": {"key": "k"}}
    posted = await web.chat_postMessage(channel=CHANNEL, text="t", blocks=[SECTION], metadata=metadata)
    await web.chat_postMessage(channel=CHANNEL, text="plain")
    await web.chat_postMessage(channel=CHANNEL, text="in the thread", thread_ts=posted["ts"])
    await web.chat_postMessage(channel=CHANNEL, text="and the channel", thread_ts=posted["ts"], reply_broadcast=True)
    await slack.say(CHANNEL, "a person", thread_ts=posted["ts"], user="U0ALICE001")
    await slack.say(CHANNEL, "a bot", thread_ts=posted["ts"], bot_id="B0OTHERBOT")
    await web.conversations_replies(channel=CHANNEL, ts=posted["ts"], limit=2)
    await web.conversations_replies(channel=CHANNEL, ts=posted["ts"], include_all_metadata=True)
    await web.chat_update(channel=CHANNEL, ts=posted["ts"], text="edited", blocks=[SECTION])
    await web.conversations_history(channel=CHANNEL, include_all_metadata=True, limit=1)
    await web.conversations_history(channel=CHANNEL)
    await web.conversations_info(channel=CHANNEL)
    await web.chat_getPermalink(channel=CHANNEL, message_ts=posted["ts"])
    await web.chat_delete(channel=CHANNEL, ts=posted["ts"])
    for failing in (
        web.chat_postMessage(channel=OTHER, text="t"),
        web.chat_delete(channel=CHANNEL, ts="1700000000.999999"),
        web.chat_update(channel=CHANNEL, ts="1700000000.999999", text="x"),
        web.conversations_history(channel=OTHER),
        web.conversations_info(channel="C0NOWHERE1"),
        web.conversations_replies(channel=CHANNEL, ts="1700000000.999999"),
        web.chat_getPermalink(channel=CHANNEL, message_ts="1700000000.999999"),
        web.chat_getPermalink(channel="C0NOWHERE1", message_ts="1700000000.999999"),
    ):
        await error_of(failing)
    slack.set_scopes(BOT_TOKEN, "chat:write")
    await error_of(web.conversations_history(channel=CHANNEL))
    checked = [c for c in slack.calls if c.method in SLACK_SCHEMA_METHODS]
    assert {c.method for c in checked} == SLACK_SCHEMA_METHODS and {c.ok for c in checked} == {True, False}
    problems = [
        f"{c.method} {c.response.get('error', 'ok')}: {p}" for c in checked for p in slack_errors(c.method, c.response)
    ]
    assert not problems, "\n".join(problems)


async def test_get_permalink_answers_the_workspaces_own_link_and_refuses_what_is_not_there(slack: FakeSlack) -> None:
    web = client(slack)
    token = BOT_TOKEN
    slack.workspaces[token] = dataclasses.replace(slack.workspaces[token], domain="ml-lab")
    parent = (await web.chat_postMessage(channel=CHANNEL, text="a card"))["ts"]
    reply = (await web.chat_postMessage(channel=CHANNEL, text="in its thread", thread_ts=parent))["ts"]
    answer = await web.chat_getPermalink(channel=CHANNEL, message_ts=parent)
    assert answer.data == {
        "ok": True,
        "channel": CHANNEL,
        "permalink": f"https://ml-lab.slack.com/archives/{CHANNEL}/p{parent.replace('.', '')}",
    }
    threaded = (await web.chat_getPermalink(channel=CHANNEL, message_ts=reply))["permalink"]
    assert threaded == (
        f"https://ml-lab.slack.com/archives/{CHANNEL}/p{reply.replace('.', '')}?thread_ts={parent}&cid={CHANNEL}"
    )
    slack.set_scopes(BOT_TOKEN, "chat:write")  # no scope is needed
    assert (await web.chat_getPermalink(channel=CHANNEL, message_ts=parent))["ok"]
    await web.chat_delete(channel=CHANNEL, ts=parent)
    refused = [
        (await error_of(web.chat_getPermalink(channel=channel, message_ts=ts))).response["error"]
        for channel, ts in ((CHANNEL, parent), (CHANNEL, "1700000000.999999"), ("C0NOWHERE1", reply))
    ]
    assert refused == ["message_not_found", "message_not_found", "channel_not_found"]


# -- threads, message events and buttons (issues 18 and 19) ---------------------------------------------------------

SECRET = "fake-signing-secret"
ACTIONS = {
    "type": "actions",
    "block_id": "poll",
    "elements": [
        {"type": "button", "action_id": "jc_vote", "value": paper, "text": {"type": "plain_text", "text": paper}}
        for paper in ("2010.00577", "2101.00001", "2102.00002")
    ],
}


class Bolt:
    """A real slack-bolt AsyncApp served over HTTP on 127.0.0.1, subscribed at the fake; what its listeners saw."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()

    async def saw(self, item: dict[str, Any]) -> None:
        async with self._changed:
            self.seen.append(item)
            self._changed.notify_all()

    async def wait_seen(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.seen) >= count)
        return self.seen


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[Bolt]:
    app = AsyncApp(client=client(slack), signing_secret=SECRET)
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/slack/events"
    slack.subscribe_app({"message.channels", "message.groups"}, request_url=url, signing_secret=SECRET)
    yield Bolt(app)
    await runner.cleanup()


async def test_replies_posted_with_thread_ts_live_in_their_thread_and_conversations_replies_pages_them(
    slack: FakeSlack,
) -> None:
    web_client = client(slack)
    root = await web_client.chat_postMessage(channel=CHANNEL, text="A paper")
    first = await web_client.chat_postMessage(channel=CHANNEL, text="Discuss here", thread_ts=root["ts"])
    assert first["message"]["thread_ts"] == root["ts"] and first["message"]["parent_user_id"] == "U0HOTPAPER"
    await slack.say(CHANNEL, "great paper", thread_ts=root["ts"], user="U0ALICE001")
    broadcast = await web_client.chat_postMessage(
        channel=CHANNEL, text="also in the channel", thread_ts=root["ts"], reply_broadcast=True
    )
    assert broadcast["message"]["subtype"] == "thread_broadcast" and broadcast["message"]["root"]["ts"] == root["ts"]
    history = await web_client.conversations_history(channel=CHANNEL)
    assert [m["text"] for m in history["messages"]] == ["also in the channel", "A paper"]  # replies stay in the thread
    parent = history["messages"][1]
    assert (parent["thread_ts"], parent["reply_count"], parent["reply_users_count"]) == (root["ts"], 3, 2)
    assert parent["reply_users"] == ["U0HOTPAPER", "U0ALICE001"] and parent["latest_reply"] == broadcast["ts"]
    thread = await web_client.conversations_replies(channel=CHANNEL, ts=root["ts"])
    texts = ["A paper", "Discuss here", "great paper", "also in the channel"]
    assert [m["text"] for m in thread["messages"]] == texts and not thread["has_more"]
    assert [m["text"] for m in slack.thread(CHANNEL, root["ts"])] == texts[1:]
    paged: list[str] = []
    async for page in await web_client.conversations_replies(channel=CHANNEL, ts=root["ts"], limit=3):
        paged += [m["text"] for m in page["messages"]]
    assert paged == texts
    by_reply = await web_client.conversations_replies(channel=CHANNEL, ts=first["ts"])  # a reply names its thread
    assert [m["text"] for m in by_reply["messages"]] == texts
    alone = await web_client.chat_postMessage(channel=CHANNEL, text="no replies")
    assert [
        m["text"] for m in (await web_client.conversations_replies(channel=CHANNEL, ts=alone["ts"]))["messages"]
    ] == ["no replies"]
    missing = await error_of(web_client.conversations_replies(channel=CHANNEL, ts="1700000000.999999"))
    assert missing.response["error"] == "thread_not_found"
    slack.faults.inject("conversations.replies", "ratelimited", retry_after=30)  # every fault mode applies here too
    limited = await error_of(web_client.conversations_replies(channel=CHANNEL, ts=root["ts"]))
    assert (limited.response.status_code, limited.response.headers["Retry-After"]) == (429, "30")
    slack.set_scopes(BOT_TOKEN, "chat:write")
    refused = await error_of(web_client.conversations_replies(channel=CHANNEL, ts=root["ts"]))
    assert (refused.response["error"], refused.response["needed"]) == ("missing_scope", "channels:history")


async def test_update_and_delete_work_on_the_bots_replies_and_keep_the_parents_counts(slack: FakeSlack) -> None:
    web_client = client(slack)
    root = await web_client.chat_postMessage(channel=CHANNEL, text="A paper")
    reply = await web_client.chat_postMessage(channel=CHANNEL, text="Discuss", thread_ts=root["ts"])
    person = await slack.say(CHANNEL, "mine", thread_ts=root["ts"])
    updated = await web_client.chat_update(channel=CHANNEL, ts=reply["ts"], text="Discuss (2 people)")
    assert updated["message"]["text"] == "Discuss (2 people)" and slack.thread(CHANNEL, root["ts"])[0]["edited"]
    error = await error_of(web_client.chat_update(channel=CHANNEL, ts=person["ts"], text="x"))
    assert error.response["error"] == "cant_update_message"
    await web_client.chat_delete(channel=CHANNEL, ts=reply["ts"])
    assert [m["text"] for m in slack.thread(CHANNEL, root["ts"])] == ["mine"]
    assert slack.channel_messages(CHANNEL)[0]["reply_count"] == 1
    await slack.delete(CHANNEL, person["ts"])  # nobody subscribed: stored only
    assert "reply_count" not in slack.channel_messages(CHANNEL)[0] and not slack.thread(CHANNEL, root["ts"])


async def test_people_replying_deleting_and_other_bots_reach_a_bolt_app_as_message_events(
    slack: FakeSlack, bolt: Bolt
) -> None:
    @bolt.app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await bolt.saw(event)

    root = await client(slack).chat_postMessage(channel=CHANNEL, text="A paper")
    await slack.wait_for_deliveries(1)  # the app's own message is delivered to it too ...
    assert slack.deliveries[0].event["bot_id"] == f"B{TEAM}" and slack.deliveries[0].status == 200
    reply = await slack.say(CHANNEL, "I loved section 3", thread_ts=root["ts"], user="U0ALICE001")
    (said,) = await bolt.wait_seen(1)  # ... and bolt drops it (ignoring_self_events): the person's reply is first
    assert (said["type"], said["channel"], said["user"], said["text"]) == (
        "message",
        CHANNEL,
        "U0ALICE001",
        reply["text"],
    )
    assert (said["thread_ts"], said["ts"], said["channel_type"], said["parent_user_id"]) == (
        root["ts"],
        reply["ts"],
        "channel",
        "U0HOTPAPER",
    )
    assert "subtype" not in said
    await slack.say(CHANNEL, "beep", thread_ts=root["ts"], bot_id="B0OTHERBOT")
    robot = (await bolt.wait_seen(2))[1]
    assert (robot["subtype"], robot["bot_id"], robot.get("user")) == ("bot_message", "B0OTHERBOT", None)
    await slack.delete(CHANNEL, reply["ts"])
    deleted = (await bolt.wait_seen(3))[2]
    assert (deleted["subtype"], deleted["deleted_ts"], deleted["hidden"]) == ("message_deleted", reply["ts"], True)
    previous = deleted["previous_message"]
    assert (previous["user"], previous["thread_ts"], previous["ts"]) == ("U0ALICE001", root["ts"], reply["ts"])
    delivered = slack.deliveries[-1].body
    assert delivered["type"] == "event_callback" and delivered["event_id"].startswith("Ev")
    assert delivered["authorizations"][0]["user_id"] == "U0HOTPAPER"


async def test_the_apps_manifest_decides_which_events_are_delivered(slack: FakeSlack, bolt: Bolt) -> None:
    manifest = Path(__file__).parents[3] / "adapters" / "slack" / "manifest.yaml"
    events = manifest_events(manifest)
    assert {"reaction_added", "reaction_removed"} <= events
    slack.bot_events = events

    @bolt.app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        await bolt.saw(event)

    reaction = {"type": "reaction_added", "user": "U0ALICE001", "reaction": "+1", "event_ts": "1700000100.000200"}
    reaction["item"] = {"type": "message", "channel": CHANNEL, "ts": "1700000001.000001"}
    delivered = await slack.deliver_event(reaction)
    assert delivered is not None and delivered.status == 200 and (await bolt.wait_seen(1))[0] == reaction
    said = await slack.say(CHANNEL, "a reply")
    assert (slack.deliveries[-1].event.get("ts") == said["ts"]) is ("message.channels" in events)


async def test_message_events_need_the_subscription_and_the_history_scope_of_the_channels_kind(
    slack: FakeSlack, bolt: Bolt
) -> None:
    slack.add_channel("G0PRIVATE1", "lab", private=True, team=TEAM)
    private = await slack.say("G0PRIVATE1", "secret lab chatter")
    assert slack.deliveries[-1].event["channel_type"] == "group" and slack.deliveries[-1].event["ts"] == private["ts"]
    slack.bot_events = {"message.channels"}
    assert await slack.deliver_event({"type": "message", "channel": "G0PRIVATE1", "channel_type": "group"}) is None
    slack.set_scopes(BOT_TOKEN, "chat:write", "groups:history")  # channels:history lacking: no public events
    count = len(slack.deliveries)
    await slack.say(CHANNEL, "unheard")
    assert len(slack.deliveries) == count and slack.channel_messages(CHANNEL)[-1]["text"] == "unheard"
    slack.bot_events = set()
    slack.set_scopes(BOT_TOKEN, *sorted(DEFAULT_SCOPES))
    await client(slack).chat_postMessage(channel=CHANNEL, text="nobody subscribed: no echo")
    assert len(slack.deliveries) == count


async def test_a_button_per_paper_is_clicked_by_several_people_and_chat_update_shows_the_counts(
    slack: FakeSlack, bolt: Bolt
) -> None:
    votes: dict[str, str] = {}

    @bolt.app.action("jc_vote")
    async def on_vote(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        votes[body["user"]["id"]] = action["value"]  # one vote per person, changeable
        counted = {p: sum(v == p for v in votes.values()) for p in {e["value"] for e in ACTIONS["elements"]}}
        text = ", ".join(f"{p}: {n}" for p, n in sorted(counted.items()))
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, ACTIONS]
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text=text, blocks=blocks)
        await bolt.saw(body)

    poll = await client(slack).chat_postMessage(channel=CHANNEL, text="Journal club", blocks=[ACTIONS])
    for n, (user, paper) in enumerate([("U0ALICE001", "2010.00577"), ("U0BOB00001", "2101.00001")], start=1):
        delivery = await slack.click(CHANNEL, poll["ts"], "jc_vote", user=user, value=paper)
        assert delivery.kind == "interactive" and delivery.status == 200
        await bolt.wait_seen(n)
    await slack.click(CHANNEL, poll["ts"], "jc_vote", user="U0ALICE001", value="2101.00001")  # a changed vote
    body = (await bolt.wait_seen(3))[2]
    assert (body["type"], body["user"]["id"], body["container"]["message_ts"]) == (
        "block_actions",
        "U0ALICE001",
        poll["ts"],
    )
    assert (body["actions"][0]["action_id"], body["actions"][0]["block_id"]) == ("jc_vote", "poll")
    assert body["message"]["ts"] == poll["ts"] and body["response_url"].startswith(slack.url)
    assert "2010.00577: 1" in body["message"]["text"]  # the message as it was when clicked: after the first update
    (stored,) = slack.channel_messages(CHANNEL)
    assert stored["text"] == "2010.00577: 0, 2101.00001: 2, 2102.00002: 0" and stored["edited"]["user"] == "U0HOTPAPER"
    with pytest.raises(LookupError):
        await slack.click(CHANNEL, poll["ts"], "jc_vote", value="9999.99999")  # no such button: nobody can click it


async def test_in_socket_mode_events_and_clicks_arrive_as_envelopes_the_app_acks(slack: FakeSlack) -> None:
    app_token = "xapp-1-A111-1-fake"
    slack.app_tokens.add(app_token)
    bolt = Bolt(AsyncApp(client=client(slack), signing_secret="unused-in-socket-mode"))

    @bolt.app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await bolt.saw(event)

    @bolt.app.action("jc_vote")
    async def on_vote(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await bolt.saw(body)

    handler = AsyncSocketModeHandler(bolt.app, app_token, web_client=AsyncWebClient(base_url=slack.api_url))
    await handler.connect_async()
    try:
        await asyncio.wait_for(slack.socket.connected.wait(), WAIT)
        slack.subscribe_app({"message.channels"})  # no request URL: the socket carries everything
        poll = await client(slack).chat_postMessage(channel=CHANNEL, text="Journal club", blocks=[ACTIONS])
        said = await slack.say(CHANNEL, "count me in", thread_ts=poll["ts"], user="U0ALICE001")
        assert (await bolt.wait_seen(1))[0]["ts"] == said["ts"]
        clicked = await slack.click(CHANNEL, poll["ts"], "jc_vote", user="U0ALICE001", value="2102.00002")
        assert (clicked.kind, clicked.status) == ("interactive", 200) and clicked.answer["envelope_id"]
        assert (await bolt.wait_seen(2))[1]["actions"][0]["value"] == "2102.00002"
        assert [d.kind for d in slack.deliveries] == ["events_api", "events_api", "interactive"]  # own post echoed
    finally:
        await handler.close_async()
