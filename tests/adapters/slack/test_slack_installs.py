"""Slack installs as they really are: Enterprise Grid workspaces and org-wide installs, rotating tokens refreshed
before they expire (incoming requests and digests alike), one auth.test per token, and uninstalls or revoked tokens
pausing the workspace's digests in every mode. Real bolt, fake Slack, the fake's clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.slack.uninstalls import FIX, REVOKED, UNINSTALLED
from bot.app.service import HotPapers
from bot.domain.errors import Undeliverable
from bot.domain.model import ChannelRef, ChannelSettings
from tests.adapters.slack.support import TEAM, Harness, Watched, payload, serving
from tests.fakes.slack_server import FakeSlack, Workspace

GRID = Workspace(team_id="T777", bot_token="xoxb-T777-grid", bot_user_id="UBOT7", bot_id="BT777", enterprise_id="E1")
ORG = Workspace(
    team_id="T888",
    bot_token="xoxb-E2-org",
    bot_user_id="UBOT8",
    bot_id="BE2",
    enterprise_id="E2",
    is_enterprise_install=True,
)
PLAIN = Workspace(team_id="T999", bot_token="xoxb-T999-installed", bot_user_id="UBOT9", bot_id="BT999")
NOW = [1000.0]


def paused(settings: ChannelSettings, reason: str) -> bool:
    """The channel's digest is paused for its workspace, with Slack's reason and the fix in words."""
    pause = settings.paused
    return pause is not None and (pause.scope, pause.reason, pause.fix) == ("workspace", reason, FIX)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    NOW[0] = 1000.0
    async with FakeSlack(clock=lambda: NOW[0]) as fake:
        fake.oauth_codes |= {"grid": GRID, "org": ORG, "plain": PLAIN}
        fake.users["UADMIN"] = {"id": "UADMIN", "name": "root", "is_admin": True}
        for channel in ("C777", "C888", "C999", "C111"):
            fake.conversations[channel] = {"id": channel, "creator": "UADMIN"}
        yield fake


@pytest.fixture
async def bot(oauth_bot: Harness) -> Harness:
    return oauth_bot


async def install(bot: Harness, code: str) -> None:
    async with bot.http.get(bot.server.url + "/slack/install") as page:
        state = page.cookies["slack-app-oauth-state"].value
    headers = {"Cookie": f"slack-app-oauth-state={state}"}
    async with bot.http.get(
        bot.server.url + "/slack/oauth_redirect", params={"code": code, "state": state}, headers=headers
    ) as done:
        assert done.status == 200, await done.text()


async def subscribe(bot: Harness, workspace: Workspace, channel: str, hook: str) -> dict[str, Any]:
    grid = {
        "enterprise_id": workspace.enterprise_id or "",
        "is_enterprise_install": "true" if workspace.is_enterprise_install else "false",
    }
    await bot.slack.command(
        "/hotpapers",
        "subscribe top=2",
        response_url=bot.fake.response_url(hook),
        team_id=workspace.team_id,
        channel_id=channel,
        user_id="UADMIN",
        **grid,
    )
    (answer,) = [r for r in await bot.fake.wait_for_responses(len(bot.fake.hooks)) if r.hook == hook]
    return answer.body


def event(kind: str, team: str, *, enterprise: str | None = None, org_wide: bool = False, **fields: Any) -> dict:
    body = payload("reaction_added")
    body |= {
        "team_id": team,
        "enterprise_id": enterprise,
        "event_id": f"Ev-{kind}-{team}",
        "event": {"type": kind, **fields},
    }
    body["authorizations"] = [
        {
            "enterprise_id": enterprise,
            "team_id": None if org_wide else team,
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": org_wide,
        }
    ]
    body["is_enterprise_install"] = org_wide
    return body


async def test_a_grid_workspace_install_is_served_and_gets_its_digest(bot: Harness, hotpapers: HotPapers) -> None:
    await install(bot, "grid")
    answer = await subscribe(bot, GRID, "C777", "g1")
    assert answer["response_type"] == "in_channel"  # bolt found the token under (E1, T777)
    result = await hotpapers.post_digest(ChannelRef("slack", "T777", "C777"), None, bot.server.publisher)
    assert result.posted == 2
    assert {c.token for c in bot.fake.calls_to("chat.postMessage")} == {GRID.bot_token}


async def test_an_org_wide_install_serves_each_workspace_of_the_org_and_posts_its_digest(
    bot: Harness, hotpapers: HotPapers
) -> None:
    await install(bot, "org")
    store = bot.server.app.installation_store
    assert store is not None
    stored = await store.async_find_bot(enterprise_id="E2", team_id=None, is_enterprise_install=True)
    assert stored is not None and stored.bot_token == ORG.bot_token  # kept for the org, without a team
    answer = await subscribe(bot, ORG, "C888", "o1")
    assert answer["response_type"] == "in_channel"
    result = await hotpapers.post_digest(ChannelRef("slack", "T888", "C888"), None, bot.server.publisher)
    assert result.posted == 2 and {c.token for c in bot.fake.calls_to("chat.postMessage")} == {ORG.bot_token}


async def test_one_auth_test_per_token_not_one_per_request(bot: Harness) -> None:
    await install(bot, "plain")
    installing = len(bot.fake.calls_to("auth.test"))  # bolt's install flow asks once for the bot id
    for n in range(3):
        await subscribe(bot, PLAIN, "C999", f"p{n}")
    assert len(bot.fake.calls_to("auth.test")) == installing + 1


async def test_a_rotating_token_is_refreshed_before_it_expires_for_requests_and_digests(
    bot: Harness, hotpapers: HotPapers
) -> None:
    bot.fake.rotation, bot.fake.token_lifetime = True, 3600.0  # expires inside the 120-minute refresh window
    await install(bot, "plain")
    first = next(token for token in bot.fake.expiry)
    NOW[0] += 3600.0  # at Slack, the installed token has now expired
    answer = await subscribe(bot, PLAIN, "C999", "r1")
    assert answer["response_type"] == "in_channel"
    refreshes = [c for c in bot.fake.calls_to("oauth.v2.access") if c.args.get("grant_type") == "refresh_token"]
    assert refreshes and all(c.ok for c in refreshes)
    used = [c for c in bot.fake.calls if c.method not in ("oauth.v2.access",) and c.token]
    assert all(c.ok for c in used[1:]) and first not in {c.token for c in used[1:]}  # after the install
    result = await hotpapers.post_digest(ChannelRef("slack", "T999", "C999"), None, bot.server.publisher)
    posts = bot.fake.calls_to("chat.postMessage")
    assert result.posted == 2 and all(c.ok for c in posts) and first not in {c.token for c in posts}


async def test_a_token_far_from_expiry_is_not_refreshed(bot: Harness) -> None:
    bot.fake.rotation = True  # 12-hour tokens
    await install(bot, "plain")
    await subscribe(bot, PLAIN, "C999", "n1")
    assert [c.args.get("grant_type") for c in bot.fake.calls_to("oauth.v2.access")] == [None]


async def test_uninstalling_deletes_the_tokens_and_pauses_the_workspaces_digests(
    bot: Harness, hotpapers: HotPapers, watched: Watched
) -> None:
    await install(bot, "plain")
    await subscribe(bot, PLAIN, "C999", "u1")
    there = ChannelRef("slack", "T999", "C999")
    assert (await hotpapers.settings(there)).paused is None
    assert (await bot.slack.event(event("app_uninstalled", "T999"))).status == 200
    await watched.wait_finished("pause_workspace", 1)
    store = bot.server.app.installation_store
    assert store is not None and await store.async_find_bot(enterprise_id=None, team_id="T999") is None
    assert paused(await hotpapers.settings(there), UNINSTALLED)
    with pytest.raises(Undeliverable, match="not installed in this Slack workspace"):
        await bot.server.publisher.say(there, "hello")


async def test_an_org_wide_uninstall_pauses_every_workspace_of_the_org(
    bot: Harness, hotpapers: HotPapers, watched: Watched
) -> None:
    await install(bot, "org")
    await subscribe(bot, ORG, "C888", "o2")
    await bot.slack.event(event("app_uninstalled", "T888", enterprise="E2", org_wide=True))
    await watched.wait_finished("pause_workspace", 1)
    assert paused(await hotpapers.settings(ChannelRef("slack", "T888", "C888")), UNINSTALLED)
    store = bot.server.app.installation_store
    assert store is not None
    assert await store.async_find_bot(enterprise_id="E2", team_id=None, is_enterprise_install=True) is None


async def test_revoked_user_tokens_alone_change_nothing_but_a_revoked_bot_token_pauses(
    bot: Harness, hotpapers: HotPapers, watched: Watched
) -> None:
    await install(bot, "plain")
    await subscribe(bot, PLAIN, "C999", "v1")
    there = ChannelRef("slack", "T999", "C999")
    await bot.slack.event(event("tokens_revoked", "T999", tokens={"oauth": ["UINSTALLER"], "bot": []}))
    revoked = event("tokens_revoked", "T999", tokens={"oauth": [], "bot": ["UBOT9"]})
    revoked["event_id"] = "Ev-revoked-bot"
    await bot.slack.event(revoked)
    await watched.wait_finished("pause_workspace", 1)
    assert watched.called.count("pause_workspace") == 1  # the user tokens alone paused nothing
    assert paused(await hotpapers.settings(there), REVOKED)


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
async def test_a_single_workspace_app_pauses_its_digests_too(hotpapers: HotPapers, fake: FakeSlack, kind: str) -> None:
    here = ChannelRef("slack", TEAM, "C111")
    await hotpapers.subscribe(here)
    watched = Watched(hotpapers)
    async with serving(watched, fake) as single:
        await single.slack.event(event(kind, TEAM, tokens={"oauth": [], "bot": ["UBOT"]}))
        await watched.wait_finished("pause_workspace", 1)
        assert paused(await hotpapers.settings(here), UNINSTALLED if kind == "app_uninstalled" else REVOKED)
        with pytest.raises(Undeliverable, match="not installed"):
            await single.server.publisher.say(here, "hello")
