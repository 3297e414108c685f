from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.config import Config, load_config
from bot.domain.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_defaults_need_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTPAPERS_CONFIG", raising=False)
    assert load_config(None) == Config()


def test_the_example_config_is_valid_and_equals_the_defaults_where_it_shows_them() -> None:
    config = load_config(EXAMPLE)
    assert config.digest == Config().digest and config.ranking == Config().ranking
    assert config.arxiv.api_url == Config().arxiv.api_url
    assert config.signals == Config().signals
    assert config.database == Config().database  # vote_lanes and vote_sync_commit as the example shows them
    assert (config.database.vote_lanes, config.database.vote_sync_commit) == (3, True)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[digest]\ntop_m = 5\n", "digest.top_m"),
        ("[digest]\ntop_n = 'five'\n", "digest.top_n"),
        ("[digest]\ntimezone = 'Mars/Base'\n", "digest.timezone"),
        ("[databse]\nurl = 'x'\n", "databse"),
        ("[arxiv]\ndelay_seconds = -1\n", "arxiv.delay_seconds"),
        ("[database]\nvote_lanes = 0\n", "database.vote_lanes"),
        ("[signals.hf]\nweight = 'heavy'\n", "signals.hf.weight"),
    ],
)
def test_a_bad_key_or_value_is_named(tmp_path: Path, toml: str, named: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert named in str(error.value) and str(path) in str(error.value)


def test_missing_and_unparsable_files_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[digest\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[digest]\ntop_n = 9\n")
    monkeypatch.setenv("HOTPAPERS_CONFIG", str(path))
    assert load_config(None).digest.top_n == 9


def test_the_example_adapter_and_service_sections_validate_with_their_own_models() -> None:
    from adapters.discord import Settings as DiscordSettings
    from adapters.slack import Settings as SlackSettings
    from bot.runtime.health import HealthSettings
    from bot.runtime.logging_setup import parse_logging_settings
    from bot.runtime.scheduler import SchedulerSettings

    config = load_config(EXAMPLE)
    assert DiscordSettings.from_table(config.discord) == DiscordSettings()
    assert SlackSettings.parse(config.slack) == SlackSettings()
    assert SchedulerSettings.from_config(config) == SchedulerSettings()
    assert HealthSettings.from_config(config) == HealthSettings()
    parse_logging_settings(config.logging)
