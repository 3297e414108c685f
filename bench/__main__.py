"""`python -m bench [--reuse] [NAME …]`: run the benchmarks (all by default) and print a summary table.

Each benchmark makes its own data, prints what it measured against its target, and returns result rows; the table
at the end has one row per figure (name, measured, target, ratio, pass/fail). Exit status 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import Result, pg_url, say
from bench.context import BenchContext

BENCHMARKS = (
    "paper_latency",
    "digest_build",
    "vote_ingest",
    "scale_out",
    "sizes",
    "fanout",
    "footprint",
    "ingest_day",
    "cli_startup",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {BENCHMARKS}")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the generated PostgreSQL corpus if its fingerprint matches (default: regenerate)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    chosen = args.names or list(BENCHMARKS)
    return asyncio.run(_run(chosen, reuse=args.reuse))


async def _run(names: list[str], *, reuse: bool) -> int:
    context = BenchContext(pg_url(), reuse=reuse)
    say(
        f"hotpapers benchmarks on {platform.node()}: {_cpu()} × {os.cpu_count()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; PostgreSQL {context.url.rsplit('@', 1)[-1]}"
    )
    results: list[Result] = []
    started = time.perf_counter()
    try:
        for name in names:
            say(f"\n== {name} ==")
            module = importlib.import_module(f"bench.{name}")
            began = time.perf_counter()
            try:
                found: list[Result] = await module.run(context)
            except Exception:  # one benchmark's crash is a failed row, not the end of the run
                traceback.print_exc()
                found = [Result(f"{name} (crashed)", 1, 0, "", "lower", inclusive=True)]
            for result in found:
                say("  " + result.describe())
                for note in result.notes:
                    say(f"    {note}")
            say(f"  ({time.perf_counter() - began:.0f} s)")
            results.extend(found)
    finally:
        await context.close()
    _table(results, seconds=time.perf_counter() - started)
    return 0 if all(result.passed or result.informational for result in results) else 1


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())


def _table(results: list[Result], *, seconds: float) -> None:
    table = Table(title=f"hotpapers benchmarks ({seconds / 60:.1f} min)")
    for column in ("benchmark", "measured", "baseline (same run)", "ratio", "target", "met"):
        table.add_column(column, justify="left" if column in ("benchmark", "baseline (same run)") else "right")
    for result in results:
        baseline = (
            f"{result.baseline:,.2f} {result.unit} {result.baseline_name}".strip()
            if result.baseline is not None
            else "—"
        )
        table.add_row(
            result.name,
            f"{result.measured:,.2f} {result.unit}",
            baseline,
            f"{result.ratio:.2f}" + ("×" if result.baseline is not None else ""),
            result.target_text,
            "info" if result.informational else "yes" if result.passed else "[bold red]NO[/]",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    sys.exit(main())
