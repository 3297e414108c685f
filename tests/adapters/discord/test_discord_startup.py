"""Starting the Discord adapter: login, intents, command sync, sharding, reconnects, and `run`'s one-line errors."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import discord
import pytest

import adapters.discord
from adapters.discord.client import ShardedHotPapersBot
from adapters.discord.publisher import DiscordPublisher
from bot.app.service import HotPapers
from bot.domain.config import Config
from bot.domain.errors import ConfigError, UpstreamUnavailable
from tests.adapters.discord.support import StartBot, command
from tests.fakes.discord_server import APP_ID, GUILD_ID, FakeDiscord, _error

GUILDS_MESSAGES_AND_REACTIONS = (1 << 0) | (1 << 9) | (1 << 10)
"""GUILDS, GUILD_MESSAGES (replies in discussion threads) and GUILD_MESSAGE_REACTIONS: nothing privileged."""
GUILD_MESSAGE_POLLS = 1 << 24
"""The journal club's live poll votes (not privileged either)."""
COMMANDS = rf"/applications/{APP_ID}/commands"


def config(tmp_path: Path) -> Config:
    return Config.model_validate({"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"}})


async def test_the_bot_identifies_with_only_the_guild_message_reaction_and_poll_intents(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers)
    (identify,) = [frame for frame in fake.frames if frame["op"] == 2]
    assert identify["d"]["intents"] == GUILDS_MESSAGES_AND_REACTIONS | GUILD_MESSAGE_POLLS  # no content, no members
    assert identify["d"]["token"] == fake.token
    assert bot.get_channel(3000000000000000001) is not None  # GUILD_CREATE filled the cache
    assert [(r.method, r.route) for r in fake.requests[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]


async def test_the_commands_are_synced_globally_with_hotpapers_for_channel_managers_only(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    (sync,) = await fake.wait_for("PUT", COMMANDS)
    synced = {c["name"]: c for c in sync.json}
    assert set(synced) == {"paper", "top", "summarize", "hotpapers", "journalclub"}
    assert synced["paper"]["options"] == [
        {
            "type": 3,
            "name": "ref",
            "description": synced["paper"]["options"][0]["description"],
            "required": True,
            "min_length": 1,
            "max_length": 300,
        }
    ]
    admin = synced["hotpapers"]
    assert admin["default_member_permissions"] == discord.Permissions(manage_channels=True).value
    assert admin["contexts"] == [0]  # guild only
    assert {o["name"] for o in admin["options"]} == {"subscribe", "unsubscribe", "settings", "regenerate"}
    assert synced["top"]["options"][0] | {"description": ""} == {
        "type": 4,
        "name": "days",
        "description": "",
        "required": False,
        "min_value": 1,
        "max_value": 365,
    }


async def test_configured_guilds_get_the_commands_directly_and_the_stale_global_set_is_emptied(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    fake.commands["global"] = [{"id": "1", "name": "paper", "type": 1}]  # left by an earlier global sync
    await start_bot(hotpapers, guilds=[int(GUILD_ID)])
    (sync,) = await fake.wait_for("PUT", rf"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    assert {c["name"] for c in sync.json} == {"paper", "top", "summarize", "hotpapers", "journalclub"}
    assert [r.json for r in fake.sent("PUT", COMMANDS)] == [[]] and fake.commands["global"] == []
    await fake.interact(command(fake, "top"))  # a guild command carries data.guild_id and still resolves
    await fake.wait_for("POST", r"/webhooks/.+")


async def test_a_global_sync_empties_the_guild_sets_an_earlier_guild_sync_left(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    fake.commands[GUILD_ID] = [{"id": "1", "name": "paper", "type": 1, "guild_id": GUILD_ID}]
    await start_bot(hotpapers)
    (cleared,) = await fake.wait_for("PUT", rf"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    assert cleared.json == [] and cleared.status == 200 and fake.commands[GUILD_ID] == []
    assert {c["name"] for c in fake.commands["global"]} == {"paper", "top", "summarize", "hotpapers", "journalclub"}


async def test_a_guild_that_refuses_the_sync_does_not_stop_the_others(
    fake: FakeDiscord,
    start_bot: StartBot,
    hotpapers: HotPapers,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = "2000000000000000666"  # the bot was removed from this server, or lacks applications.commands
    accept = fake._put_commands

    async def put_commands(body: Any, guild_id: str | None, **kwargs: Any) -> Any:
        if guild_id == broken:
            return _error(403, 50001, "Missing Access")
        return await accept(body, guild_id, **kwargs)

    monkeypatch.setattr(fake, "_put_commands", put_commands)
    await start_bot(hotpapers, guilds=[int(broken), int(GUILD_ID)])
    guild_puts = fake.sent("PUT", rf"/applications/{APP_ID}/guilds/\d+/commands")
    assert [(r.route.split("/")[4], r.status) for r in guild_puts] == [(broken, 403), (GUILD_ID, 200)]
    assert f"could not sync slash commands (guild {broken}" in caplog.text
    await fake.interact(command(fake, "top"))  # the good guild's commands work
    await fake.wait_for("POST", r"/webhooks/.+")


async def test_a_long_rate_limit_during_sync_is_logged_and_the_bot_still_starts(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, caplog: pytest.LogCaptureFixture
) -> None:
    fake.ratelimit_next("PUT", f"/applications/{APP_ID}/commands", retry_after=600.0)  # beyond MAX_RATELIMIT_WAIT
    bot = await start_bot(hotpapers)
    assert bot.is_ready() and [r.status for r in fake.sent("PUT", COMMANDS)] == [429]
    assert "slash-command sync (global) rate-limited for 600 s" in caplog.text


async def test_shards_zero_asks_discord_for_the_count_and_identifies_as_shard_zero_of_one(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    bot = await start_bot(hotpapers, shards=0)
    assert isinstance(bot, discord.AutoShardedClient)
    assert fake.sent("GET", "/gateway/bot")
    (identify,) = [frame for frame in fake.frames if frame["op"] == 2]
    assert identify["d"]["shard"] == [0, 1]


async def test_replicas_split_the_shards_each_identifying_only_its_own(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def identify_at_once(self: object, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py spaces identifies 5 s apart (max_concurrency 1); the test need not wait."""

    monkeypatch.setattr(ShardedHotPapersBot, "before_identify_hook", identify_at_once)
    first = await start_bot(hotpapers, shards=3, shard_ids=(0, 2))
    second = await start_bot(hotpapers, shards=3, shard_ids=(1,))
    assert sorted(first.shards) == [0, 2] and sorted(second.shards) == [1]
    identified = sorted(tuple(frame["d"]["shard"]) for frame in fake.frames if frame["op"] == 2)
    assert identified == [(0, 3), (1, 3), (2, 3)]  # every shard once over the two processes


async def test_after_discord_asks_for_a_reconnect_the_session_resumes_and_commands_still_work(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    await fake.reconnect()
    await fake.until(lambda: any(frame["op"] == 6 for frame in fake.frames))
    (resume,) = [frame for frame in fake.frames if frame["op"] == 6]
    assert resume["d"]["session_id"] == "fake-session" and resume["d"]["seq"] >= 2
    await fake.until(lambda: len(fake.sockets) == 1)
    await fake.interact(command(fake, "top"))
    await fake.wait_for("POST", r"/webhooks/.+")


async def test_run_without_a_token_is_one_config_error_naming_the_variable(
    hotpapers: HotPapers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"^DISCORD_TOKEN is not set$"):
        await adapters.discord.run(hotpapers, {"enabled": True}, config=config(tmp_path))


async def test_a_rejected_token_is_a_config_error_that_does_not_show_the_token(
    fake: FakeDiscord, hotpapers: HotPapers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HP_TEST_DISCORD", "wrong-secret-token")
    with pytest.raises(ConfigError) as caught:
        await adapters.discord.run(
            hotpapers, {"enabled": True, "token_env": "HP_TEST_DISCORD"}, config=config(tmp_path)
        )
    assert str(caught.value) == "Discord rejected HP_TEST_DISCORD (LoginFailure)"
    assert caught.value.__suppress_context__ and "wrong-secret" not in repr(caught.value)
    assert [r.status for r in fake.requests] == [401]


async def test_run_serves_until_cancelled_and_lends_its_publisher_meanwhile(
    fake: FakeDiscord, hotpapers: HotPapers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    publishers: dict[str, object] = {}
    task = asyncio.create_task(
        adapters.discord.run(hotpapers, {"enabled": True}, config=config(tmp_path), publishers=publishers)  # type: ignore[arg-type]
    )
    await fake.until(lambda: any(frame["op"] == 2 for frame in fake.frames))
    assert isinstance(publishers["discord"], DiscordPublisher)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert publishers == {}


async def test_a_disabled_adapter_returns_at_once_without_calling_discord(
    fake: FakeDiscord, hotpapers: HotPapers, tmp_path: Path
) -> None:
    assert await adapters.discord.run(hotpapers, {"enabled": False}, config=config(tmp_path)) is None
    assert fake.requests == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"enabled": True, "shard": 2}, "discord.shard: Extra inputs are not permitted"),
        ({"enabled": True, "shards": -1}, "discord.shards: Input should be greater than or equal to 0"),
        ({"enabled": True, "shards": 2, "shard_ids": [2]}, "shard_ids must lie in 0..1 (shards = 2); got [2]"),
        ({"enabled": True, "shard_ids": [0]}, "shard_ids needs shards = N"),
        ({"enabled": True, "shards": 2, "shard_ids": [1, 1]}, "shard_ids lists a shard twice"),
        ({"up_emoji": ["👍"], "down_emoji": ["👍"]}, "an emoji cannot count both up and down: 👍"),
        ({"guilds": ["not-a-guild"]}, "discord.guilds.0:"),
    ],
)
async def test_a_bad_discord_table_is_a_config_error_naming_the_key(
    tmp_path: Path, table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        await adapters.discord.run(None, table, config=config(tmp_path))  # type: ignore[arg-type]
    assert message in str(caught.value)


async def test_an_unreachable_discord_is_upstream_unavailable_not_a_traceback(
    hotpapers: HotPapers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: connecting is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    monkeypatch.setenv("DISCORD_TOKEN", "some-token")
    with pytest.raises(UpstreamUnavailable, match=r"^Discord is unreachable: ClientConnectorError$"):
        await adapters.discord.run(hotpapers, {"enabled": True}, config=config(tmp_path))
