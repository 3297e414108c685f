"""`hotpapers run` serves the channel pages (logging `/c/…/`, never the token) and `hotpapers web export` writes
them, both as real processes on a database prepared through the engine."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp

from bot.domain.clock import FrozenClock
from bot.domain.config import parse_config
from bot.runtime.bootstrap import build
from bot.runtime.sample import load_sample
from tests.conftest import SAMPLE_DAY
from tests.e2e.conftest import hotpapers
from tests.web.support import CHANNEL, Published, published_channel


async def _published(tmp_path: Path, clock: FrozenClock, extra: str = "") -> tuple[Path, Published]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    async with await build(parse_config({"database": {"url": database}}), clock=clock, offline=True) as app:
        await load_sample(app.uow, now=clock.now())
        published = await published_channel(app)
    path = tmp_path / "web.toml"
    path.write_text(f'[database]\nurl = "{database}"\n[scheduler]\nenabled = false\n{extra}')
    return path, published


async def test_run_serves_the_pages_and_its_access_log_hides_the_token(tmp_path: Path, clock: FrozenClock) -> None:
    path, published = await _published(tmp_path, clock, "[web]\nenabled = true\nport = 0\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.runtime.cli", "--config", str(path), "run",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not any("hotpapers running" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, "run ended early: " + "".join(seen)
            seen.append(line.decode())
        port = next(m[1] for line in seen if (m := re.search(r"channel pages on http://127\.0\.0\.1:(\d+)/", line)))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/c/{published.token}/{SAMPLE_DAY}.html") as response:
                assert response.status == 200 and "Hot papers 2020-11-06" in await response.text()
            async with http.get(f"http://127.0.0.1:{port}/c/{published.token}/feed.atom") as response:
                assert response.status == 200
    finally:
        process.terminate()
    _, rest = await asyncio.wait_for(process.communicate(), 60)
    log = "".join(seen) + rest.decode()
    assert process.returncode == 0
    assert f"GET /c/…/{SAMPLE_DAY}.html 200" in log and "GET /c/…/feed.atom 200" in log
    assert published.token not in log


async def test_web_export_writes_a_published_channel_and_refuses_any_other(tmp_path: Path, clock: FrozenClock) -> None:
    path, published = await _published(tmp_path, clock)
    site = tmp_path / "site"
    run = await hotpapers("--config", str(path), "web", "export", str(site), "--channel", CHANNEL.key, cwd=tmp_path)
    assert run.code == 0, run.err
    assert "Wrote" in run.out and (site / "index.html").exists() and (site / f"{SAMPLE_DAY}.html").exists()
    assert all(published.token not in file.read_text() for file in site.iterdir())
    refused = await hotpapers("--config", str(path), "web", "export", str(tmp_path / "other"),
                              "--channel", "console:local:default", cwd=tmp_path)  # fmt: skip
    assert refused.code == 2 and "has no published page" in refused.err
    assert not (tmp_path / "other").exists()
