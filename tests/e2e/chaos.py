"""A chaos driver for real `hotpapers` processes: kill -9, SIGSTOP/SIGCONT and replacements, until every digest is
done. Shared by the chaos tests; what reached the platform is counted by the test, never taken from the database.

The case that matters is a process stopped between a message existing on the platform and its record in the
database. The console platform makes that window exact: a message exists once its line is in the posts log, and the
publisher prints the card right after. The driver hands each process a stdout pipe that it keeps full, so every print
blocks: a process whose new log line the driver sees is frozen inside that window until the driver drains its pipe —
or kills it, or stops it and starts a replacement.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

F_SETPIPE_SZ = 1031
PIPE_BYTES = 4096


@dataclass(eq=False)
class Process:
    job: str
    process: asyncio.subprocess.Process
    read_end: int
    spare_write_end: int
    stopped: bool = False
    seen: int = 0
    """How many of its job's log lines the driver has acted on while it ran."""

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def drain(self, *, refill: bool = True) -> None:
        """Read what it printed; refill the pipe (with filler) so its next print blocks again."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read_end, 65536):
                pass
        if refill:  # to the last byte: a non-blocking write that does not fit whole writes nothing
            for size in (512, 64, 8, 1):
                with contextlib.suppress(BlockingIOError):
                    while os.write(self.spare_write_end, b"." * size):
                        pass

    def signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(number)

    def close(self) -> None:
        for descriptor in (self.read_end, self.spare_write_end):
            with contextlib.suppress(OSError):
                os.close(descriptor)


@dataclass
class Figures:
    processes: int = 0
    kills: int = 0
    kills_in_window: int = 0
    stalls: int = 0
    stalls_in_window: int = 0
    exit_codes: Counter[int] = field(default_factory=Counter)

    def line(self) -> str:
        return (
            f"{self.processes} processes, {self.kills} kill -9 ({self.kills_in_window} between a message and its "
            f"record), {self.stalls} SIGSTOP/SIGCONT ({self.stalls_in_window} in that window), exit codes "
            f"{dict(sorted(self.exit_codes.items()))}"
        )


@dataclass
class Chaos:
    """Runs `command(job)` for each job until `done()` says every job is done, misbehaving at random meanwhile."""

    command: Callable[[str], Sequence[str]]
    done: Callable[[], Awaitable[set[str]]]
    lines_of: Callable[[str], int]
    """How many platform messages a job's channel shows (log lines): a new one means its process is in the window."""
    in_window: Callable[[str], Awaitable[bool]]
    """Whether the job has a message on the platform that the database does not record (checked at a kill)."""
    env: dict[str, str]
    cwd: Path
    seed: int = 20261130
    parallel: int = 3
    stall_seconds: tuple[float, float] = (2.5, 6.0)
    """How long a SIGSTOP lasts: mostly past the lease, so another process takes the digest over meanwhile."""
    max_processes: int = 400
    figures: Figures = field(default_factory=Figures)

    async def run(self, jobs: Sequence[str]) -> Figures:
        rng = random.Random(self.seed)
        pending = list(jobs)
        live: list[Process] = []
        stalled: list[tuple[float, Process]] = []  # (loop time to resume at, process)
        clock = asyncio.get_running_loop().time
        try:
            while pending:
                now = clock()
                finished = await self.done()
                pending = [job for job in pending if job not in finished]
                for process in [p for p in live if not p.alive]:
                    live.remove(process)
                    self.figures.exit_codes[process.process.returncode or 0] += 1
                    process.close()
                for at, process in [s for s in stalled if s[0] <= now]:
                    stalled.remove((at, process))
                    process.signal(signal.SIGCONT)
                    process.stopped = False
                busy = {p.job for p in live if not p.stopped}
                for job in [j for j in pending if j not in busy][: max(self.parallel - len(busy), 0)]:
                    live.append(await self._start(job))
                for process in [p for p in live if p.alive and not p.stopped]:
                    await self._act(process, rng, stalled, now)
                await asyncio.sleep(0.05)
            for _, process in stalled:  # the stalled ones wake up last, after the digest was finished without them
                process.signal(signal.SIGCONT)
                process.stopped = False
            for process in live:
                while process.alive:
                    process.drain()
                    await asyncio.sleep(0.05)
                self.figures.exit_codes[process.process.returncode or 0] += 1
        finally:
            for process in live:
                process.signal(signal.SIGKILL)
                process.signal(signal.SIGCONT)
                with contextlib.suppress(Exception):
                    await process.process.wait()
                process.close()
        return self.figures

    async def _start(self, job: str) -> Process:
        self.figures.processes += 1
        assert self.figures.processes <= self.max_processes, f"no progress after {self.max_processes} processes"
        read_end, write_end = os.pipe()
        fcntl.fcntl(read_end, F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(read_end, False)
        spare = os.dup(write_end)
        os.set_blocking(spare, False)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.command(job),
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_end,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
        )
        os.close(write_end)
        process = Process(job, child, read_end, spare, seen=self.lines_of(job))
        process.drain()  # start full: the first print blocks
        return process

    async def _act(
        self, process: Process, rng: random.Random, stalled: list[tuple[float, Process]], now: float
    ) -> None:
        shown = self.lines_of(process.job)
        if shown <= process.seen:
            if rng.random() < 0.004:  # now and then a stall at any moment (claiming, planning, waiting…)
                self._stall(process, stalled, now + rng.uniform(*self.stall_seconds))
            else:
                process.drain()
            return
        process.seen = shown  # it wrote a message and is blocked printing it: the window
        roll = rng.random()
        if roll < 0.3:
            self.figures.kills += 1
            self.figures.kills_in_window += await self.in_window(process.job)
            process.signal(signal.SIGKILL)
            await process.process.wait()
        elif roll < 0.5:
            self.figures.stalls_in_window += await self.in_window(process.job)
            self._stall(process, stalled, now + rng.uniform(*self.stall_seconds))
        else:
            process.drain()

    def _stall(self, process: Process, stalled: list[tuple[float, Process]], until: float) -> None:
        self.figures.stalls += 1
        process.signal(signal.SIGSTOP)
        process.stopped = True
        stalled.append((until, process))
