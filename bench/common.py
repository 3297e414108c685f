"""What every benchmark shares: the database URL, the result rows, a statement counter and percentiles."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

PG_URL_ENV = "HOTPAPERS_BENCH_PG_URL"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@contextmanager
def collector_as_run() -> Iterator[None]:
    """The garbage collector as `hotpapers run` sets it once started (`bot.runtime.collector.settle`: start-up's
    objects frozen, the youngest generation collected every 50,000 allocations), as it was before afterwards."""
    import gc

    from bot.runtime import collector

    threshold = gc.get_threshold()
    collector.settle()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def pg_url() -> str:
    """The PostgreSQL the benchmarks use (they own the schemas they create there)."""
    return os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq DSN for asyncpg (bulk loading bypasses SQLAlchemy)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class Result:
    """One measured figure against its target. `better` says which side of the target passes."""

    name: str
    measured: float
    target: float
    unit: str
    better: Literal["lower", "higher"]
    notes: tuple[str, ...] = field(default=())
    informational: bool = False
    """Shown for comparison (e.g. a proposed fix measured in the bench); not a target of the run."""
    inclusive: bool = False
    """The target itself passes (≤ / ≥ rather than < / >)."""
    baseline: float | None = None
    """The physical baseline measured in the same run, in `unit`: then `target` is a ratio (measured ÷ baseline)."""
    baseline_name: str = ""

    @property
    def ratio(self) -> float:
        """measured ÷ baseline when there is one (the figure compared with `target`), else measured ÷ target."""
        against = self.baseline if self.baseline is not None else self.target
        if not against:
            return 0.0 if not self.measured else math.inf
        return self.measured / against

    @property
    def passed(self) -> bool:
        value = self.ratio if self.baseline is not None else self.measured
        if self.better == "lower":
            return value <= self.target if self.inclusive else value < self.target
        return value >= self.target

    @property
    def target_text(self) -> str:
        if self.informational and not self.target:
            return "—"
        if self.baseline is not None:
            return f"{self.sign} {self.target:g}×"
        return f"{self.sign} {self.target:,g} {self.unit}"

    @property
    def sign(self) -> str:
        if self.better == "lower":
            return "≤" if self.inclusive else "<"
        return "≥"

    def describe(self) -> str:
        sign = self.sign
        verdict = "info" if self.informational else "pass" if self.passed else "FAIL"
        if self.baseline is not None:
            return (
                f"{self.name}: {self.measured:,.3f} {self.unit}; baseline ({self.baseline_name}) "
                f"{self.baseline:,.3f} {self.unit}; ratio {self.ratio:.2f} (target {self.target_text}) {verdict}"
            )
        return (
            f"{self.name}: {self.measured:,.3f} {self.unit} (target {sign} {self.target:,g} {self.unit}, "
            f"ratio {self.ratio:.3f}) {verdict}"
        )


class StatementCounter:
    """Counts the SQL statements an engine sends (`before_cursor_execute`), e.g. to prove there is no N+1."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self.statements: list[str] = []
        self.keep = False
        self._engine = engine
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        self.count += 1
        if self.keep:
            self.statements.append(statement)

    @contextmanager
    def measure(self) -> Iterator[list[int]]:
        """`with counter.measure() as n:` … `n[0]` is the number of statements sent inside the block."""
        box = [0]
        before = self.count
        try:
            yield box
        finally:
            box[0] = self.count - before

    def close(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._seen)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p50 = 0.5, p99 = 0.99) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class Stopwatch:
    """`with Stopwatch() as watch:` … `watch.seconds`."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


QUICK_ENV = "HOTPAPERS_BENCH_QUICK"


def quick() -> bool:
    """`HOTPAPERS_BENCH_QUICK=1`: reduced sizes for a fast look (the recorded run uses the issue's sizes)."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (its threads included) has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The PostgreSQL server processes on this machine (postmaster and backends), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def postgres_cpu_seconds() -> float:
    """CPU seconds used by every PostgreSQL process alive now (exited backends' time is in their parent's
    cutime/cstime, which are added for the postmaster)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in postgres_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total


def socket_ports(pid: int) -> set[int]:
    """Local TCP ports of the sockets process `pid` holds (to tell its PostgreSQL backends from everyone else's)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def say(message: str) -> None:
    """Progress lines go to stdout straight away (the whole run takes minutes)."""
    print(message, flush=True)
