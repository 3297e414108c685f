"""bot/data/sample.json: the offline demo data the seeds sanity anchor and the demo rely on."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain.arxiv_id import parse_arxiv_id

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bot" / "data" / "sample.json"
SEEDS = next(
    (folder for folder in (ROOT.parent / "shared" / "seeds", Path("/work/shared/seeds")) if folder.is_dir()),
    ROOT.parent / "shared" / "seeds",
)
"""The seed pages sit beside the checkout (shared/), in the workspace and in CI alike."""


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _all_papers(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [paper for day in data["days"] for paper in day["papers"]] + data["papers"]


def test_each_day_is_ordered_by_descending_retweets_plus_favorites() -> None:
    data = _sample()

    assert len(data["days"]) == 3
    for day in data["days"]:
        tweets = [paper["retweets"] + paper["favorites"] for paper in day["papers"]]
        assert tweets == sorted(tweets, reverse=True), day["date"]
        assert len(tweets) >= 5


def test_every_paper_id_is_a_canonical_arxiv_id_with_complete_metadata() -> None:
    papers = _all_papers(_sample())

    assert {"2010.00577", "2010.00402"} <= {paper["id"] for paper in papers}
    assert len({paper["id"] for paper in papers}) == len(papers)
    for paper in papers:
        parsed = parse_arxiv_id(paper["id"])
        assert (parsed.id, parsed.version) == (paper["id"], None)
        assert paper["title"] == " ".join(paper["title"].split()) and paper["title"]
        assert paper["authors"] and paper["categories"][0] == paper["primary_category"]
        assert datetime.fromisoformat(paper["published"]).utcoffset() is not None
        assert "√" not in paper["title"] + "".join(paper["authors"]) + paper["abstract"]


def test_every_summary_belongs_to_a_bundled_paper() -> None:
    data = _sample()
    ids = {paper["id"] for paper in _all_papers(data)}

    assert data["summaries"]
    for summary in data["summaries"]:
        assert summary["paper_id"] in ids
        assert summary["author"] and len(summary["text"]) > 200


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed pages are only present in the project workspace")
def test_generator_rebuilds_the_bundled_file_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_sample_data", ROOT / "scripts" / "build_sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    module.main(["build_sample_data.py", str(SEEDS), str(tmp_path / "sample.json")])

    assert (tmp_path / "sample.json").read_bytes() == SAMPLE.read_bytes()
