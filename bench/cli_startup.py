"""7. CLI start-up: `hotpapers --help` ≤ 5× and `hotpapers paper REF` (a stored paper) ≤ 12× a bare `python -c pass`.

Each figure is the median wall time of real processes, as a ratio to `python -c pass` measured in the same run (the
interpreter's own start-up is the physical floor; absolute times do not travel between machines). The paper is read
from an SQLite database the bench fills with `hotpapers sample load`; every network source is off or pointed at a
closed local port, so nothing leaves the machine and nothing is waited for. The project's modules are compiled to
bytecode first (`compile_project`), as an installed hotpapers is; the baselines' libraries already are. The commands
run interleaved, round after round, so the machine's load weighs on all alike. An informational row sets `paper`
against the bare import of the libraries it cannot run without (`PAPER_LIBRARIES`). A stored paper on SQLite is read
with the stdlib's `sqlite3` (`bot/runtime/stored_paper.py`): SQLAlchemy and aiosqlite, whose bare import alone was
18× `python -c pass`, are no longer among them.
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
PAPER_LIBRARIES = ("asyncio", "sqlite3", "pydantic", "rich.console")
"""What `paper` for a stored paper cannot run without: the event loop, the stdlib's SQLite module, the config's
validation, the terminal renderer. Informational: the floor."""


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


def _medians(commands: dict[str, list[str]], cwd: Path) -> dict[str, float]:
    """Median wall time of each command over RUNS rounds; each round runs every command once, in turn, so a change
    in the machine's load (other sessions' test suites) weighs on the baseline as on the figures."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for command in commands.values():  # warm-up: the OS's file cache
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    for _ in range(RUNS):
        for label, command in commands.items():
            started = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
            times[label].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"{label} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return {label: statistics.median(values) for label, values in times.items()}


async def run(context: BenchContext) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="hotpapers-cli-") as folder:
        where = Path(folder)
        config = str(_config(where))
        cli = [sys.executable, "-m", "bot.runtime.cli"]
        compile_project()
        _medians({"sample load": [*cli, "--config", config, "sample", "load"]}, where)  # also makes the database
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "libraries": [sys.executable, "-c", "import " + ", ".join(PAPER_LIBRARIES)],
            "--help": [*cli, "--help"],
            f"paper {PAPER}": [*cli, "--config", config, "paper", PAPER],
        }
        medians = _medians(commands, where)
        floor, libraries = medians.pop("python -c pass"), medians.pop("libraries")
        say(f"  python -c pass: {floor * 1000:.0f} ms (median of {RUNS}, interleaved with the others)")
        say(f"  bare import of {', '.join(PAPER_LIBRARIES)}: {libraries * 1000:.0f} ms ({libraries / floor:.1f}×)")
        results = []
        for label, seconds in medians.items():
            against_floor = f", {seconds / libraries:.2f}× the bare import" if label.startswith("paper") else ""
            say(f"  hotpapers {label}: {seconds * 1000:.0f} ms ({seconds / floor:.1f}× python -c pass{against_floor})")
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
        results.append(
            Result(
                f"hotpapers paper {PAPER} vs its libraries",
                medians[f"paper {PAPER}"] * 1000,
                0,
                "ms",
                "lower",
                informational=True,
                notes=(
                    f"the floor of this stack: importing {', '.join(PAPER_LIBRARIES)} alone is "
                    f"{libraries / floor:.1f}× `python -c pass`; `paper` is "
                    f"{medians[f'paper {PAPER}'] / floor:.1f}× `python -c pass`, "
                    f"{medians[f'paper {PAPER}'] / libraries:.2f}× the floor",
                ),
                baseline=libraries * 1000,
                baseline_name="bare import of its libraries",
            )
        )
        return results
