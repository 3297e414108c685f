"""The e2e helpers: run `hotpapers` as a user does (a real process), and a config pointing at the loopback arXiv."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.arxiv_server import FakeArxiv

SECRET = "s3cr3t-token-value"


@dataclass
class Run:
    code: int
    out: str
    err: str


async def hotpapers(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.runtime.cli",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120", "DISCORD_TOKEN": SECRET, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv() as fake:
        fake.load_sample(announce_day="2020-10-02")
        yield fake


@pytest.fixture
def config(tmp_path: Path, fake_arxiv: FakeArxiv) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"
[arxiv]
api_url = "{fake_arxiv.api_url}"
rss_url = "{fake_arxiv.rss_url}"
delay_seconds = 0
num_retries = 0
timeout = 5
[signals.hf]
enabled = false
[signals.hn]
enabled = false
"""
    )
    return path
