"""Build bot/data/sample.json (the offline demo data) from the seed pages in shared/seeds.

Usage: python scripts/build_sample_data.py [SEEDS_DIR] [OUTPUT]   (defaults: /work/shared/seeds, bot/data/sample.json)

Deterministic: the same seeds give byte-identical output. Hot Papers posts ("title: Hot Papers YYYY-MM-DD") give the
days and their papers in the post's own order, with retweets + favorites. ShortScience pages give community
summaries; the pages do not print arXiv ids, so the papers they summarise are identified by title in
`SHORTSCIENCE_PAPERS` (checked by hand). A summary whose page names no paper is left out, as it cannot be attached.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

SEEDS = Path("/work/shared/seeds")
OUTPUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "sample.json"

# ShortScience paper title -> (arXiv id, v1 submission day, categories when the page's keywords are not categories).
# Ids and days checked by hand against arXiv listings; the pages themselves only give titles, authors and a year.
SHORTSCIENCE_PAPERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Neural Message Passing for Quantum Chemistry": ("1704.01212", "2017-04-04", ("cs.LG",)),
    "What is being transferred in transfer learning?": ("2008.11687", "2020-08-26", ("cs.LG",)),
    "Understanding deep learning requires rethinking generalization": ("1611.03530", "2016-11-10", ()),
    "Meta-Learning via Learned Loss": ("1906.05374", "2019-06-12", ()),
    "Discovering Reinforcement Learning Algorithms": ("2007.08794", "2020-07-17", ()),
}

_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Mac Roman ("R√©" -> "Ré", "\uf8ffüî•" -> "🔥"); runs that do not round-trip stay."""

    def repair(match: re.Match[str]) -> str:
        run = match.group(0)
        try:
            return run.encode("mac_roman").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return run

    return re.sub(r"[^\x00-\x7f]+", repair, text)


def one_line(text: str) -> str:
    return " ".join(fix_mojibake(text).split())


def paragraphs(lines: list[str]) -> str:
    """Join hard-wrapped lines; a blank line separates paragraphs."""
    text = "\n".join(lines).strip()
    return "\n\n".join(one_line(part) for part in re.split(r"\n\s*\n", text) if part.strip())


def parse_hot_papers(text: str) -> dict[str, Any]:
    day = re.search(r"^title: Hot Papers (\d{4}-\d{2}-\d{2})$", text, re.MULTILINE)
    if day is None:
        raise ValueError("not a Hot Papers post")
    sections = re.split(r"^# \d+\. ", text, flags=re.MULTILINE)[1:]
    return {"date": day.group(1), "papers": [_hot_paper(section, day.group(1)) for section in sections]}


def _hot_paper(section: str, day: str) -> dict[str, Any]:
    lines = section.splitlines()
    title = one_line(lines[0])
    authors = next(line for line in lines[1:] if line.strip())
    stats = re.search(r"^- retweets: (\d+), favorites: (\d+)", section, re.MULTILINE)
    abs_link = re.search(r"\[abs\]\(https://arxiv\.org/abs/([^)\s]+)\)", section)
    categories = re.findall(r"\[([^\]]+)\]\(https://arxiv\.org/list/[^)]+/recent\)", section)
    if stats is None or abs_link is None or not categories:
        raise ValueError(f"cannot read the paper {title!r}")
    start = next(i for i, line in enumerate(lines) if "arxiv.org/list/" in line) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith("<")), len(lines))
    return {
        "id": abs_link.group(1),
        "version": 1,
        "title": title,
        "authors": [one_line(name) for name in authors.split(",") if name.strip()],
        "abstract": paragraphs(lines[start:end]),
        "categories": categories,
        "primary_category": categories[0],
        "published": f"{day}T00:00:00+00:00",
        "retweets": int(stats.group(1)),
        "favorites": int(stats.group(2)),
    }


_SS_META = re.compile(
    r"^(?P<title>[^\n]+)\n\n(?P<authors>[^\n]+)\n\narXiv e-Print archive - (?P<year>\d{4}) via [^\n]+\n\n"
    r"Keywords: (?P<keywords>[^\n]+)\n\n(?:\*\*First published:\*\* (?P<first>\d{4}/\d{2}/\d{2})[^\n]*\n\n)?"
    r"(?:\*\*Abstract:\*\* (?P<abstract>.*?)\nmore\nless\n)?",
    re.MULTILINE | re.DOTALL,
)
_SS_SUMMARY = re.compile(r"^\[link\]\n(?P<text>.*?) \|\s*$", re.MULTILINE | re.DOTALL)


def parse_shortscience(text: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(paper, summary) pairs for every summary whose page names the paper."""
    metas = [m for m in _SS_META.finditer(text) if m.group("title").strip() in SHORTSCIENCE_PAPERS]
    summaries = list(_SS_SUMMARY.finditer(text))
    firsts = list(dict.fromkeys(m.group("title") for m in metas))  # each paper's metadata is printed twice
    if len(firsts) != len(summaries):
        return []
    pairs = []
    for title, summary in zip(firsts, summaries, strict=True):
        meta = next(m for m in metas if m.group("title") == title)
        paper_id, first_day, fallback = SHORTSCIENCE_PAPERS[title.strip()]
        keywords = [word.strip() for word in meta.group("keywords").split(",")]
        categories = [word for word in keywords if _CATEGORY.match(word) and "." in word] or list(fallback)
        paper = {
            "id": paper_id,
            "version": 1,
            "title": one_line(title),
            "authors": _ss_authors(meta.group("authors")),
            "abstract": paragraphs((meta.group("abstract") or "").splitlines()),
            "categories": categories,
            "primary_category": categories[0],
            "published": f"{first_day}T00:00:00+00:00",
            "retweets": 0,
            "favorites": 0,
        }
        pairs.append((paper, {"paper_id": paper_id, "author": "ShortScience", "text": one_line(summary["text"])}))
    return pairs


def _ss_authors(line: str) -> list[str]:
    """'Gilmer, Justin and Dahl, George E.' or 'Chiyuan Zhang and Samy Bengio' -> display names."""
    names = []
    for part in line.split(" and "):
        last, comma, first = part.partition(",")
        names.append(one_line(f"{first} {last}" if comma else part))
    return names


def build(seeds: Path) -> dict[str, Any]:
    days, extra, summaries = [], {}, []
    for path in sorted(seeds.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---") and "title: Hot Papers" in text:
            days.append(parse_hot_papers(text))
            continue
        for paper, summary in parse_shortscience(text):
            extra.setdefault(paper["id"], paper)
            if all(s["paper_id"] != summary["paper_id"] for s in summaries):
                summaries.append(summary)
    posted = {paper["id"] for day in days for paper in day["papers"]}
    days.sort(key=lambda day: day["date"])
    return {
        "days": days,
        "papers": [paper for key, paper in sorted(extra.items()) if key not in posted],
        "summaries": sorted(summaries, key=lambda summary: summary["paper_id"]),
    }


def main(argv: list[str]) -> int:
    seeds = Path(argv[1]) if len(argv) > 1 else SEEDS
    output = Path(argv[2]) if len(argv) > 2 else OUTPUT
    data = build(seeds)
    output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    count = sum(len(day["papers"]) for day in data["days"]) + len(data["papers"])
    print(f"wrote {output}: {len(data['days'])} days, {count} papers, {len(data['summaries'])} summaries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
