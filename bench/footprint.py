"""5. Footprint: an idle `hotpapers run` stays under 80 MB RSS; start-up to ready ≤ 1.5× the bare import of the enabled
libraries.

The real `hotpapers run` in its own process (via `bench.run_bot`, which only points discord.py at the loopback fake
Discord): SQLite database created at start (a new one each time), Discord adapter enabled and connecting to the fake,
the scheduler and the health server on, every other upstream pointed at a closed local port. "Ready" is the last of: the
runner's "hotpapers running" line (scheduler started), the gateway's IDENTIFY reaching the fake, and `/healthz`
answering 200. The baseline, measured in the same run, is a process that only imports the libraries this
configuration enables; its processes alternate with START_ROUNDS start-ups (medians of both), so the machine's load
weighs on both alike. Then the last process idles; its resident memory is sampled from /proc. The project's modules
are compiled to bytecode first, as an installed hotpapers is (`bench.cli_startup.compile_project`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import baselines
from bench.cli_startup import compile_project
from bench.common import Result, say
from bench.context import BenchContext
from tests.fakes.discord_server import GUILD_ID, TOKEN, FakeDiscord

IDLE_SECONDS = 20.0
START_ROUNDS = 5
"""Start-ups timed (each on a new database); the last one idles for the memory figures."""
READY_LINE = "hotpapers running"
CLOSED = "http://127.0.0.1:9"
ENABLED_LIBRARIES = ("discord", "sqlalchemy.ext.asyncio", "aiosqlite", "apscheduler.schedulers.asyncio", "aiohttp.web")
"""What this configuration cannot run without: the Discord client, the async database and its driver, the
scheduler and the health server's HTTP framework. Not pydantic: a valid config is checked without it
(`bot/domain/settings.py`), so a baseline that imported it would flatter the start-up ratio."""
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


@dataclass(frozen=True)
class Start:
    """One `hotpapers run` from start to ready (seconds since its process started) and, if it idled, its memory."""

    running: float
    connected: float
    ready: float
    ready_rss_kb: int
    idle_samples_kb: tuple[int, ...]
    peak_kb: int
    exit_code: int | None


async def _start_once(fake: FakeDiscord, *, idle: bool) -> Start:
    """A fresh SQLite database in a new folder, `hotpapers run` until ready, then (with `idle`) IDLE_SECONDS idle."""
    identified = sum(frame.get("op") == 2 for frame in fake.frames)
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
        samples: list[int] = []
        try:
            port = await asyncio.wait_for(_until_ready(process), 30)
            running = time.monotonic() - started
            await fake.until(lambda: sum(frame.get("op") == 2 for frame in fake.frames) > identified, within=30)
            connected = time.monotonic() - started
            await _health_answers(port)
            ready = time.monotonic() - started
            ready_rss, _ = _rss_kb(process.pid)
            idle_until = time.monotonic() + (IDLE_SECONDS if idle else 0)
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
    return Start(running, connected, ready, ready_rss, tuple(samples), peak, process.returncode)


async def run(context: BenchContext) -> list[Result]:
    compile_project()  # as installed: the baseline's libraries have their bytecode too
    fake = FakeDiscord()
    await fake.start()
    starts: list[Start] = []
    bare: list[float] = []
    try:
        # Interleaved, round after round: the machine's load (other sessions' suites) weighs on both alike.
        for round_ in range(START_ROUNDS):
            bare.append(baselines.bare_import_seconds(ENABLED_LIBRARIES, runs=1))
            starts.append(await _start_once(fake, idle=round_ == START_ROUNDS - 1))
    finally:
        await fake.close()
    last = starts[-1]
    ready = statistics.median(start.ready for start in starts)
    running = statistics.median(start.running for start in starts)
    connected = statistics.median(start.connected for start in starts)
    imports = statistics.median(bare)
    ready_rss, peak = last.ready_rss_kb, last.peak_kb
    idle = max(last.idle_samples_kb) / 1024
    floor = baselines.process_seconds(["-c", "pass"])
    bare_rss = baselines.bare_import_rss_mb(ENABLED_LIBRARIES)
    say(
        f"  python -c pass {floor * 1e3:.0f} ms; bare import of the enabled libraries ({', '.join(ENABLED_LIBRARIES)}) "
        f"{imports * 1e3:.0f} ms (median of {START_ROUNDS} processes, each just before a start-up below)"
    )
    say(
        f"  ready after {ready:.2f} s, median of {START_ROUNDS} (scheduler started {running:.2f} s, gateway identified "
        f"{connected:.2f} s, /healthz answering {ready:.2f} s; each: "
        f"{', '.join(f'{start.ready:.2f}' for start in starts)} s); last one: RSS at ready "
        f"{ready_rss / 1024:.1f} MB, idle max {idle:.1f} MB over {IDLE_SECONDS:.0f} s, peak since start "
        f"{peak / 1024:.1f} MB; exit code {last.exit_code}"
    )
    at_ready = sorted(start.ready_rss_kb / 1024 for start in starts)
    say(
        f"  RSS at ready over the {START_ROUNDS} start-ups: {at_ready[0]:.1f}–{at_ready[-1]:.1f} MB "
        f"(median {statistics.median(at_ready):.1f})"
    )
    notes = (
        f"`hotpapers run`: SQLite (created at start), Discord adapter (to the fake), scheduler, health "
        f"server; Slack off; idle {IDLE_SECONDS:.0f} s after the gateway connected",
        f"RSS at ready {ready_rss / 1024:.1f} MB (over the {START_ROUNDS} start-ups "
        f"{at_ready[0]:.1f}–{at_ready[-1]:.1f} MB); peak since start (VmHWM) {peak / 1024:.1f} MB; gateway "
        f"identified {connected:.2f} s after start",
    )
    notes = (
        *notes,
        f"start-up: median of {START_ROUNDS}, each on a new database, interleaved with the baseline's processes; "
        f"ready = scheduler started ({running:.2f} s), gateway identified ({connected:.2f} s) and /healthz answering "
        f"200 ({ready:.2f} s), the last of the three; baseline: a process that imports {', '.join(ENABLED_LIBRARIES)} "
        f"and exits ({imports:.2f} s; `python -c pass` {floor:.3f} s)",
    )
    return [
        Result("idle RSS", idle, 80, "MB", "lower", notes),
        Result(
            "start-up to ready",
            ready,
            1.5,
            "s",
            "lower",
            inclusive=True,
            baseline=imports,
            baseline_name="bare import of enabled libraries",
        ),
        Result("python -c pass", floor, 1, "s", "lower", informational=True),
        Result(
            "idle RSS vs the bare import's RSS",
            idle,
            0,
            "MB",
            "lower",
            informational=True,
            baseline=bare_rss,
            baseline_name="RSS after importing the enabled libraries",
        ),
    ]


async def _until_ready(process: asyncio.subprocess.Process) -> int:
    """Reads the run's log until the scheduler started ("hotpapers running"); returns the health server's port."""
    assert process.stderr is not None
    port = 0
    while True:
        line = (await process.stderr.readline()).decode(errors="replace")
        if not line:
            raise RuntimeError(f"hotpapers run exited (code {await process.wait()}) before it was ready")
        if found := re.search(r"health server on http://[^:]+:(\d+)/healthz", line):
            port = int(found.group(1))
        if READY_LINE in line:
            _DRAINING.add(asyncio.get_running_loop().create_task(_drain(process.stderr)))
            return port


_DRAINING: set[asyncio.Task[None]] = set()


async def _health_answers(port: int) -> None:
    """Polls /healthz until it answers 200 (every 5 ms)."""
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.005)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
