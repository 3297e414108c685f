"""Every raw config table checked at start-up, the same way for every command.

`[health]`, `[logging]`, `[scheduler]`, `[console]` and the adapters' tables are parsed by their owners when they
run; a mistake there must not pass `hotpapers status` and only fail `hotpapers run`. Adapters are reached by
module name (their settings models import no platform library)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from bot.config import Config, parse_section


class ConsoleSettings(BaseModel):
    """The `[console]` table: `enabled` lets `hotpapers run` post digests of console channels to its terminal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False


def check_sections(config: Config, adapters: Mapping[str, str]) -> None:
    """Raise ConfigError naming `section.key` for the first table its owner would refuse."""
    from bot.health import HealthSettings
    from bot.logging_setup import parse_logging_settings
    from bot.scheduler import SchedulerSettings

    parse_logging_settings(config.logging)
    HealthSettings.from_config(config)
    SchedulerSettings.from_config(config)
    parse_section(ConsoleSettings, config.console, section="console")
    importlib.import_module(adapters["discord"]).Settings.from_table(config.discord)
    importlib.import_module(adapters["slack"]).Settings.parse(config.slack)
