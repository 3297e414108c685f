"""`[web]` is checked like every other table, and the token helpers."""

from __future__ import annotations

import pytest

from bot.domain.config import parse_config
from bot.domain.errors import ConfigError
from bot.domain.tokens import looks_like_token, new_token, redact, token_hash
from bot.domain.web_settings import WebSettings
from bot.runtime.sections import check_sections

ADAPTERS = {"discord": "adapters.discord", "slack": "adapters.slack"}


@pytest.mark.parametrize(
    ("table", "named"),
    [({"port": 99999}, "web.port"), ({"base_url": "papers.example.org"}, "web.base_url"), ({"hots": 1}, "web.hots")],
)
def test_a_bad_web_table_is_refused_by_every_command_naming_the_key(table: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        check_sections(parse_config({"web": table}), ADAPTERS)


def test_the_public_url_is_base_url_or_host_and_port() -> None:
    assert WebSettings(base_url="https://papers.example.org/").public_url() == "https://papers.example.org"
    assert WebSettings(host="0.0.0.0", port=0).public_url(8123) == "http://0.0.0.0:8123"


def test_tokens_are_unguessable_hashed_and_redacted() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(looks_like_token(token) for token in tokens)
    token = tokens.pop()
    assert len(token_hash(token)) == 64 and token not in token_hash(token)
    assert not looks_like_token("x" * 42) and not looks_like_token("../" + "x" * 40)
    assert redact(f"/c/{token}/2020-11-06.html") == "/c/…/2020-11-06.html"
    assert redact(f"/c/{token}") == "/c/…"
