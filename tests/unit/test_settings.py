"""Settings models (`bot.domain.settings`): a valid table is accepted without pydantic, with the values pydantic would
give; anything else is pydantic's to judge, with its messages word for word."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import adapters.discord
import adapters.slack.settings
from bot.domain.config import Config, DatabaseConfig, Secret, SignalConfig, parse_config
from bot.domain.errors import ConfigError
from bot.domain.settings import _MISSING, SettingsModel, TableError, _Unsure
from bot.domain.web_settings import WebSettings
from bot.runtime.health import HealthSettings
from bot.runtime.logging_setup import LoggingSettings
from bot.runtime.scheduler import SchedulerSettings
from bot.runtime.sections import ConsoleSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))

VALID: list[tuple[type[SettingsModel], dict[str, Any]]] = [
    (Config, {}),
    (Config, EXAMPLE),
    (
        Config,
        {
            "database": {"url": "sqlite+aiosqlite:///x.db", "pool_size": 3, "schema": "bench_rss", "vote_lanes": 2},
            "arxiv": {"categories": ["cs.LG"], "delay_seconds": 0, "timeout": 5},
            "digest": {"timezone": "europe/berlin", "post_time": "9:05", "weekdays": [6, 0], "lease_seconds": 30},
            "signals": {"hf": {"enabled": False}, "reddit": {"base_url": "http://127.0.0.1:9", "weight": 2}},
            "discord": {"enabled": True, "guilds": [1]},
            "health": {"enabled": True, "port": 0},
        },
    ),
    (HealthSettings, {"enabled": True, "port": 0, "timeout_seconds": 1}),
    (SchedulerSettings, {"ingest_cron": "0 6 * * 1-5", "ingest_timezone": "utc", "events_retention_days": 2}),
    (LoggingSettings, {"level": "info", "json": True, "loggers": {"aiohttp": "debug"}}),
    (LoggingSettings, {"json_lines": True}),  # populate_by_name: the field's own name too
    (ConsoleSettings, {"enabled": True, "log": ""}),
    (WebSettings, {"enabled": True, "base_url": "https://papers.example.org/"}),
    (adapters.discord.Settings, {"enabled": True, "shards": 4, "shard_ids": [0, 2], "up_emoji": ["⬆️"]}),
    (adapters.discord.Settings, {"shards": None, "token_env": "BOT_TOKEN"}),
    (adapters.slack.settings.Settings, {"mode": "socket", "up_reactions": [":fire:"], "posts_per_second": 2}),
]


@pytest.mark.parametrize(("model", "table"), VALID)
def test_a_valid_table_is_accepted_without_pydantic_with_pydantics_values(
    model: type[SettingsModel], table: dict[str, Any]
) -> None:
    strict = model._strict(table)  # raises if the strict check is not sure
    by_pydantic = model._by_pydantic(table)
    assert strict == by_pydantic and repr(strict) == repr(by_pydantic)  # the reprs tell 5 from 5.0


def test_a_valid_config_and_every_table_load_no_pydantic() -> None:
    probe = (
        "import json, sys, tomllib\n"
        "from bot.domain.config import load_config\n"
        "from bot.runtime.sections import check_sections\n"
        "from bot.runtime.cli import ADAPTERS\n"
        f"config = load_config({str(ROOT / 'config.example.toml')!r})\n"
        "check_sections(config, ADAPTERS)\n"
        "tables = {'health': {'enabled': True}, 'scheduler': {'enabled': True}, 'logging': {'level': 'INFO'},\n"
        "          'console': {'enabled': True}, 'web': {'port': 0}, 'discord': {'enabled': True},\n"
        "          'slack': {'mode': 'http'}}\n"
        "check_sections(config.model_copy(update=tables), ADAPTERS)\n"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith('pydantic'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [  # pydantic's messages, as every release before this module gave them
        ({"digest": {"top_m": 5}}, "config: digest.top_m: Extra inputs are not permitted (got 5)"),
        (
            {"digest": {"top_n": "five"}},
            "config: digest.top_n: Input should be a valid integer, unable to parse string as an integer (got 'five')",
        ),
        (
            {"digest": {"timezone": "Mars/Base"}},
            "config: digest.timezone: Value error, unknown time zone 'Mars/Base' (use an IANA name such as "
            "Europe/Berlin or UTC) (got 'Mars/Base')",
        ),
        (
            {"database": {"schema": "Bad"}},
            "config: database.schema: String should match pattern '^[a-z_][a-z0-9_]{0,62}$|^$' (got 'Bad')",
        ),
        (
            {"database": {"pool_size": 0, "echo": "maybe"}},
            "config: database.echo: Input should be a valid boolean, unable to interpret input (got 'maybe'); "
            "database.pool_size: Input should be greater than or equal to 1 (got 0)",
        ),
        ({"databse": {}}, "config: databse: Extra inputs are not permitted"),
        ({"health": 3}, "config: health: Input should be a valid dictionary (got 3)"),
        ({"database": 5}, "config: database: Input should be a valid dictionary or instance of DatabaseConfig (got 5)"),
    ],
)
def test_a_wrong_table_gets_pydantics_message(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(table)
    assert str(error.value) == message


def test_what_the_strict_check_does_not_take_pydantic_coerces_as_before() -> None:
    config = parse_config({"database": {"pool_size": "7"}, "llm": {"enabled": 1}, "digest": {"weekdays": (1,)}})
    assert (config.database.pool_size, config.llm.enabled, config.digest.weekdays) == (7, True, (1,))
    assert type(config.database) is DatabaseConfig  # pydantic's result comes back as the settings model


def test_models_are_frozen_compare_by_value_and_copy_as_pydantics_did() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.database.url = "elsewhere"  # type: ignore[misc]
    moved = config.model_copy(update={"database": DatabaseConfig(url="sqlite+aiosqlite:///other.db")})
    assert moved.database.url.endswith("other.db") and config.database.url.endswith("hotpapers.db")
    assert moved != config and moved.digest == config.digest and Config() == config
    with pytest.raises(TableError):
        DatabaseConfig(pool_size=0)


def test_a_secret_never_shows_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTPAPERS_TEST_TOKEN", "s3cr3t-value")
    secret = Config().secret("HOTPAPERS_TEST_TOKEN")
    assert isinstance(secret, Secret) and secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in f"{secret} {secret!r}"
    monkeypatch.setenv("HOTPAPERS_TEST_TOKEN", "")
    assert Config().secret("HOTPAPERS_TEST_TOKEN") is None


def test_every_settings_model_is_a_settings_model() -> None:
    """A pydantic model among them would load pydantic for every valid config again, and its errors would escape
    `parse_section` (which catches TableError); only the sources' SecretStr, built when a source is, stays."""
    found = {
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for folder in ("bot", "adapters")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "bot" / "domain" / "settings.py"  # the one place that builds pydantic models
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("from pydantic", "import pydantic")) and "SecretStr" not in line
    }
    assert not found, sorted(found)


MODELS: list[type[SettingsModel]] = sorted(
    {model for model, _ in VALID}
    | {
        DatabaseConfig,
        SignalConfig,
        *(type(getattr(Config(), name)) for name in ("arxiv", "ranking", "digest", "summaries", "llm", "journal_club")),
    },
    key=lambda model: f"{model.__module__}.{model.__qualname__}",
)
_WORDS = ["", "x", "info", "DEBUG", "socket", "http", "utc", "Europe/Berlin", "9:05", "09:00", "25:00", "0 6 * * 1-5",
          "https://papers.example.org/", "sqlite+aiosqlite:///x.db", "bench_rss", "Bad", "BOT_TOKEN", ":fire:", "⬆️",
          "cs.LG", "7", "true", "a\nb"]  # fmt: skip
_SCALARS = st.one_of(
    st.booleans(), st.integers(-2, 70_000), st.floats(-1.0, 1e5, allow_nan=False), st.sampled_from(_WORDS)
)
_VALUES = st.one_of(
    _SCALARS, st.lists(_SCALARS, max_size=3), st.dictionaries(st.sampled_from(_WORDS), _SCALARS, max_size=2)
)


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values of a field's default's type around it (most tables a person writes are nearly right), or anything."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(value - 2, value + 2)
    if isinstance(value, float):
        return st.floats(value - 2, value + 2, allow_nan=False) | st.integers(int(value) - 1, int(value) + 1)
    if isinstance(value, str):
        return st.just(value) | st.sampled_from(_WORDS)
    if isinstance(value, tuple | list):
        return st.lists(_near(value[0]) if value else _SCALARS, max_size=3)
    if isinstance(value, dict):
        return st.just(value) | st.dictionaries(st.sampled_from(_WORDS), _SCALARS, max_size=2)
    if isinstance(value, SettingsModel):
        return st.just({})
    return st.none() | _VALUES


def _table(model: type[SettingsModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A table for `model`: any of its keys (and sometimes one it does not know), each nearly right or anything."""
    optional: dict[str, st.SearchStrategy[Any]] = {"unknown_key": _VALUES}
    for field in model._declared():
        info = field.info
        default = info.default_factory() if info.default_factory is not None else info.default
        near = _near(default) if default is not _MISSING else _VALUES
        optional.update({key: st.one_of(*[near] * 7, _VALUES) for key in field.keys})
    return st.fixed_dictionaries({}, optional=optional)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__qualname__)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_strict_check_accepts_only_what_pydantic_accepts_and_with_the_same_values(
    model: type[SettingsModel], data: st.DataObject
) -> None:
    """Whatever a table holds, the strict check either leaves it to pydantic or gives pydantic's own result."""
    table = data.draw(_table(model))
    try:
        strict = model._strict(table)
    except _Unsure:
        event("left to pydantic")
        return
    event("taken by the strict check")
    by_pydantic = model._by_pydantic(table)  # raises TableError if pydantic refuses what the strict check took
    assert strict == by_pydantic and repr(strict) == repr(by_pydantic)
