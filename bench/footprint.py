"""5. Footprint: an idle `hotpapers run` stays under 120 MB RSS; start-up to ready under 2 s, platform connects aside.

The real `hotpapers run` in its own process (via `bench.run_bot`, which only points discord.py at the loopback fake
Discord): SQLite database created and migrated at start, Discord adapter enabled and connecting to the fake, the
scheduler and the health server on, every other upstream pointed at a closed local port. "Ready" is the log line the
runner writes once the engine, the health server and every enabled adapter are up (since issue 15 it waits for the
Discord adapter to log in to the loopback fake, then starts the scheduler). Then the process idles; its resident
memory is sampled from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, say
from bench.context import BenchContext
from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord

IDLE_SECONDS = 20.0
READY_LINE = "hotpapers running"
CLOSED = "http://127.0.0.1:9"
"""The discard port: nothing listens, so a request would fail at once instead of reaching the internet."""


def _config(folder: Path) -> Path:
    path = folder / "hotpapers.toml"
    path.write_text(
        f"""
[database]
url = "sqlite+aiosqlite:///{folder / "hotpapers.db"}"

[arxiv]
api_url = "{CLOSED}/api/query"
rss_url = "{CLOSED}/rss/"

[signals.hf]
base_url = "{CLOSED}"

[signals.hn]
base_url = "{CLOSED}"

[discord]
enabled = true
guilds = [{GUILD_ID}]

[health]
enabled = true
port = 0

[logging]
level = "INFO"
""",
        encoding="utf-8",
    )
    return path


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def run(context: BenchContext) -> list[Result]:
    fake = FakeDiscord()
    await fake.start()
    with tempfile.TemporaryDirectory(prefix="hotpapers-footprint-") as folder:
        config = _config(Path(folder))
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "HOTPAPERS_BENCH_DISCORD_API": fake.api_base,
            "HOTPAPERS_BENCH_DISCORD_GATEWAY": fake.gateway_url,
            "PYTHONPATH": os.getcwd(),
        }
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.run_bot",
            "--config",
            str(config),
            "run",
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=env,
        )
        try:
            ready = await asyncio.wait_for(_until_ready(process), 30) - started
            await fake.until(lambda: any(frame.get("op") == 2 for frame in fake.frames), within=30)
            connected = time.monotonic() - started
            ready_rss, _ = _rss_kb(process.pid)
            samples = []
            idle_until = time.monotonic() + IDLE_SECONDS
            while time.monotonic() < idle_until:
                samples.append(_rss_kb(process.pid)[0])
                await asyncio.sleep(0.25)
            _, peak = _rss_kb(process.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 15)
            if process.returncode is None:
                process.kill()
                await process.wait()
            await fake.close()
    idle = max(samples) / 1024
    say(
        f"  ready after {ready:.2f} s (Discord gateway identified after {connected:.2f} s); RSS at ready "
        f"{ready_rss / 1024:.1f} MB, idle max {idle:.1f} MB over {IDLE_SECONDS:.0f} s, peak since start "
        f"{peak / 1024:.1f} MB; exit code {process.returncode}"
    )
    notes = (
        f"`hotpapers run`: SQLite (created and migrated at start), Discord adapter (to the fake), scheduler, health "
        f"server; Slack off; idle {IDLE_SECONDS:.0f} s after the gateway connected",
        f"RSS at ready {ready_rss / 1024:.1f} MB; peak since start (VmHWM) {peak / 1024:.1f} MB; gateway identified "
        f"{connected:.2f} s after start",
    )
    return [
        Result("idle RSS", idle, 120, "MB", "lower", notes),
        Result("start-up to ready", ready, 2, "s", "lower"),
    ]


async def _until_ready(process: asyncio.subprocess.Process) -> float:
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:
            raise RuntimeError(f"hotpapers run exited (code {await process.wait()}) before it was ready")
        if READY_LINE in line.decode(errors="replace"):
            asyncio.get_running_loop().create_task(_drain(process.stderr))
            return time.monotonic()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
