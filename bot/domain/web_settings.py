"""The `[web]` table: where the channel pages are served and the public address their URLs start with."""

from __future__ import annotations

from bot.domain.config import Config, parse_section
from bot.domain.settings import ConfigDict, Field, SettingsModel, field_validator


class WebSettings(SettingsModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9110, ge=0, le=65535)
    base_url: str = ""
    """The public address in front of host:port (e.g. https://papers.example.org); empty: http://host:port."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"must start with https:// or http:// (got {value[:60]!r})")
        return value

    @classmethod
    def from_config(cls, config: Config) -> WebSettings:
        return parse_section(cls, config.web, section="web")

    def public_url(self, port: int | None = None) -> str:
        return self.base_url or f"http://{self.host}:{port if port is not None else self.port}"
