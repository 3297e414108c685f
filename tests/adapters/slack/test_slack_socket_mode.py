"""Socket Mode: the same app over the SDK's WebSocket client, against a fake apps.connections.open + /link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.slack.server import SlackServer
from adapters.slack.settings import Secrets, Settings
from bot.app.service import HotPapers
from bot.domain.errors import ConfigError
from bot.domain.model import ChannelRef
from tests.adapters.slack.support import CHANNEL, TEAM, Harness, Watched, payload, reaction, serving
from tests.fakes.slack_server import WAIT, FakeSlack

APP_TOKEN = "xapp-1-A111-1111-socket"
HERE = ChannelRef("slack", TEAM, CHANNEL)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.app_tokens.add(APP_TOKEN)
        yield fake


@pytest.fixture
async def bot(watched: Watched, fake: FakeSlack) -> AsyncIterator[Harness]:
    token = fake.add_workspace(TEAM).bot_token
    secrets = Secrets(bot_token=token, app_token=APP_TOKEN)  # no signing secret: Socket Mode needs none
    async with serving(watched, fake, mode="socket", secrets=secrets) as harness:
        yield harness


async def test_the_app_opens_a_socket_with_the_app_token_and_reports_it_healthy(bot: Harness) -> None:
    (opened,) = bot.fake.calls_to("apps.connections.open")
    assert opened.ok and opened.token == APP_TOKEN
    await asyncio.wait_for(bot.fake.socket.connected.wait(), WAIT)
    async with bot.http.get(bot.server.url + "/healthz") as response:
        assert (await response.json())["socket_connected"] is True
    async with bot.http.post(bot.server.url + "/slack/events", data=b"{}") as response:
        assert response.status == 404  # no HTTP events endpoint in socket mode


async def test_a_slash_command_envelope_is_acked_and_answered_through_response_url(bot: Harness) -> None:
    command = payload("slash_command") | {"text": "2010.00577", "response_url": bot.fake.response_url("sock")}
    ack = await bot.fake.send_envelope("slash_commands", command)
    assert ack["envelope_id"] == "env-1"
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.status == 200 and answer.body["response_type"] == "in_channel"
    assert answer.body["blocks"][0]["type"] == "header"


async def test_a_retried_reaction_envelope_counts_once(bot: Harness, watched: Watched, hotpapers: HotPapers) -> None:
    await hotpapers.subscribe(HERE)
    await hotpapers.post_digest(HERE, None, bot.server.publisher)
    posted = bot.fake.calls_to("chat.postMessage")[1]
    paper_id = posted.args["blocks"][-1]["elements"][0]["value"]
    event = reaction("thumbsup::skin-tone-2", ts=posted.response["ts"], event_id="EvSock1")
    assert (await bot.fake.send_envelope("events_api", event))["envelope_id"] == "env-1"
    assert (await bot.fake.send_envelope("events_api", event, retry_attempt=1))["envelope_id"] == "env-2"
    await watched.wait_finished("record_reaction", 2)
    assert (await hotpapers.paper(paper_id, HERE)).votes.up == 1


async def test_a_refused_app_token_fails_start_up_with_a_config_error_and_leaves_nothing_listening(
    hotpapers: HotPapers, fake: FakeSlack
) -> None:
    secrets = Secrets(bot_token=fake.add_workspace(TEAM).bot_token, app_token="xapp-revoked")
    settings = Settings.parse(
        {"enabled": True, "mode": "socket", "host": "127.0.0.1", "port": 0, "api_url": fake.api_url}
    )
    server = SlackServer(hotpapers, settings, secrets)
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN.*invalid_auth") as caught:
        await server.start()
    assert "xapp-revoked" not in str(caught.value)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(server.url + "/healthz")


async def test_an_uninstall_over_the_socket_pauses_the_workspaces_digests(
    bot: Harness, watched: Watched, hotpapers: HotPapers
) -> None:
    await hotpapers.subscribe(HERE)
    body = payload("reaction_added") | {"event_id": "EvGone", "event": {"type": "app_uninstalled"}}
    await bot.fake.send_envelope("events_api", body)
    await watched.wait_finished("pause_workspace", 1)
    pause = (await hotpapers.settings(HERE)).paused
    assert pause is not None and pause.scope == "workspace" and "uninstalled" in pause.reason
