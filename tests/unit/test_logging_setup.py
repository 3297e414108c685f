"""Log output: plain or JSON lines, and no secret ever reaches it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.domain.errors import ConfigError
from bot.runtime.logging_setup import configure_logging

DISCORD_TOKEN = "MTA5.discord-token-value.XyZ123"
SLACK_SECRET = "8f14e45fceea167a5a36dedd4bea2543"


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Route our handler to a buffer and put the root logger back afterwards."""
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_SECRET)
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("apscheduler").level)
    buffer = io.StringIO()
    yield buffer
    for handler in [h for h in root.handlers if h not in saved[1]]:
        root.removeHandler(handler)
    root.setLevel(saved[0])
    logging.getLogger("apscheduler").setLevel(saved[2])


def leak_everything(log: logging.Logger) -> None:
    log.info("connecting with %s", DISCORD_TOKEN)
    log.warning(f"signing secret is {SLACK_SECRET}")
    log.info("database at %s", "postgresql+asyncpg://bot:s3cr3t-pw@db.internal:5432/hot")
    log.info("extra field", extra={"token": DISCORD_TOKEN})
    try:
        raise RuntimeError(f"401 for token {DISCORD_TOKEN} at postgresql://u:pw-in-trace@h/db")
    except RuntimeError:
        log.exception("request failed")


@pytest.mark.parametrize("json_lines", [False, True])
def test_a_logged_secret_never_reaches_the_output(output: io.StringIO, json_lines: bool) -> None:
    configure_logging({"level": "INFO", "json": json_lines}, stream=output)
    leak_everything(logging.getLogger("hotpapers.test"))

    text = output.getvalue()
    for secret in (DISCORD_TOKEN, SLACK_SECRET, "s3cr3t-pw", "pw-in-trace"):
        assert secret not in text
    assert "connecting with ***" in text
    assert "postgresql+asyncpg://bot:***@db.internal:5432/hot" in text
    assert "RuntimeError: 401 for token ***" in text


def test_json_lines_are_one_object_per_record_with_time_level_logger_message_and_exception(
    output: io.StringIO,
) -> None:
    configure_logging({"json": True}, stream=output)
    log = logging.getLogger("hotpapers.test")
    log.debug("hidden at INFO")
    log.info("posted %d papers to %s", 5, "#ml", extra={"channel": "discord:1:2"})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.error("digest failed", exc_info=True)

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("INFO", "hotpapers.test", "posted 5 papers to #ml"),
        ("ERROR", "hotpapers.test", "digest failed"),
    ]
    assert lines[0]["channel"] == "discord:1:2"
    assert lines[0]["time"].endswith("+00:00")
    assert "ZeroDivisionError: division by zero" in lines[1]["exc_info"]


def test_configuring_twice_replaces_our_handler_and_quiets_apscheduler(output: io.StringIO) -> None:
    configure_logging({}, stream=io.StringIO())
    configure_logging({"level": "debug"}, stream=output)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_hotpapers_handler", False)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("apscheduler").level == logging.WARNING


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"level": "LOUD"}, "logging.level"),
        ({"json": "maybe"}, "logging.json"),
        ({"format": "x"}, "logging.format"),
        ({"loggers": {"discord": "chatty"}}, "logging.loggers.discord"),
    ],
)
def test_bad_logging_config_names_the_key(section: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        configure_logging(section, stream=io.StringIO())
    assert str(raised.value).startswith(named + ":")


def test_library_noise_about_unused_features_is_silenced_and_other_warnings_are_not() -> None:
    stream = io.StringIO()
    handler = configure_logging({"level": "INFO"}, stream=stream)
    try:
        logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
        logging.getLogger("discord.client").warning("davey is not installed, voice will NOT be supported")
        logging.getLogger("slack_bolt.AsyncApp").warning("As you gave `client` as well, `token` will be unused.")
        logging.getLogger("discord.client").warning("a real warning")
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue().count("\n") == 1 and "a real warning" in stream.getvalue()
