"""arXiv's category taxonomy, shipped as data (bot/data/arxiv_categories.json): what a channel may subscribe to, and
which archives old-style ids (`hep-th/9901001`) can name."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def _data() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(
        resources.files("bot").joinpath("data/arxiv_categories.json").read_text(encoding="utf-8")
    )
    return loaded


@cache
def _canonical() -> dict[str, str]:
    """Lower-cased name → arXiv's spelling, for archives (`math`, `hep-th`) and categories (`cs.LG`)."""
    archives = _data()["archives"]
    assert isinstance(archives, dict)
    names = [*archives, *(category for categories in archives.values() for category in categories)]
    return {name.lower(): name for name in names}


def canonical_category(name: str) -> str | None:
    """`cs.lg` → `cs.LG`, `MATH` → `math`; None when arXiv has no such archive or category."""
    return _canonical().get(name.strip().lower())


def is_old_style_archive(archive: str) -> bool:
    """Whether an old-style id (before April 2007) can start with this archive (`hep-th`, `math`, `solv-int` …)."""
    old = _data()["old_style_archives"]
    assert isinstance(old, list)
    return archive in old
