"""8. Scale-out: 1, 2 and 4 replica processes on one PostgreSQL (`bench.replica`), for vote ingestion and for the
1,000-channel digest posting split by the digest claims.

Each replica is its own Python process with the real engine on the shared schema. They all start on one `go`; the
figure is the work done over the wall time from `go` to the last replica done. Alongside: the CPU seconds of every
replica (`time.process_time` in the replica) and of the replicas' PostgreSQL backends (matched to the replicas'
sockets through pg_stat_activity's client ports; /proc of each backend), and how busy the whole machine was
(/proc/stat), since 2 cores are shared by the replicas, PostgreSQL, the driver — and on this workplace other
people's work. The digest posting must post every channel exactly once whatever the number of replicas (checked in
the database and in what the replicas report).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.common import Result, asyncpg_dsn, pg_url, postgres_pids, proc_cpu_seconds, quick, say, socket_ports
from bench.context import BenchContext
from bench.corpus_rows import DAY

REPLICAS = (1, 2, 4)
VOTE_SCHEMA = "bench_scale_votes"


@dataclass
class Run:
    replicas: int
    wall: float
    work: int
    cpu: list[float]
    postgres_cpu: float
    machine_busy: float
    """Share of both cores busy during the run (everything on the machine)."""
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.work / self.wall if self.wall else 0.0

    def describe(self, unit: str) -> str:
        cores = self.wall * (os.cpu_count() or 1)
        return (
            f"{self.replicas} replica(s): {self.rate:,.0f} {unit} ({self.work:,} in {self.wall:.2f} s); CPU "
            f"replicas {' + '.join(f'{c:.1f}' for c in self.cpu)} s ({sum(self.cpu) / self.wall:.0%} of a core), "
            f"PostgreSQL {self.postgres_cpu:.1f} s ({self.postgres_cpu / self.wall:.0%} of a core); machine "
            f"{self.machine_busy:.0%} busy of {cores:.0f} core-seconds{self.detail}"
        )


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


async def _replicas(
    kind: str, schema: str, count: int, arg: int
) -> tuple[list[dict[str, object]], float, float, float]:
    """Starts `count` replicas, waits until all are ready, says go; (their reports, wall, PostgreSQL CPU, busy)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.replica",
            kind,
            schema,
            str(i),
            str(count),
            str(arg),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for i in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 120)
            if line.strip() != b"ready":
                raise RuntimeError(f"replica not ready: {line!r}")
        pg_before, ticks_before = _backend_cpu(), _machine_ticks()
        waits: Counter[str] = Counter()
        sampler = asyncio.create_task(_sample_waits([p.pid for p in processes], waits))
        started = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        reports = []
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 600)
            reports.append(json.loads(line))
        wall = max(float(r["seconds"]) for r in reports)  # type: ignore[arg-type]
        wall = min(wall, time.perf_counter() - started)
        ticks_after = _machine_ticks()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        ports = set().union(*(socket_ports(process.pid) for process in processes))
        ours = await _backends_of(ports)
        pg_after = _backend_cpu()
        pg_cpu = sum(pg_after.get(pid, 0.0) - pg_before.get(pid, 0.0) for pid in ours)
    finally:
        for process in processes:
            if process.returncode is None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write(b"exit\n")
                    await process.stdin.drain()
        for process in processes:
            if process.returncode is None:
                await asyncio.wait_for(process.wait(), 60)
    busy = (ticks_after[0] - ticks_before[0]) / max(1, ticks_after[1] - ticks_before[1])
    total = sum(waits.values()) or 1
    say(
        f"    {count} replica(s): their PostgreSQL backends, sampled every 0.1 s: "
        + ", ".join(f"{state} {n / total:.0%}" for state, n in waits.most_common())
    )
    return reports, wall, pg_cpu, busy


async def _sample_waits(pids: list[int], waits: Counter[str]) -> None:
    """What the replicas' backends are doing, every 0.1 s: running, idle (waiting for the replica), or waiting on
    a lock (a hot row or a shared lock would show here) or on I/O."""
    connection = await asyncpg.connect(asyncpg_dsn(pg_url()))
    try:
        while True:
            ports = set().union(*(socket_ports(pid) for pid in pids))
            rows = await connection.fetch(
                "SELECT client_port, state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE client_port IS NOT NULL"
            )
            for row in rows:
                if row["client_port"] in ports:
                    kind = row["wait_event_type"]
                    state = row["state"] or "?"
                    if state == "active" and kind not in (None, "Client"):
                        state = f"active, waiting on {kind}:{row['wait_event']}"
                    waits[state] += 1
            await asyncio.sleep(0.1)
    finally:
        await connection.close()


def _backend_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process now, by pid."""
    found = {}
    for pid in postgres_pids():
        with contextlib.suppress(OSError):
            found[pid] = proc_cpu_seconds(pid)
    return found


async def _backends_of(ports: set[int]) -> list[int]:
    """The PostgreSQL backends whose client is one of `ports` (the replicas' connections: PostgreSQL here is shared
    with other work, whose CPU must not be counted)."""
    connection = await asyncpg.connect(asyncpg_dsn(pg_url()))
    try:
        rows = await connection.fetch("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
    finally:
        await connection.close()
    return [row["pid"] for row in rows if row["client_port"] in ports]


async def votes(context: BenchContext, count: int, events: int) -> tuple[Run, bool]:
    from bench.data import drop_schema, recreate_schema
    from bench.vote_ingest import _final_counts, _prepare, workload

    await recreate_schema(context.url, VOTE_SCHEMA)
    app, ids = await _prepare(context, context.url, VOTE_SCHEMA)
    try:
        reports, wall, pg_cpu, busy = await _replicas("votes", VOTE_SCHEMA, count, events)
        found, remembered = await _final_counts(app, ids)
    finally:
        await app.aclose()
        await drop_schema(context.url, VOTE_SCHEMA)
    work = workload(random.Random(3), events)
    exact = found == {k: v for k, v in work.expected.items() if v != (0, 0)} and remembered == work.event_ids
    handled = sum(int(r["events"]) for r in reports)  # type: ignore[call-overload]
    run = Run(count, wall, handled, [float(r["cpu"]) for r in reports], pg_cpu, busy)  # type: ignore[arg-type]
    return run, exact and handled == sum(len(q) for q in work.queues)


async def digests(context: BenchContext, count: int, channels: int) -> tuple[Run, bool]:
    corpus = await context.corpus()
    await _forget_day(context, corpus.schema)
    try:
        reports, wall, pg_cpu, busy = await _replicas("digests", corpus.schema, count, channels)
        connection = await asyncpg.connect(asyncpg_dsn(context.url))
        try:
            stored = await connection.fetch(
                f"SELECT d.channel_id, d.state, count(p.id) FILTER (WHERE p.message_id IS NOT NULL) AS posted "
                f'FROM "{corpus.schema}".digests d LEFT JOIN "{corpus.schema}".posts p ON p.digest_id = d.id '
                "WHERE d.day = $1 GROUP BY d.channel_id, d.state",
                DAY,
            )
        finally:
            await connection.close()
    finally:
        await _forget_day(context, corpus.schema)
    keys = [key for r in reports for key in r["posted_channels"]]  # type: ignore[attr-defined]
    once = len(keys) == len(set(keys)) and len(stored) == channels and all(row["state"] == "done" for row in stored)
    states: dict[str, int] = {}
    for report in reports:
        for state, n in report["states"].items():  # type: ignore[attr-defined]
            states[state] = states.get(state, 0) + n
    share = ", ".join(str(len(r["posted_channels"])) for r in reports)  # type: ignore[arg-type]
    detail = f"; channels posted per replica {share}; outcomes {states}"
    run = Run(count, wall, len(set(keys)), [float(r["cpu"]) for r in reports], pg_cpu, busy, detail)  # type: ignore[arg-type]
    return run, once and len(set(keys)) == channels


async def _forget_day(context: BenchContext, schema: str) -> None:
    """The corpus has no digest for DAY: remove what a posting run made (its posts go with it), so the corpus
    stays what the other benchmarks expect."""
    connection = await asyncpg.connect(asyncpg_dsn(context.url))
    try:
        await connection.execute(f'DELETE FROM "{schema}".digests WHERE day = $1', DAY)
    finally:
        await connection.close()


async def run(context: BenchContext) -> list[Result]:
    events = 10_000 if quick() else 40_000
    channels = 200 if quick() else 1_000
    results: list[Result] = []
    vote_runs, digest_runs = [], []
    for count in REPLICAS:
        run_, exact = await votes(context, count, events)
        say("  votes, " + run_.describe("events/s") + f"; final counts {'exact' if exact else 'WRONG'}")
        vote_runs.append((run_, exact))
    for count in REPLICAS:
        run_, once = await digests(context, count, channels)
        say("  digests, " + run_.describe("channels/s") + f"; each channel once: {'yes' if once else 'NO'}")
        digest_runs.append((run_, once))
    for label, unit, runs in (("votes", "events/s", vote_runs), ("digest posting", "channels/s", digest_runs)):
        one = runs[0][0].rate
        for run_, ok in runs:
            results.append(
                Result(
                    f"scale-out {label}, {run_.replicas} replica(s)",
                    run_.rate if ok else 0.0,
                    0.0,
                    unit,
                    "higher",
                    (run_.describe(unit),),
                    informational=True,
                    baseline=one,
                    baseline_name="1 replica",
                )
            )
        results.append(
            Result(
                f"scale-out {label}: exact / each channel once", sum(ok for _, ok in runs), len(runs), "runs", "higher"
            )
        )
    return results
