"""The CLI as a user runs it: a real process, real config files, the loopback arXiv, exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import SECRET, hotpapers


async def test_demo_shows_a_ranked_digest_with_why_lines_and_a_paper_answer(tmp_path: Path) -> None:
    run = await hotpapers("demo", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "Hot papers for Friday 2020-11-06 — top 5" in run.out
    assert "🐦 2,014 RT+♥" in run.out and "Physics-Informed Neural Network" in run.out
    assert "message 3: 👍3 👎0" in run.out
    assert "Community summary by ShortScience" in run.out and "Neural Message Passing" in run.out
    assert "↳ grace: The ablation in §4 is convincing." in run.out and "💬 2 people in the thread" in run.out
    assert "original post: message console-demo-4" in run.out and "💬 2 here" in run.out
    assert "Posted the roundup of the week ending Sat 2020-11-07 (2 papers)." in run.out
    assert not any(tmp_path.iterdir())  # the demo leaves nothing behind  # noqa: ASYNC240


async def test_paper_json_has_every_documented_field(tmp_path: Path, config: Path) -> None:
    run = await hotpapers(
        "--config", str(config), "paper", "https://arxiv.org/abs/2010.00577v1", "--json", cwd=tmp_path
    )
    assert run.code == 0, run.err
    document = json.loads(run.out)
    assert set(document) >= {
        "id",
        "version",
        "title",
        "authors",
        "abstract",
        "categories",
        "primary_category",
        "published",
        "updated",
        "abs_url",
        "pdf_url",
        "summary",
        "signals",
        "votes",
        "score",
        "why",
        "posted",
    }
    assert document["id"] == "2010.00577" and document["abs_url"] == "https://arxiv.org/abs/2010.00577"
    assert document["title"].startswith("Interpreting Graph Neural Networks for NLP")
    assert set(document["summary"]) >= {"text", "source", "model", "created"}
    assert document["votes"] == {"up": 0, "down": 0}


async def test_ingest_then_digest_json(tmp_path: Path, config: Path) -> None:
    ingest = await hotpapers("--config", str(config), "ingest", cwd=tmp_path)
    assert ingest.code == 0, ingest.err
    assert "Ingested 11 announced papers for 2020-10-02: 11 new, 0 updated, 2 arXiv requests." in ingest.out
    digest = await hotpapers("--config", str(config), "digest", "--date", "2020-10-02", "--json", cwd=tmp_path)
    document = json.loads(digest.out)
    assert document["date"] == "2020-10-02" and len(document["entries"]) == 5
    assert [e["rank"] for e in document["entries"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["paper", "@everyone"], 2, "is not an arXiv id or URL"),
        (["paper", "2101.99999"], 3, "arXiv has no paper 2101.99999"),
        (["digest", "--channel", "nope"], 2, "must look like platform:workspace:channel"),
        (["digest", "--date", "yesterday"], 2, "is not a date"),
        (["db"], 2, "db"),
        (["summary", "regenerate", "2010.00577"], 2, "no LLM is configured"),
    ],
)
async def test_failures_are_one_line_with_the_documented_exit_code(
    tmp_path: Path, config: Path, args: list[str], code: int, says: str
) -> None:
    run = await hotpapers("--config", str(config), *args, cwd=tmp_path)
    assert run.code == code
    assert says in run.err and "Traceback" not in run.err
    if code != 2 or args[0] == "paper":
        assert len(run.err.strip().splitlines()) == 1


async def test_unreachable_arxiv_and_database_exit_4_without_secrets(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[arxiv]\napi_url = "http://127.0.0.1:9/api/query"\nnum_retries = 0\ndelay_seconds = 0\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n'
    )
    run = await hotpapers("--config", str(bad), "paper", "2010.00577", cwd=tmp_path)
    assert run.code == 4 and "arXiv" in run.err and len(run.err.strip().splitlines()) == 1
    pg = tmp_path / "pg.toml"
    pg.write_text(f'[database]\nurl = "postgresql+asyncpg://bot:{SECRET}@127.0.0.1:9/x"\n')
    run = await hotpapers("--config", str(pg), "paper", "2010.00577", cwd=tmp_path)
    assert run.code == 4 and "database unreachable" in run.err and SECRET not in run.err


async def test_a_config_error_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text("[digest]\ntop_m = 3\n")
    run = await hotpapers("--config", str(bad), "demo", cwd=tmp_path)
    assert run.code == 2 and "digest.top_m" in run.err


async def test_console_repl_runs_the_chat_commands(tmp_path: Path) -> None:
    commands = "\n".join(
        [
            "/help",
            "/paper 2011.02519",
            "/post",
            "/vote 2 up",
            "/vote 2 up",
            "/vote 2 up remove",
            "/vote 1 down",
            "/top",
            "/subscribe categories=cs.CV top=3 tz=Europe/Berlin",
            "/subscribe top=99",
            "/settings",
            '/summarize 2011.02803 "Contrastive losses behave alike; temperature matters."',
            "/paper 2011.02803",
            "/report 2011.02803",
            "/report 2011.02519",
            "/paper nonsense",
            "/bogus",
            "/quit",
        ]
    )
    run = await hotpapers(
        "console", "--sample", "--channel", "console:lab:ml", "--user", "ada", cwd=tmp_path, stdin=commands
    )
    assert run.code == 0, run.err
    out = run.out
    assert "/subscribe [key=value …]" in out
    assert "Your 👍 is counted. Now 👍 1 · 👎 0 in this channel." in out
    assert "Your 👍 is taken back. Now 👍 0 · 👎 0 in this channel." in out
    assert "Your 👎 is counted. Now 👍 0 · 👎 1 in this channel." in out
    assert "top: 3 papers at 09:00 Europe/Berlin" in out
    assert "top_n: must be a whole number from 1 to 25" in out
    assert "Community summary by ada" in out and "temperature matters" in out
    assert "Thanks — reported. The card now shows: Community summary by ada" in out
    assert "computed from the abstract; there is nothing to report" in out
    assert "'nonsense' is not an arXiv id" in out and "unknown command '/bogus'" in out
