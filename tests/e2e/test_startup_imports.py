"""`hotpapers --help` loads no heavy library: each command imports what it needs when it runs (timing is bench/'s).

`paper` on a stored paper (SQLite) loads no database library but the stdlib's sqlite3, no network or chat library
and no terminal renderer with --json; a paper not stored goes through the full stack. An idle `run` with only Discord
enabled loads neither Slack, nor rich, nor Alembic (on a new database or one at the head revision), nor the arXiv and
feed clients nor the signal sources it has not needed yet, nor pydantic (a valid config is checked without it)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("alembic", "discord", "slack_bolt", "slack_sdk", "rich", "sqlalchemy", "aiohttp", "pydantic")

PROBE = """
import contextlib, io, json, sys
from bot.runtime.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps({"modules": sorted(sys.modules), "said": out.getvalue()}))
"""


def modules_loaded_by(*args: str) -> tuple[set[str], str]:
    """Every module `hotpapers ARGS` had loaded when it ended (dotted names), and what it printed."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, timeout=60)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return set(found["modules"]), found["said"]


def loaded_by(*args: str) -> tuple[set[str], str]:
    """The top-level packages `hotpapers ARGS` loaded, and what it printed."""
    modules, said = modules_loaded_by(*args)
    return {name.split(".")[0] for name in modules}, said


@pytest.mark.parametrize("args", [["--help"], ["paper", "--help"], ["digest", "--help"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    modules, said = loaded_by(*args)
    assert "usage: hotpapers" in said  # the probe really ran the CLI
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_probe_sees_a_heavy_import_when_a_command_makes_one(tmp_path: Path) -> None:
    config = tmp_path / "wrong.toml"
    config.write_text("[digest]\ntop_n = 'five'\n")
    modules, _ = loaded_by("--config", str(config), "status")  # fails on the config: pydantic words the error
    assert "pydantic" in modules and "alembic" not in modules


def test_a_valid_config_is_checked_without_pydantic() -> None:
    modules, _ = loaded_by("--config", str(ROOT / "config.example.toml"), "db")  # loads and checks the config
    assert not modules & {"pydantic", "pydantic_core"}, sorted(modules & {"pydantic", "pydantic_core"})


def test_paper_for_a_stored_paper_loads_no_network_library(tmp_path: Path) -> None:
    config = tmp_path / "offline.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n'
        "[signals.hf]\nenabled = false\n[signals.hn]\nenabled = false\n"
    )
    loaded_by("--config", str(config), "sample", "load")
    dotted, said = modules_loaded_by("--config", str(config), "paper", "2010.00577", "--json")
    modules = {name.split(".")[0] for name in dotted}
    assert json.loads(said)["id"] == "2010.00577"
    assert {"sqlite3", "bot.storage.sqlite_reader"} <= dotted  # the stdlib reads it (bot/runtime/stored_paper.py)
    assert not modules & {"sqlalchemy", "aiosqlite", "aiohttp", "arxiv", "feedparser", "alembic", "prometheus_client"}
    assert not modules & {"rich", "discord", "slack_bolt", "slack_sdk", "requests", "apscheduler"}
    assert "pydantic" not in modules  # the config is checked as for any command, without pydantic when it is valid


def test_paper_not_stored_goes_through_the_full_stack(tmp_path: Path) -> None:
    config = tmp_path / "offline.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n'
        '[arxiv]\napi_url = "http://127.0.0.1:9/api/query"\n'
        "[signals.hf]\nenabled = false\n[signals.hn]\nenabled = false\n"
    )
    loaded_by("--config", str(config), "sample", "load")
    dotted, _ = modules_loaded_by("--config", str(config), "paper", "2101.00001", "--json")  # arXiv unreachable
    assert {"sqlalchemy.ext.asyncio", "aiosqlite", "bot.storage.papers"} <= dotted
    assert "sqlalchemy.dialects.postgresql" not in dotted
    assert not dotted & {"bot.storage.polls", "bot.storage.threads", "bot.storage.pages"}


def test_paper_as_a_panel_loads_rich_the_json_answer_does_not(tmp_path: Path) -> None:
    config = tmp_path / "offline.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n'
        "[signals.hf]\nenabled = false\n[signals.hn]\nenabled = false\n"
    )
    loaded_by("--config", str(config), "sample", "load")
    modules, said = loaded_by("--config", str(config), "paper", "2010.00577")
    assert "2010.00577" in said and "rich" in modules
    assert not modules & {"aiohttp", "arxiv", "alembic", "discord", "slack_bolt"}


RUN_PROBE = """
import gc, json, logging, os, signal, sys

collector = {}


class StopWhenRunning(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("hotpapers running"):
            collector.update(youngest=gc.get_threshold()[0], frozen=gc.get_freeze_count())
            os.kill(os.getpid(), signal.SIGTERM)  # the runner's own stop: it ends the run cleanly


logging.getLogger("bot.runtime.runner").addHandler(StopWhenRunning())
from bench.run_bot import main
code = main()  # hotpapers ARGS, from sys.argv[1:]
print(json.dumps({"code": code, "modules": sorted(sys.modules), "collector": collector}))
"""


async def run_until_running(config: Path, fake: FakeDiscord) -> tuple[int, set[str], dict[str, int]]:
    """`hotpapers run` (discord.py pointed at the fake) in its own process, stopped once it logged "running"; its
    exit code, the modules it had loaded by then (and while stopping), and its garbage collector's settings then
    (`youngest`: the youngest generation's threshold; `frozen`: how many objects start-up left frozen)."""
    env = {
        **os.environ,
        "DISCORD_TOKEN": TOKEN,
        "HOTPAPERS_BENCH_DISCORD_API": fake.api_base,
        "HOTPAPERS_BENCH_DISCORD_GATEWAY": fake.gateway_url,
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_PROBE,
        "--config",
        str(config),
        "run",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=config.parent,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    found = json.loads(out.decode().strip().splitlines()[-1])
    return found["code"], set(found["modules"]), found["collector"]


@pytest.mark.parametrize("at_head", [False, True], ids=["fresh-database", "database-at-head"])
async def test_run_with_only_discord_loads_no_slack_no_rich_and_no_unused_source(tmp_path: Path, at_head: bool) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "run.db"}"\n'
        '[arxiv]\napi_url = "http://127.0.0.1:9/api/query"\nrss_url = "http://127.0.0.1:9/rss/"\n'
        f"[discord]\nenabled = true\nguilds = [{GUILD_ID}]\n"
        '[health]\nenabled = true\nport = 0\n[logging]\nlevel = "INFO"\n'
    )
    if at_head:
        loaded_by("--config", str(config), "db", "upgrade")
    fake = FakeDiscord()
    await fake.start()
    try:
        code, modules, collector = await run_until_running(config, fake)
    finally:
        await fake.close()
    assert code == 0
    assert collector["youngest"] == 50_000 and collector["frozen"] > 10_000  # start-up's objects left the collection
    assert {"discord", "adapters.discord", "bot.runtime.scheduler", "bot.runtime.health"} <= modules  # it really ran
    top = {name.split(".")[0] for name in modules}
    assert not top & {"slack_bolt", "slack_sdk", "rich", "arxiv", "feedparser", "requests"}, sorted(
        top & {"slack_bolt", "slack_sdk", "rich", "arxiv", "feedparser", "requests"}
    )
    assert "alembic" not in top  # a new database gets the head schema made; one at head is only recognised
    # /healthz reports the signal sources (hf and hn are on) from the config: no source is built before a refresh
    assert not {name for name in modules if name.startswith("bot.sources")} and "tenacity" not in top
    assert "discord.ext.commands" not in modules  # a plain Client with its command tree: no text-command framework
    assert "prometheus_client" not in top  # /metrics is written by bot/runtime/metrics.py
    assert not top & {"pydantic", "pydantic_core"}  # every table valid: checked by bot/domain/settings.py alone
