"""The `[slack]` table and the secrets the adapter reads from the environment.

The core keeps `[slack]` as a raw dict; this module is the only place that knows its keys, so a typo in the file
names itself ("slack.prot: extra inputs are not permitted") and secrets never have to pass through the TOML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain.config import parse_section
from bot.domain.errors import ConfigError
from bot.domain.settings import ConfigDict, Field, SettingsModel, field_validator

BOT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "groups:history",
    "groups:read",
    "reactions:read",
    "users:read",
)


class Settings(SettingsModel):
    """Validated `[slack]` table. Every key is optional; `enabled = true` is what turns the adapter on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    mode: Literal["http", "socket"] = "http"
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    events_path: str = "/slack/events"
    install_path: str = "/slack/install"
    redirect_path: str = "/slack/oauth_redirect"
    health_path: str = "/healthz"
    api_url: str = "https://slack.com/api/"
    authorize_url: str = "https://slack.com/oauth/v2/authorize"
    oauth: bool = False
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = BOT_SCOPES
    state_expiration_seconds: int = Field(default=600, ge=60, le=86400)
    token_refresh_minutes: int = Field(default=120, ge=1, le=720)
    """With token rotation on (OAuth installs): refresh a bot token this long before it expires (Slack's live 12 h)."""
    up_reactions: tuple[str, ...] = ("+1", "thumbsup", "fire")
    down_reactions: tuple[str, ...] = ("-1", "thumbsdown")
    hot_days: int = Field(default=7, ge=1, le=365)
    hot_limit: int = Field(default=10, ge=1, le=20)
    rate_limit_retries: int = Field(default=3, ge=0, le=10)
    post_burst: int = Field(default=3, ge=1, le=100)
    posts_per_second: float = Field(default=1.0, gt=0, le=1000)
    """Digest messages per channel: `post_burst` at once, then `posts_per_second` (Slack's chat.postMessage pace)."""
    summary_wait_seconds: float = Field(default=2.0, gt=0, lt=3)

    @field_validator("up_reactions", "down_reactions")
    @classmethod
    def _bare_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        """Accept ":fire:" as well as "fire": Slack sends reaction names without colons."""
        cleaned = tuple(name.strip().strip(":") for name in names)
        if not all(cleaned):
            raise ValueError("reaction names must not be empty")
        return cleaned

    @field_validator("events_path", "install_path", "redirect_path", "health_path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path {path!r} must start with /")
        return path

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> Settings:
        """Validate the raw `[slack]` table, turning pydantic's report into a ConfigError that names the key."""
        return parse_section(cls, table, section="slack")


@dataclass(frozen=True, slots=True, repr=False)
class Secrets:
    """Credentials from the environment. `repr` is hidden so a stray log line cannot print a token."""

    signing_secret: str | None = None
    bot_token: str | None = None
    app_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def __repr__(self) -> str:
        return "Secrets(***)"

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
        """Read what this mode needs; a missing variable is a ConfigError naming it (never a value)."""
        source = os.environ if env is None else env
        needed: list[str] = []
        if settings.mode == "http":
            needed.append("SLACK_SIGNING_SECRET")
        else:
            needed.append("SLACK_APP_TOKEN")
        if settings.oauth:
            needed += ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"]
        else:
            needed.append("SLACK_BOT_TOKEN")
            if source.get("SLACK_CLIENT_ID") and source.get("SLACK_CLIENT_SECRET"):
                # slack_bolt silently switches to OAuth (with a file store) when both are set; refuse instead.
                raise ConfigError(
                    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set but [slack] oauth = false: "
                    "set slack.oauth = true for multi-workspace installs, or unset them"
                )
        missing = [name for name in needed if not source.get(name, "").strip()]
        if missing:
            raise ConfigError(f"[slack] {settings.mode} mode needs environment variable(s): {', '.join(missing)}")

        def read(name: str) -> str | None:
            value = source.get(name, "").strip()
            return value or None

        return cls(
            signing_secret=read("SLACK_SIGNING_SECRET"),
            bot_token=None if settings.oauth else read("SLACK_BOT_TOKEN"),
            app_token=read("SLACK_APP_TOKEN") if settings.mode == "socket" else None,
            client_id=read("SLACK_CLIENT_ID") if settings.oauth else None,
            client_secret=read("SLACK_CLIENT_SECRET") if settings.oauth else None,
        )
