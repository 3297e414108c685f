"""Issue 15, "the first hour of a lab admin": each promise driven the way a user meets it — a real `hotpapers`
process, its stdin, exit code and stderr."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Run, hotpapers


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
    slack = await hotpapers("--config", str(config), "paper", "2010.00577", "--channel", "slack:" + "T" * 70 + ":C1",
                            cwd=tmp_path)  # fmt: skip
    assert slack.code == 2 and "the workspace part is 70 characters; the limit is 64" in one_line(slack)
