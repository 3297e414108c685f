"""The fake Slack is only worth its tests if it refuses what Slack refuses: checked here with the real client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.publisher import SlackPublisher, static_tokens
from bot.errors import Undeliverable
from bot.model import ChannelRef
from tests.fakes.slack_server import FakeSlack

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
        async with http.post(fake.api_url + "chat.postMessage", data=b"<xml/>",
                             headers={"Content-Type": "application/xml"}) as response:  # fmt: skip
            assert (await response.json())["error"] == "invalid_form_data"


async def test_a_rejected_token_is_a_refusal_of_the_whole_workspace_naming_slacks_error_but_no_token(
    fake: FakeSlack,
) -> None:
    publisher = SlackPublisher(AsyncWebClient(base_url=fake.api_url), static_tokens("xoxb-revoked"))
    with pytest.raises(Undeliverable, match="invalid_auth") as caught:
        await publisher.say(ChannelRef("slack", "T111", "C1"), "hello")
    assert "xoxb" not in str(caught.value) and caught.value.scope == "workspace"
