"""`hotpapers --help` loads no heavy library: each command imports what it needs when it runs (timing is bench/'s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("alembic", "discord", "slack_bolt", "slack_sdk", "rich", "sqlalchemy", "aiohttp", "pydantic")

PROBE = """
import contextlib, io, json, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps({"modules": sorted(sys.modules), "said": out.getvalue()}))
"""


def loaded_by(*args: str) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, timeout=60)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {name.split(".")[0] for name in found["modules"]}, found["said"]


@pytest.mark.parametrize("args", [["--help"], ["paper", "--help"], ["digest", "--help"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    modules, said = loaded_by(*args)
    assert "usage: hotpapers" in said  # the probe really ran the CLI
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_probe_sees_a_heavy_import_when_a_command_makes_one() -> None:
    modules, _ = loaded_by("--config", "/nonexistent/hotpapers.toml", "status")  # fails on the config, after pydantic
    assert "pydantic" in modules and "alembic" not in modules


def test_paper_for_a_stored_paper_loads_no_network_library(tmp_path: Path) -> None:
    config = tmp_path / "offline.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n'
        "[signals.hf]\nenabled = false\n[signals.hn]\nenabled = false\n"
    )
    loaded_by("--config", str(config), "sample", "load")
    modules, said = loaded_by("--config", str(config), "paper", "2010.00577", "--json")
    assert json.loads(said)["id"] == "2010.00577"
    assert not modules & {"aiohttp", "arxiv", "feedparser", "alembic", "prometheus_client", "apscheduler"}
    assert "sqlalchemy" in modules  # the probe sees what a command needs
