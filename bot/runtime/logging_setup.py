"""Logging for a bot that runs for months: plain or JSON lines, and secrets redacted before anything is written.

The redaction runs as a filter on our handler, so it sees every record that reaches the output, whichever library
logged it (an aiohttp error quoting a URL, a driver echoing a DSN). It rewrites the formatted message and the
exception text; the original arguments are dropped so no later formatter can re-expand them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TextIO

from bot.domain.config import parse_section
from bot.domain.settings import AfterValidator, ConfigDict, Field, SettingsModel

SECRET_ENV = (
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
    "HOTPAPERS_LLM_API_KEY",
    "BLUESKY_APP_PASSWORD",
    "S2_API_KEY",
)
MIN_SECRET_LENGTH = 4
"""Shorter values are not real tokens; replacing them would shred every log line containing, say, "abc"."""
MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)(?P<password>[^@\s/]+)(?=@)")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_MARK = "_hotpapers_handler"


def _check_level(value: str) -> str:
    upper = value.upper()
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"unknown level {value!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return upper


Level = Annotated[str, AfterValidator(_check_level)]


class LoggingSettings(SettingsModel):
    """The `[logging]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    level: Level = "INFO"
    json_lines: bool = Field(default=False, alias="json")
    """One JSON object per line (for a log collector) instead of plain text."""
    loggers: dict[str, Level] = Field(
        default_factory=lambda: {"apscheduler": "WARNING", "alembic.runtime.plugins": "WARNING"}
    )
    """Per-logger levels; APScheduler logs every job run at INFO, which is noise at one resync every 5 minutes, and
    Alembic lists its plugins on every start."""


def redact(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """`text` with every secret from the environment and every URL password replaced by ***."""
    for secret in current_secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(rf"\g<head>{MASK}", text)


def current_secrets() -> tuple[str, ...]:
    """Read at each call: tokens can be set after logging is configured (tests, a reloaded env file)."""
    values = (os.environ.get(name, "") for name in SECRET_ENV)
    # Longest first, so a secret containing another one is masked whole.
    return tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, its arguments, the exception and stack text, and string `extra` fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = current_secrets()
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        for key, value in vars(record).items():
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value, secrets))
        return True


LIBRARY_NOISE = (
    "PyNaCl is not installed",  # discord.py: voice is not a feature of this bot
    "davey is not installed",  # discord.py 2.7: likewise
    "As you gave `client` as well, `token` will be unused.",  # slack-bolt, when SLACK_BOT_TOKEN is in the env
)
"""Start-up warnings from libraries about things this bot does not use; they would only alarm an operator."""


class LibraryNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(noise) for noise in LIBRARY_NOISE)


class RejectedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a 20 KB request line, a malformed header) as an error with a
    traceback, after answering it with 400. That is a client's mistake, not ours: one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and any(kind.__name__ == "BadHttpMessage" for kind in type(error).__mro__):
            reason = " ".join(str(getattr(error, "message", "") or type(error).__name__).split())[:80]
            peer = record.getMessage().rpartition(" from ")[2] or "a client"
            record.msg = f"rejected a malformed request from {peer} with 400: {type(error).__name__} ({reason})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then exc_info and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry.setdefault(key, value)
        # The filter already masked strings; this catches secrets nested in non-string `extra` values.
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(settings: Mapping[str, Any], *, stream: TextIO | None = None) -> logging.Handler:
    """Install one handler on the root logger (replacing ours from an earlier call) and set the levels.

    `settings` is the raw `[logging]` table (`level`, `json`, `loggers`). Returns the handler.
    """
    parsed = parse_logging_settings(settings)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(LibraryNoise())
    handler.addFilter(RedactingFilter())
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, RejectedRequests) for f in server_log.filters):
        server_log.addFilter(RejectedRequests())
    if parsed.json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(parsed.level)
    for name, level in parsed.loggers.items():
        logging.getLogger(name).setLevel(level)
    return handler


def parse_logging_settings(settings: Mapping[str, Any]) -> LoggingSettings:
    return parse_section(LoggingSettings, settings, section="logging")
