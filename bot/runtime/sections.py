"""Every raw config table checked at start-up, the same way for every command.

`[health]`, `[logging]`, `[scheduler]`, `[console]` and the adapters' tables are parsed by their owners when they
run; a mistake there must not pass `hotpapers status` and only fail `hotpapers run`. Adapters are reached by
module name (their settings models import no platform library)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from bot.domain.config import Config, parse_section
from bot.domain.settings import ConfigDict, SettingsModel


class ConsoleSettings(SettingsModel):
    """The `[console]` table: `enabled` lets `hotpapers run` post digests of console channels to its terminal;
    `log` is the console's posts log ("" for none), where a resumed `digest --post` or a replica finds what was
    already posted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    log: str = "hotpapers-console.jsonl"


def console_log(config: Config) -> Path | None:
    log = parse_section(ConsoleSettings, config.console, section="console").log
    return Path(log) if log else None


def check_sections(config: Config, adapters: Mapping[str, str]) -> None:
    """Raise ConfigError naming `section.key` for the first table its owner would refuse. An absent table holds
    the defaults, which are valid, so its owner (and the libraries it imports) is not even loaded."""
    if config.logging:
        from bot.runtime.logging_setup import parse_logging_settings

        parse_logging_settings(config.logging)
    if config.health:
        from bot.runtime.health import HealthSettings

        HealthSettings.from_config(config)
    if config.scheduler:
        from bot.runtime.scheduler import SchedulerSettings

        SchedulerSettings.from_config(config)
    if config.console:
        parse_section(ConsoleSettings, config.console, section="console")
    if config.web:
        from bot.domain.web_settings import WebSettings

        WebSettings.from_config(config)
    if config.discord:
        importlib.import_module(adapters["discord"]).Settings.from_table(config.discord)
    if config.slack:
        importlib.import_module(adapters["slack"]).Settings.parse(config.slack)
