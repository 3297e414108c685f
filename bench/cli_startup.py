"""7. CLI start-up: `hotpapers --help` ≤ 5× and `hotpapers paper REF` (a stored paper) ≤ 12× a bare `python -c pass`.

Each figure is the median wall time of real processes, as a ratio to `python -c pass` measured in the same run (the
interpreter's own start-up is the physical floor; absolute times do not travel between machines). The paper is read
from an SQLite database the bench fills with `hotpapers sample load`; every network source is off or pointed at a
closed local port, so nothing leaves the machine and nothing is waited for. The project's modules are compiled to
bytecode first (`compile_project`), as an installed hotpapers is; the baselines' libraries already are.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, say
from bench.context import BenchContext

RUNS = 9
PAPER = "2010.00577"
CLOSED = "http://127.0.0.1:9"
TARGETS = {"--help": 5.0, f"paper {PAPER}": 12.0}


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
enabled = false
[signals.hn]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def compile_project() -> None:
    """Write the project's bytecode (`__pycache__`, ignored by git) as `pip install` does for an installed package.

    With PYTHONDONTWRITEBYTECODE set (as in the sessions' shells) and no `.pyc` in the checkout, every process would
    compile each of the ~60 modules it imports from source: ≈ 120 ms of a `hotpapers paper` and more transient memory,
    which a deployment never pays. The flag only stops writing: processes still read what this writes."""
    root = Path(__file__).resolve().parents[1]
    folders = [str(root / name) for name in ("bot", "adapters")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, capture_output=True)


def _median_seconds(command: list[str], cwd: Path) -> float:
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)  # warm-up: the OS's file cache
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:])} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return statistics.median(times)


async def run(context: BenchContext) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="hotpapers-cli-") as folder:
        where = Path(folder)
        config = str(_config(where))
        cli = [sys.executable, "-m", "bot.cli"]
        compile_project()
        _median_seconds([*cli, "--config", config, "sample", "load"], where)  # also migrates the database
        floor = _median_seconds([sys.executable, "-c", "pass"], where)
        say(f"  python -c pass: {floor * 1000:.0f} ms (median of {RUNS})")
        results = []
        for label, args in (("--help", ["--help"]), (f"paper {PAPER}", ["--config", config, "paper", PAPER])):
            seconds = _median_seconds([*cli, *args], where)
            say(f"  hotpapers {label}: {seconds * 1000:.0f} ms")
            results.append(
                Result(
                    f"hotpapers {label}",
                    seconds * 1000,
                    TARGETS[label],
                    "ms",
                    "lower",
                    inclusive=True,
                    notes=(f"median of {RUNS} processes; `python -c pass` {floor * 1000:.0f} ms",),
                    baseline=floor * 1000,
                    baseline_name="python -c pass",
                )
            )
        return results
