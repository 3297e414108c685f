"""Configuration: one TOML file, validated as pydantic would (`bot.domain.settings`); secrets only from the environment.

Every model forbids unknown keys so a typo names itself ("digest.top_m: extra inputs are not permitted").
Adapter sections (`[discord]`, `[slack]`) stay raw tables here; each adapter validates its own.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.domain.errors import ConfigError
from bot.domain.settings import ConfigDict, Field, SettingsModel, TableError, field_validator

CONFIG_ENV = "HOTPAPERS_CONFIG"
SectionT = TypeVar("SectionT", bound=SettingsModel)
LLM_KEY_ENV = "HOTPAPERS_LLM_API_KEY"


class _Section(SettingsModel):
    """A config section: unknown keys are refused, the value is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _absent() -> Any:
    """The default of a section the file leaves out: an empty table, validated as the section's defaults."""
    return Field(default_factory=dict, validate_default=True)


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///hotpapers.db"
    echo: bool = False
    pool_size: int = Field(default=5, ge=1, le=100)
    schema_name: str = Field(default="", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$|^$")
    """PostgreSQL only: keep every table in this schema (it must exist); "" = the server's default search path."""
    vote_lanes: int = Field(default=3, ge=1, le=32)
    """PostgreSQL only: vote groups written at the same time, each in its own transaction: each round of votes
    (what came while the previous round was written) is split by message into up to this many groups, so the votes
    of one message stay in one group, in order (`bot.app.votes.VoteQueue`). Each group holds one of the pool's
    connections while it writes, so no more than `pool_size` are used. SQLite has one writer: its votes take one
    lane (`bot.storage.dialect.writers`). On a 2-core machine three lanes wrote a burst of reactions about a fifth
    faster than two (two groups' statements in PostgreSQL while the process prepares the third), two a fifth faster
    than one, and all as fast when callers wait for each vote (bench/RESULTS.md, "votes2")."""
    vote_sync_commit: bool = True
    """PostgreSQL only. False: a vote group is acknowledged before its commit reaches the disk (`synchronous_commit
    = off` for vote transactions only): a crash of PostgreSQL (not of hotpapers) can lose the last fraction of a
    second of acknowledged reactions, whole groups, never half of one."""


class ArxivConfig(_Section):
    api_url: str = "https://export.arxiv.org/api/query"
    rss_url: str = "https://rss.arxiv.org/rss/"
    categories: tuple[str, ...] = ("cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML")
    delay_seconds: float = Field(default=3.0, ge=0)
    num_retries: int = Field(default=3, ge=0, le=10)
    page_size: int = Field(default=100, ge=1, le=2000)
    timeout: float = Field(default=30.0, gt=0)
    lookups_per_user_per_hour: int = Field(default=20, ge=0, le=10_000)
    missing_paper_hours: float = Field(default=6.0, ge=0, le=24 * 30)


class RankingConfig(_Section):
    half_life_hours: float = Field(default=48.0, gt=0)
    vote_weight: float = Field(default=1.5, ge=0)
    follow_bonus: float = Field(default=1.0, ge=0)
    keyword_bonus: float = Field(default=0.3, ge=0)
    taste_cap: float = Field(default=0.5, ge=0, le=5)
    taste_rate: float = Field(default=0.25, gt=0)
    discussion_weight: float = Field(default=0.75, ge=0)
    discussion_cap: float = Field(default=1.5, ge=0, le=5)


class DigestConfig(_Section):
    top_n: int = Field(default=5, ge=1, le=25)
    post_time: str = "09:00"
    timezone: str = "UTC"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    announce_empty: bool = False
    window_days: int = Field(default=1, ge=1, le=14)
    lease_seconds: float = Field(default=300.0, ge=1)
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0)
    retry_for_minutes: int = Field(default=0, ge=0)
    """0: transient platform errors are retried until midnight in the channel's time zone."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("post_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        return check_post_time(value)


class SummariesConfig(_Section):
    extractive_sentences: int = Field(default=2, ge=1, le=10)
    max_chars: int = Field(default=600, ge=80, le=4000)
    community_max_chars: int = Field(default=3000, ge=80, le=10000)


class SignalConfig(_Section):
    enabled: bool = True
    base_url: str | None = None
    weight: float = Field(default=1.0, ge=0)
    timeout: float = Field(default=10.0, gt=0)


class LLMConfig(_Section):
    enabled: bool = False
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "gpt-4o-mini"
    timeout: float = Field(default=30.0, gt=0)
    max_chars: int = Field(default=600, ge=80, le=4000)


class JournalClubConfig(_Section):
    """`[journal_club]` (issue 19): the defaults of `/journalclub start` and of the weekly scheduled poll."""

    candidates: int = Field(default=5, ge=2, le=10)
    hours: int = Field(default=48, ge=1, le=768)
    """How long a poll runs: whole hours, as Discord polls last (1 to 768)."""
    week_days: int = Field(default=7, ge=1, le=31)
    """How many days back "the week's papers" reach: posted in the channel's digests or voted on there."""


DEFAULT_SIGNALS: dict[str, dict[str, Any]] = {
    "hf": {"base_url": "https://huggingface.co/api", "weight": 1.0},
    "hn": {"base_url": "https://hn.algolia.com/api/v1", "weight": 0.7},
    "bluesky": {"enabled": False, "base_url": "https://bsky.social/xrpc", "weight": 0.7},
    "s2": {"enabled": False, "base_url": "https://api.semanticscholar.org/graph/v1", "weight": 0.3},
}
"""Each source's `[signals.NAME]` defaults (over SignalConfig's own)."""


class Config(_Section):
    database: DatabaseConfig = _absent()
    arxiv: ArxivConfig = _absent()
    ranking: RankingConfig = _absent()
    digest: DigestConfig = _absent()
    summaries: SummariesConfig = _absent()
    signals: dict[str, SignalConfig] = _absent()
    """Sources not named in the file keep their defaults (DEFAULT_SIGNALS); `enabled = false` turns one off."""
    llm: LLMConfig = _absent()
    scheduler: dict[str, Any] = Field(default_factory=dict)
    health: dict[str, Any] = Field(default_factory=dict)
    logging: dict[str, Any] = Field(default_factory=dict)
    discord: dict[str, Any] = Field(default_factory=dict)
    slack: dict[str, Any] = Field(default_factory=dict)
    console: dict[str, Any] = Field(default_factory=dict)
    web: dict[str, Any] = Field(default_factory=dict)
    """The channel pages (issue 20); validated by `bot.domain.web_settings.WebSettings`."""
    journal_club: JournalClubConfig = _absent()

    @field_validator("signals", mode="before")
    @classmethod
    def _with_default_signals(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        merged: dict[str, Any] = {name: dict(defaults) for name, defaults in DEFAULT_SIGNALS.items()}
        for name, section in given.items():
            merged[name] = {**merged.get(name, {}), **section} if isinstance(section, dict) else section
        return merged

    def secret(self, env_name: str) -> Secret | None:
        """Secrets never live in the file: read them from the environment when asked."""
        value = os.environ.get(env_name)
        return Secret(value) if value else None


class Secret:
    """A secret from the environment: printed or logged, it shows as stars (pydantic's SecretStr, without pydantic);
    `get_secret_value()` is the one way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Files in the zone database that are not IANA zone names (`localtime` is whatever the host is set to)."""


@cache
def _zones() -> dict[str, str]:
    """Lower-cased IANA name → its spelling (`utc` → `UTC`, `europe/berlin` → `Europe/Berlin`)."""
    return {name.lower(): name for name in available_timezones() - NOT_ZONES}


def check_timezone(value: str) -> str:
    """An IANA zone name, in its canonical spelling; case does not matter (`utc`, `Europe/berlin`)."""
    name = _zones().get(value.strip().lower())
    if name is None:
        raise ValueError(f"unknown time zone {value[:60]!r} (use an IANA name such as Europe/Berlin or UTC)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value[:60]!r} (use an IANA name such as Europe/Berlin or UTC)") from None
    return name


def check_post_time(value: str) -> str:
    hours, _, minutes = value.partition(":")
    digits = all(part.isascii() and part.isdigit() and len(part) <= 2 for part in (hours, minutes))
    if not (digits and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"post time {value!r} must be HH:MM (24-hour clock)")
    return f"{int(hours):02d}:{int(minutes):02d}"


def format_validation_error(error: TableError, *, prefix: str = "") -> str:
    """One line per problem, naming the dotted key and the bad value."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        bad = problem.get("input")
        shown = "" if isinstance(bad, dict) else f" (got {bad!r})"
        lines.append(f"{prefix}{key}: {problem['msg']}{shown}")
    return "; ".join(lines)


def parse_section(model: type[SectionT], table: Mapping[str, Any], *, section: str) -> SectionT:
    """Validate a raw `[section]` table (adapters and services own theirs); errors name `section.key`."""
    try:
        return model.model_validate(dict(table))
    except TableError as error:
        raise ConfigError(format_validation_error(error, prefix=f"{section}.")) from None


def parse_config(data: dict[str, Any], *, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except TableError as error:
        raise ConfigError(f"{source}: {format_validation_error(error)}") from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the file named by `path`, else $HOTPAPERS_CONFIG, else the defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return Config()
    file = Path(chosen)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot read the config file: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    return parse_config(data, source=str(file))
