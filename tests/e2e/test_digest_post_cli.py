"""`hotpapers digest --post` on a half-posted digest another process holds: a clear line and exit 4, or --wait."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from adapters.console.publisher import read_log
from bot.domain.config import load_config
from bot.domain.model import ChannelRef, PostKey
from bot.runtime.bootstrap import build
from bot.runtime.sample import load_sample
from bot.storage.tables import DigestRow
from tests.e2e.test_cli import hotpapers
from tests.fakes.recording_publisher import RecordingPublisher, SimulatedCrash

DAY = date(2020, 11, 6)
CHANNEL = ChannelRef("console", "local", "default")


async def test_a_digest_held_elsewhere_says_how_far_it_got_and_wait_takes_it_over(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "db.sqlite"}"\n'
        f'[console]\nlog = "{tmp_path / "posts.jsonl"}"\n'
        "[signals.hf]\nenabled = false\n[signals.hn]\nenabled = false\n",
        encoding="utf-8",
    )
    async with await build(load_config(str(config)), offline=True) as app:
        await load_sample(app.uow, now=datetime.now(UTC))
        with pytest.raises(SimulatedCrash):  # a first process posted the header and two papers, then died
            await app.service.post_digest(CHANNEL, DAY, RecordingPublisher(fail_after=2))
        held_until = datetime.now(UTC) + timedelta(hours=1)
        async with app.uow() as uow:  # …and another one holds the claim now
            await uow._session.execute(update(DigestRow).values(holder="elsewhere", lease_until=held_until))  # type: ignore[union-attr]
            await uow.commit()

        run = await hotpapers("--config", str(config), "digest", "--post", "--date", str(DAY), cwd=tmp_path)
        assert run.code == 4 and run.out == ""
        assert run.err.strip() == (
            f"hotpapers: The digest for {DAY} in {CHANNEL.key}: 2 of 5 posted; held by another process until "
            f"{held_until:%H:%M:%S} UTC; retry then, or use --wait"
        )

        waiting = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.runtime.cli", "--config", str(config), "digest", "--post", "--wait",
            "--date", str(DAY), cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "COLUMNS": "300"},
        )  # fmt: skip
        assert waiting.stdout is not None
        first = (await waiting.stdout.readline()).decode()
        assert first.startswith(f"The digest for {DAY} in {CHANNEL.key}: 2 of 5 posted; held by another process")
        assert first.rstrip().endswith("UTC. Waiting for it to end (--wait).")
        async with app.uow() as uow:  # the holder dies: its lease runs out
            await uow._session.execute(update(DigestRow).values(lease_until=datetime.now(UTC)))  # type: ignore[union-attr]
            await uow.commit()
        out, err = await waiting.communicate()
        assert waiting.returncode == 0, err.decode()
        assert "Resumed after 2 of 5 were posted: posted the other 3." in out.decode()
        keys = [PostKey.search(line["key"]) for line in read_log(tmp_path / "posts.jsonl")]
        assert [(key.day, key.rank) for key in keys if key] == [(DAY, 3), (DAY, 4), (DAY, 5)]

        run = await hotpapers("--config", str(config), "digest", "--post", "--date", str(DAY), cwd=tmp_path)
        assert run.code == 0 and f"The digest for {DAY} was already posted in {CHANNEL.key}." in run.out
