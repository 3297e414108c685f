"""The core never imports a chat platform or an adapter (they plug in from outside), and inside it every import
points inward: runtime and web -> app -> domain, storage and sources -> domain."""

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


LAYERS = ("domain", "app", "storage", "sources", "runtime", "web")
MAY_IMPORT = {
    "domain": {"domain"},
    "app": {"domain", "app"},
    "storage": {"domain", "storage"},
    "sources": {"domain", "sources"},
    "runtime": set(LAYERS),
    "web": set(LAYERS),
}
"""Which layers each layer's modules may import (README §Architecture): the rules and the ports (`bot/domain/`)
import none of the others; the use cases (`bot/app/`) import the domain only, reaching storage through
`bot.domain.ports.UnitOfWork` and `ReadModel`; storage and sources implement the ports and import the domain only;
the delivery side — the composition root, CLI and runner (`bot/runtime/`), and the channel pages served over HTTP
(`bot/web/`) — may import them all."""
NO_SQL = ("domain", "app")


def _layer_offenders(core: Path) -> list[str]:
    offenders = []
    for path in sorted(core.rglob("*.py")):
        parts = path.relative_to(core).parts
        if len(parts) == 1:
            if parts[0] != "__init__.py":
                offenders.append(f"bot/{parts[0]} is in no layer")
            continue
        layer = parts[0]
        if layer not in MAY_IMPORT:
            offenders.append(f"bot/{layer}/ is no layer")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree)):
            offenders.append(f"{path.relative_to(core.parent)} uses a relative import")
        for name in _imports(path):
            top, _, rest = name.partition(".")
            target = rest.split(".")[0] if top == "bot" else None
            if (target is not None and target not in MAY_IMPORT[layer]) or (layer in NO_SQL and top == "sqlalchemy"):
                offenders.append(f"{path.relative_to(core.parent)} ({layer}) imports {name}")
    return offenders


def test_every_import_points_inward() -> None:
    assert _layer_offenders(CORE) == []


def test_the_direction_check_sees_an_upward_import(tmp_path: Path) -> None:
    core = tmp_path / "bot"
    for layer, text in {
        "domain": "from bot.app.service import HotPapers\n",
        "app": "import bot.storage.uow\nimport sqlalchemy\nfrom bot.domain.model import Paper\n",
        "storage": "from .uow import UnitOfWork\n",
        "runtime": "from bot.web.server import serve\nfrom bot.storage.uow import UnitOfWork\n",
    }.items():
        (core / layer).mkdir(parents=True)
        (core / layer / "m.py").write_text(text)
    (core / "flat.py").write_text("")
    assert _layer_offenders(core) == [
        "bot/app/m.py (app) imports bot.storage.uow",
        "bot/app/m.py (app) imports sqlalchemy",
        "bot/domain/m.py (domain) imports bot.app.service",
        "bot/flat.py is in no layer",
        "bot/storage/m.py uses a relative import",
    ]


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
