"""The core never imports a chat platform or an adapter: they plug in from outside."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("discord", "slack_bolt", "slack_sdk", "adapters")
CORE = Path(__file__).resolve().parents[2] / "bot"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_imports_no_platform_library_or_adapter() -> None:
    offenders = [
        f"{path.relative_to(CORE.parent)} imports {name}"
        for path in sorted(CORE.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_the_boundary_check_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import discord\nfrom slack_bolt.app import App\n")
    assert _imports(sample) == ["discord", "slack_bolt.app"]


USE_CASES = (
    "service.py", "cards.py", "digest.py", "votes.py", "ingest.py", "ports.py", "records.py", "model.py",
    "discussion.py", "journal_club.py", "digest_rank.py",
)  # fmt: skip
"""The core's use cases and the types they trade: they reach storage only through `bot.ports.UnitOfWork` and
`bot.ports.ReadModel`."""


def test_use_cases_reach_storage_only_through_the_ports() -> None:
    offenders = [
        f"bot/{name} imports {module}"
        for name in USE_CASES
        for module in _imports(CORE / name)
        if module.split(".")[0] == "sqlalchemy" or module.startswith("bot.storage")
    ]
    assert offenders == []


DIALECTS = {"sqlite", "postgresql", "postgres"}
KNOWS_DIALECTS = {"bot/storage/dialect.py", "bot/storage/database.py"}
"""Where SQLite and PostgreSQL are told apart by name: the dialect module, and the URL checks of `database.py`
(the migrations keep the branches they were written with)."""


def test_only_the_dialect_module_branches_on_the_database() -> None:
    offenders = [
        f"{path.relative_to(CORE.parent)}:{node.lineno} names {node.value!r}"
        for path in sorted(CORE.rglob("*.py"))
        if str(path.relative_to(CORE.parent)) not in KNOWS_DIALECTS and "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in DIALECTS
    ]
    assert offenders == []
