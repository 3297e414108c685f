"""`python -m bench.replica KIND SCHEMA INDEX COUNT [EVENTS]`: one replica process of the scale-out benchmark.

A replica is what a stateless `hotpapers run` is to the database: an engine built by the real composition root on
the shared PostgreSQL schema, with its own connection pool and caches. It prepares its work, prints `ready`, waits
for `go` on stdin (so every replica starts together), does its share, prints one JSON line with what it did, the
seconds it took and the CPU seconds it used (all its threads), and closes its pool on `exit` (so the driver can
read the CPU of its PostgreSQL backends first).

- `votes`: the vote-ingestion workload of `bench.vote_ingest` (the same seed in every replica), delivery queues
  `INDEX::COUNT` — every (channel, message, user) lives in one queue, so its events stay in order, as a gateway
  shard or a Slack events endpoint would route them.
- `digests`: `post_digest` for every subscribed channel of the corpus, `IN_FLIGHT` at a time (all due at one
  post time) (replicas start at different channels, as their clocks differ), into an in-memory publisher;
  the digest claims decide which replica posts which channel.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

from bench.common import collector_as_run, pg_url
from bench.context import BenchContext

IN_FLIGHT = 10
"""Digests posted at once by one replica. Unbounded (as `DigestScheduler` catch-up's `gather` is today), 200
channels at once on the shared machine ended 144 of them in SQLAlchemy's 30 s pool timeout: see bench/RESULTS.md."""


async def _main(kind: str, schema: str, index: int, count: int, events: int) -> dict[str, object]:
    context = BenchContext(pg_url())
    loop = asyncio.get_running_loop()
    if kind == "votes":
        from bench.vote_ingest import NOW, PER_KEY, workload

        app = await context.app(schema=schema, now=NOW, database={"pool_size": 5})
        work = workload(__import__("random").Random(3), events, PER_KEY)  # one task per (message, user)
        queues = work.queues[index::count]
        service = app.service

        async def deliverer(queue: list) -> None:  # type: ignore[type-arg]
            for event in queue:
                await service.record_reaction(event)

        await _ready(loop)
        cpu, started = time.process_time(), time.perf_counter()
        with collector_as_run():  # a replica is a `hotpapers run`
            await asyncio.gather(*(deliverer(queue) for queue in queues))
        result: dict[str, object] = {"events": sum(len(q) for q in queues)}
    else:
        from bench.corpus_rows import DAY, NOW, Scale, channel_ref
        from tests.fakes.recording_publisher import RecordingPublisher

        channels = [channel_ref(i) for i in range(events or Scale().channels)]
        start = index * len(channels) // count
        channels = channels[start:] + channels[:start]
        app = await context.app(schema=schema, now=NOW)
        publisher = RecordingPublisher("discord")
        await _ready(loop)
        cpu, started = time.process_time(), time.perf_counter()
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def post(channel: object) -> object:
            async with gate:
                return await app.service.post_digest(channel, DAY, publisher)  # type: ignore[arg-type]

        outcomes = await asyncio.gather(*(post(c) for c in channels), return_exceptions=True)
        states = Counter(o.state if not isinstance(o, BaseException) else type(o).__name__ for o in outcomes)
        posted = sorted(o.digest.channel.key for o in outcomes if not isinstance(o, BaseException) and o.posted)
        result = {"states": dict(states), "posted_channels": posted, "messages": len(publisher.calls)}
    result.update(seconds=time.perf_counter() - started, cpu=time.process_time() - cpu)
    print(json.dumps(result), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "exit": the driver has read its backends' CPU
    await app.aclose()
    return result


async def _ready(loop: asyncio.AbstractEventLoop) -> None:
    print("ready", flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit("no go")


def main() -> int:
    kind, schema, index, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    events = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    asyncio.run(_main(kind, schema, index, count, events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
