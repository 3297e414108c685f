"""Issue 15, "the first hour of a lab admin": each promise driven the way a user meets it — a real `hotpapers`
process, its stdin, exit code and stderr."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, hotpapers
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.hn_server import FakeHackerNews

PG_URL = os.environ.get("HOTPAPERS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def require_postgres() -> None:
    """Skip locally when no PostgreSQL answers; with CI=true it must."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", 5432), 5)
    except OSError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    writer.close()


def one_line(run: Run) -> str:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.err, run.err
    return lines[0]


async def test_the_console_answers_bad_numbers_and_reads_the_next_line(tmp_path: Path) -> None:
    commands = [
        "/top ²",
        "/vote ² up",
        "/summary up ²",
        "/vote " + "1" * 100_000 + " up",
        "/summary up 99999999999999999999",
        "/top 0",
        "/paper 2011.02519",
        "/quit",
    ]
    run = await hotpapers("console", "--sample", cwd=tmp_path, stdin="\n".join(commands))
    assert run.code == 0, run.err
    assert run.err == ""
    assert "DAYS must be a whole number from 1 to 365 (got '²')" in run.out
    assert "N (a digest entry) must be a whole number from 1 to 25 (got '²')" in run.out
    assert "ID must be a whole number from 1 to 9223372036854775807 (got '²')" in run.out
    assert "(got '11111111111111111111…')" in run.out
    assert "(got '99999999999999999999')" in run.out
    assert "DAYS must be a whole number from 1 to 365 (got '0')" in run.out
    assert "Unsupervised" in run.out or "2011.02519" in run.out  # the session lived on to the last command
    assert "unexpected" not in run.out


async def test_a_channel_key_longer_than_the_database_column_is_bad_input(tmp_path: Path, config: Path) -> None:
    long_key = "console:local:" + "c" * 100
    run = await hotpapers("--config", str(config), "digest", "--channel", long_key, cwd=tmp_path)
    assert run.code == 2
    assert "the channel part is 100 characters; the limit is 64" in one_line(run)
    slack = await hotpapers(
        "--config", str(config), "paper", "2010.00577", "--channel", "slack:" + "T" * 70 + ":C1", cwd=tmp_path
    )
    assert slack.code == 2 and "the workspace part is 70 characters; the limit is 64" in one_line(slack)


async def test_digest_post_refuses_another_platforms_channel_and_leaves_its_day_alone(
    tmp_path: Path, config: Path
) -> None:
    assert (await hotpapers("--config", str(config), "ingest", cwd=tmp_path)).code == 0
    slack = "slack:T0123:C0456"
    run = await hotpapers("--config", str(config), "digest", "--post", "--channel", slack, cwd=tmp_path)
    assert run.code == 2 and run.out == ""
    assert "digest --post posts to console channels only; slack:T0123:C0456 gets its digest from `hotpapers run`" in (
        one_line(run)
    )
    console = await hotpapers(
        "--config",
        str(config),
        "console",
        "--channel",
        slack,
        cwd=tmp_path,
        stdin="/post 2020-10-02\n/digest 2020-10-02\n",
    )
    assert "/post posts to console channels only" in console.out
    assert "Hot papers for Friday 2020-10-02 — top 5" in console.out  # the preview: still the full day, unposted


async def test_post_on_a_day_where_nothing_matches_says_so_and_keeps_the_day_open(tmp_path: Path) -> None:
    commands = ["/subscribe categories=math.AG", "/post", "/subscribe categories=clear", "/post", "/post", "/quit"]
    run = await hotpapers("console", "--sample", cwd=tmp_path, stdin="\n".join(commands))
    assert run.code == 0, run.err
    out = run.out
    assert "Nothing matched this channel's filters for 2020-11-06: nothing was posted, and the day stays open." in out
    assert out.count("Hot papers for Friday 2020-11-06 — top 5") == 1  # posted once the filters let papers through
    assert "The digest for 2020-11-06 was already posted here." in out


async def test_digest_on_a_fresh_database_says_nothing_was_ingested_not_that_nothing_was_announced(
    tmp_path: Path, config: Path
) -> None:
    fresh = await hotpapers("--config", str(config), "digest", "--date", "2020-10-02", cwd=tmp_path)
    assert fresh.code == 0, fresh.err
    assert "Nothing ingested for Friday 2020-10-02 yet — run `hotpapers ingest`." in fresh.out
    assert "No new arXiv papers" not in fresh.out
    assert (await hotpapers("--config", str(config), "ingest", cwd=tmp_path)).code == 0
    weekend = await hotpapers("--config", str(config), "digest", "--date", "2020-10-03", "--json", cwd=tmp_path)
    document = json.loads(weekend.out)
    assert (document["announced"], document["ingested"]) == (False, True)
    assert document["header"] == "No new arXiv papers were announced for Saturday 2020-10-03."
    later = await hotpapers("--config", str(config), "digest", "--date", "2020-10-05", "--json", cwd=tmp_path)
    assert json.loads(later.out)["ingested"] is False  # a Monday after the last ingest


async def test_one_score_per_paper_and_channel_and_the_new_version_flag_has_its_own_name(
    tmp_path: Path, config: Path
) -> None:
    assert (await hotpapers("--config", str(config), "ingest", cwd=tmp_path)).code == 0
    channel = "console:lab:ml"
    digest = await hotpapers(
        "--config", str(config), "digest", "--date", "2020-10-02", "--json", "--channel", channel, cwd=tmp_path
    )
    entry = json.loads(digest.out)["entries"][0]
    paper = await hotpapers("--config", str(config), "paper", entry["id"], "--json", "--channel", channel, cwd=tmp_path)
    card = json.loads(paper.out)
    assert card["score"] == entry["score"]
    assert "rank_score" in entry and "rank_score" not in card
    assert entry["rank_score"] < entry["score"]  # the digest's order decays with age: a 2020 paper, read today
    assert entry["new_version"] is False
    assert entry["updated"] == card["updated"] and entry["updated"].startswith("20")  # the timestamp, as on the card


async def test_digest_json_into_a_closed_pipe_ends_quietly(tmp_path: Path, config: Path) -> None:
    assert (await hotpapers("--config", str(config), "ingest", cwd=tmp_path)).code == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`head -1`) is gone before we write a byte
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.runtime.cli",
            "--config",
            str(config),
            "digest",
            "--date",
            "2020-10-02",
            "--json",
            cwd=tmp_path,
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert err.decode() == ""


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/hotpapers_no_such_db",
            4,
            "database 'hotpapers_no_such_db' does not exist on 127.0.0.1",
        ),
        ("postgresql+asyncpg://no_such_role@127.0.0.1:5432/test", 4, "database role 'no_such_role' does not exist"),
        ("sqlite+aiosqlite:///{tmp}/missing/folder/x.db", 4, "the folder {tmp}/missing/folder does not exist"),
        ("postgresql://postgres@127.0.0.1/test", 2, "write postgresql+asyncpg://… instead of postgresql://…"),
        ("mysql://u@h/db", 2, "mysql is not supported; use sqlite+aiosqlite:///PATH or postgresql+asyncpg://"),
        ("notaurl", 2, "'notaurl' is not a database URL"),
        ("postgresql+asyncpg://u@h:port/db", 2, "is malformed: the port is not a number"),
    ],
)
async def test_database_problems_are_one_plain_line(tmp_path: Path, url: str, code: int, says: str) -> None:
    if code == 4 and url.startswith("postgresql"):
        await require_postgres()
    path = tmp_path / "db.toml"
    path.write_text(f'[database]\nurl = "{url.format(tmp=tmp_path)}"\n')
    run = await hotpapers("--config", str(path), "digest", cwd=tmp_path)
    line = one_line(run)
    assert run.code == code
    assert says.format(tmp=tmp_path) in line
    assert "sqlalche" not in line.lower() and "Error" not in line
    if code == 2:
        assert line.startswith(f"hotpapers: {path}: database.url")


async def test_every_command_checks_the_whole_config_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text('[health]\nport = 99999\n[database]\nurl = "sqlite+aiosqlite:///x.db"\n')
    for command in (["status"], ["paper", "2010.00577"], ["digest"], ["signals"]):
        run = await hotpapers("--config", str(path), *command, cwd=tmp_path)
        assert run.code == 2
        assert one_line(run).startswith(f"hotpapers: {path}: health.port: Input should be less than or equal to 65535")
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


async def test_sample_load_fills_the_configured_database_for_an_offline_try(tmp_path: Path, config: Path) -> None:
    first = await hotpapers("--config", str(config), "sample", "load", cwd=tmp_path)
    assert first.code == 0, first.err
    assert "The sample is loaded: 41 papers announced 2020-10-02 … 2020-11-06" in " ".join(first.out.split())
    assert "live deployments rank by Hugging Face, Hacker News, Bluesky and Semantic Scholar" in " ".join(
        first.out.split()
    )
    again = await hotpapers("--config", str(config), "sample", "load", cwd=tmp_path)
    assert "The sample was already loaded" in " ".join(again.out.split())
    digest = json.loads((await hotpapers("--config", str(config), "digest", "--json", cwd=tmp_path)).out)
    assert digest["date"] == "2020-11-06" and digest["entries"][0]["id"] == "2011.02519"
    paper = json.loads((await hotpapers("--config", str(config), "paper", "1704.01212", "--json", cwd=tmp_path)).out)
    assert paper["summary"]["source"] == "community" and paper["summary"]["author"] == "ShortScience"


async def test_the_demo_says_what_the_tweet_counts_are(tmp_path: Path) -> None:
    run = await hotpapers("demo", cwd=tmp_path)
    text = " ".join(run.out.split())
    assert (
        "🐦 RT+♥ are the 2020 retweet and like counts from the Hot Papers posts; live deployments rank by Hugging"
        in (text)
    )


async def test_signals_asks_each_source_for_real_and_exits_4_when_one_is_unreachable(tmp_path: Path) -> None:
    async with FakeHuggingFace() as hf, FakeHackerNews() as hn:
        path = tmp_path / "signals.toml"
        database = f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "s.db"}"\n'
        path.write_text(database + f'[signals.hf]\nbase_url = "{hf.url}"\n[signals.hn]\nbase_url = "{hn.url}"\n')
        healthy = await hotpapers("--config", str(path), "signals", cwd=tmp_path)
        assert healthy.code == 0, healthy.err
        assert hf.requests and hn.requests  # asked, on an empty database, not assumed
        assert healthy.err == ""
        closed = 'base_url = "http://127.0.0.1:9"\ntimeout = 5'
        path.write_text(database + f'[signals.hf]\n{closed}\n[signals.hn]\nbase_url = "{hn.url}"\n')
        run = await hotpapers("--config", str(path), "signals", cwd=tmp_path)
    assert run.code == 4
    assert one_line(run).startswith("hotpapers: 1 of 2 signal sources unreachable (hf: HF: connection failed")
    assert "hn" not in one_line(run).split("(", 1)[1].split(":")[0]


async def test_settings_and_references_say_what_is_wrong(tmp_path: Path) -> None:
    commands = [
        "/subscribe weekdays=monkey",
        "/subscribe categories=notacat",
        "/subscribe tz=localtime",
        "/subscribe tz=utc weekdays=monday-friday categories=cs.lg,MATH",
        "/paper ２０１１.０２５１９",
        "/paper notacat/9901001",
        "/paper 2010.00577v2",
        "/paper <https://arxiv.org/abs/2011.02803|A label with spaces>",
        "/digest 0001-01-01",
        "/quit",
    ]
    run = await hotpapers("console", "--sample", cwd=tmp_path, stdin="\n".join(commands))
    assert run.code == 0, run.err
    out = " ".join(run.out.split())
    assert "weekdays: 'monkey' is not a day" in out
    assert "categories: 'notacat' is not an arXiv archive or category" in out
    assert "timezone: unknown time zone 'localtime'" in out
    assert "categories: cs.LG, math" in out and "top: 5 papers at 09:00 UTC on mon,tue,wed,thu,fri" in out
    assert "2011.02519v1" in out  # the full-width reference, read as 2011.02519
    assert "arXiv never had an archive 'notacat'" in out
    assert "2010.00577v2: v1 is the only version of 2010.00577 known here" in out
    assert "2011.02803v1" in out
    assert "0001-01-01 is outside arXiv's announcements" in out


async def test_people_can_have_their_votes_and_summaries_deleted(tmp_path: Path, config: Path) -> None:
    assert (await hotpapers("--config", str(config), "sample", "load", cwd=tmp_path)).code == 0
    commands = ['/summarize 2011.02519 "Physics-informed super resolution."', "/vote 2011.02519 up", "/forget-me"]
    run = await hotpapers("--config", str(config), "console", "--user", "ada", cwd=tmp_path, stdin="\n".join(commands))
    assert "Deleted 2 votes, summaries and thread replies by ada" in run.out
    again = await hotpapers(
        "--config", str(config), "console", "--user", "bob", cwd=tmp_path, stdin="/vote 2011.02519 down\n"
    )
    assert "Now 👍 0 · 👎 1 in this channel." in again.out  # ada's vote went
    cli = await hotpapers("--config", str(config), "forget-user", "console", "bob", cwd=tmp_path)
    assert cli.code == 0 and "Deleted 1 votes, summaries and thread replies by console:bob" in cli.out
    bad = await hotpapers("--config", str(config), "forget-user", "irc", "bob", cwd=tmp_path)
    assert bad.code == 2 and "invalid choice: 'irc'" in bad.err


async def test_run_with_no_adapter_says_so_and_running_comes_after_start_up(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "r.db"}"\n[scheduler]\nenabled = false\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.runtime.cli",
        "--config",
        str(path),
        "run",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not any("hotpapers running" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, "run ended early: " + "".join(seen)
            seen.append(line.decode())
    finally:
        process.terminate()
    _, rest = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    text = "".join(seen)
    assert "no adapter is enabled ([discord] or [slack] enabled = true)" in text
    assert text.index("no adapter is enabled") < text.index("hotpapers running")
    assert "Traceback" not in text + rest.decode()


async def test_slack_socket_mode_offline_stops_run_with_exit_4_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "socket.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "r.db"}"\n[scheduler]\nenabled = false\n'
        '[slack]\nenabled = true\nmode = "socket"\nport = 0\napi_url = "http://127.0.0.1:9/api/"\n'
    )
    env = {"SLACK_BOT_TOKEN": "xoxb-1-offline", "SLACK_APP_TOKEN": "xapp-1-offline"}
    run = await hotpapers("--config", str(path), "run", cwd=tmp_path, env=env)
    assert run.code == 4
    assert run.err.strip().splitlines()[-1].startswith("hotpapers: Slack is unreachable (Socket Mode): Client")
    assert "Traceback" not in run.err and "hotpapers running" not in run.err and "xoxb" not in run.err
