"""Multi-workspace OAuth: install → callback → stored installation (slack_sdk's SQLAlchemy stores) → used per team."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect

from bot.app.service import HotPapers
from bot.domain.errors import Undeliverable
from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from tests.adapters.slack.support import Harness, Watched
from tests.fakes.slack_server import FakeSlack, Workspace

NEW_TEAM = Workspace(team_id="T999", bot_token="xoxb-T999-installed", bot_user_id="UBOT9", bot_id="BT999")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.oauth_codes["code-1"] = NEW_TEAM
        fake.users["UADMIN"] = {"id": "UADMIN", "name": "root", "is_admin": True}
        fake.conversations["C999"] = {"id": "C999", "creator": "UADMIN"}
        yield fake


@pytest.fixture
async def bot(oauth_bot: Harness) -> Harness:
    return oauth_bot


async def install(bot: Harness, *, code: str = "code-1", tamper: bool = False) -> tuple[int, str]:
    async with bot.http.get(bot.server.url + "/slack/install") as page:
        assert page.status == 200
        state = page.cookies["slack-app-oauth-state"].value
        assert f"state={state}" in await page.text()
    # bolt marks the state cookie Secure, so a client would not send it back over http: send it by hand.
    query = {"code": code, "state": "forged" if tamper else state}
    headers = {"Cookie": f"slack-app-oauth-state={state}"}
    async with bot.http.get(bot.server.url + "/slack/oauth_redirect", params=query, headers=headers) as done:
        return done.status, await done.text()


async def test_installing_stores_the_workspace_token_in_slack_sdks_tables_on_the_project_database(
    bot: Harness, adapter_app: App
) -> None:
    status, page = await install(bot)
    assert status == 200 and "Thank you!" in page
    (access,) = bot.fake.calls_to("oauth.v2.access")
    assert access.ok and access.args["code"] == "code-1" and access.headers["Authorization"].startswith("Basic ")
    store = bot.server.app.installation_store
    assert store is not None
    found = await store.async_find_bot(enterprise_id=None, team_id="T999")
    assert found is not None and found.bot_token == NEW_TEAM.bot_token and found.bot_user_id == "UBOT9"
    async with adapter_app.engine.connect() as connection:  # the app's own engine: no second one
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert {"slack_installations", "slack_bots", "slack_oauth_states", "papers"} <= tables


async def test_the_installed_workspaces_commands_and_digest_use_its_own_token(
    bot: Harness, hotpapers: HotPapers
) -> None:
    await install(bot)
    await bot.slack.command(
        "/hotpapers",
        "subscribe top=2",
        response_url=bot.fake.response_url(1),
        team_id="T999",
        channel_id="C999",
        user_id="UADMIN",
    )
    (answer,) = await bot.fake.wait_for_responses(1)
    assert answer.body["response_type"] == "in_channel"
    assert {call.token for call in bot.fake.calls_to("users.info")} == {NEW_TEAM.bot_token}
    there = ChannelRef("slack", "T999", "C999")
    result = await hotpapers.post_digest(there, None, bot.server.publisher)
    assert result.posted == 2
    assert {call.token for call in bot.fake.calls_to("chat.postMessage")} == {NEW_TEAM.bot_token}


async def test_a_forged_state_installs_nothing(bot: Harness) -> None:
    status, _ = await install(bot, tamper=True)
    assert status >= 400 and bot.fake.calls_to("oauth.v2.access") == []
    store = bot.server.app.installation_store
    assert store is not None and await store.async_find_bot(enterprise_id=None, team_id="T999") is None


async def test_a_workspace_that_never_installed_the_app_is_not_served(bot: Harness, watched: Watched) -> None:
    reply = await bot.slack.command("/paper", "2010.00577", response_url=bot.fake.response_url(1), team_id="T000")
    assert reply.status == 200
    (answer,) = await bot.fake.wait_for_responses(1)  # bolt tells the user through the command's response_url
    assert "no longer available" in answer.body["text"] and watched.called == []
    with pytest.raises(Undeliverable, match="not installed in this Slack workspace") as caught:
        await bot.server.publisher.say(ChannelRef("slack", "T000", "C1"), "hello")
    assert caught.value.scope == "workspace"
