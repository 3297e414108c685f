"""The adapter as `hotpapers run` sees it: `run()`'s lifecycle, and the manifest matching what the app serves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

import adapters.slack
from adapters.slack.commands import COMMANDS
from adapters.slack.events import BOT_EVENTS
from adapters.slack.journal_club import COMMAND as JOURNAL_CLUB
from adapters.slack.settings import BOT_SCOPES, Settings
from bot.app.service import HotPapers
from bot.domain.config import Config
from bot.domain.errors import ConfigError
from bot.domain.model import ChannelRef
from bot.domain.ports import Publisher
from tests.adapters.slack.support import CHANNEL, SECRET, TEAM, Harness, serving
from tests.fakes.slack_server import WAIT, FakeSlack

MANIFEST = Path(adapters.slack.__file__).parent / "manifest.yaml"


@pytest.fixture
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


class Registry(dict[str, Publisher]):
    """The scheduler's publisher registry, with a way to wait for an adapter to register."""

    def __init__(self) -> None:
        super().__init__()
        self.registered = asyncio.Event()

    def __setitem__(self, key: str, value: Publisher) -> None:
        super().__setitem__(key, value)
        self.registered.set()


async def test_run_serves_until_cancelled_and_lends_its_publisher_to_the_scheduler_meanwhile(
    hotpapers: HotPapers, fake: FakeSlack, tmp_path: Path
) -> None:
    token = fake.add_workspace(TEAM).bot_token
    publishers = Registry()
    table = {"enabled": True, "host": "127.0.0.1", "port": 0, "api_url": fake.api_url}
    config = Config.model_validate({"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'adapter.db'}"}})
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": token}
    running = asyncio.create_task(adapters.slack.run(hotpapers, table, config=config, publishers=publishers, env=env))
    await asyncio.wait_for(publishers.registered.wait(), WAIT)
    publisher = publishers["slack"]
    assert isinstance(publisher, Publisher) and publisher.platform == "slack"
    posted = await publisher.say(ChannelRef("slack", TEAM, CHANNEL), "hello <!here>")
    (call,) = fake.calls_to("chat.postMessage")
    assert call.token == token and call.args["text"] == "hello &lt;!here&gt;"
    assert posted.message_id == call.response["ts"]
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert "slack" not in publishers


async def test_run_does_nothing_when_disabled_and_names_a_missing_secret(hotpapers: HotPapers) -> None:
    assert await adapters.slack.run(hotpapers, {}, config=Config(), env={}) is None
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN"):
        await adapters.slack.run(hotpapers, {"enabled": True}, config=Config(), env={})
    with pytest.raises(ConfigError, match=r"slack\.mode"):
        await adapters.slack.run(hotpapers, {"enabled": True, "mode": "carrier-pigeon"}, config=Config(), env={})


def test_the_manifest_declares_exactly_the_commands_events_and_scopes_the_app_uses(manifest: dict[str, Any]) -> None:
    commands = [entry["command"] for entry in manifest["features"]["slash_commands"]]
    assert sorted(commands) == sorted([*COMMANDS, JOURNAL_CLUB])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {*BOT_EVENTS, "app_uninstalled", "tokens_revoked"}
    assert manifest["oauth_config"]["scopes"]["bot"] == sorted(BOT_SCOPES)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_manifests_urls_point_at_the_paths_the_server_serves(manifest: dict[str, Any]) -> None:
    defaults = Settings()
    urls = [entry["url"] for entry in manifest["features"]["slash_commands"]]
    urls += [manifest["settings"][key]["request_url"] for key in ("event_subscriptions", "interactivity")]
    assert all(url.startswith("https://") and url.endswith(defaults.events_path) for url in urls)
    assert all(url.endswith(defaults.redirect_path) for url in manifest["oauth_config"]["redirect_urls"])


async def test_every_command_in_the_manifest_is_answered_by_the_app(
    hotpapers: HotPapers, fake: FakeSlack, manifest: dict[str, Any]
) -> None:
    async with serving(hotpapers, fake) as bot:
        commands = [entry["command"] for entry in manifest["features"]["slash_commands"]]
        assert [await _send(bot, command, n) for n, command in enumerate(commands)] == [200] * 5
        assert await _send(bot, "/not-in-the-manifest", 9) == 404  # what bolt answers a command nobody handles
        await fake.wait_for_responses(3)  # /summarize without a reference answers in its ack instead


async def _send(bot: Harness, command: str, n: int) -> int:
    return (await bot.slack.command(command, "", response_url=bot.fake.response_url(n))).status
