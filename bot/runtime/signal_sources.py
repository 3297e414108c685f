"""The popularity sources a configuration names, built for the signal hub (`bot.app.signals.SignalHub`): the
composition root's part of the hub, which knows the sources' classes and reads their secrets from the
environment.

Each source's module (and the HTTP helpers with tenacity under them) is imported when its source is built, and
`health_before_use` tells what the hub's health report would say before any source is built: an idle `hotpapers run`
answers `/healthz` without loading them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.app.signals import SignalHub, SourceHealth
from bot.domain.clock import SystemClock
from bot.domain.config import SignalConfig
from bot.domain.errors import ConfigError
from bot.domain.ports import Clock, SignalSource

if TYPE_CHECKING:
    import aiohttp

    from bot.sources._http import RetryPolicy

BLUESKY_HANDLE_ENV = "BLUESKY_HANDLE"
BLUESKY_PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
S2_KEY_ENV = "S2_API_KEY"
BLUESKY_NEEDS = f"needs {BLUESKY_HANDLE_ENV}/{BLUESKY_PASSWORD_ENV}"


@dataclass(frozen=True, slots=True)
class _Context:
    session: aiohttp.ClientSession
    config: SignalConfig
    env: Mapping[str, str]
    clock: Clock
    retry: RetryPolicy | None


def hub_from_config(
    signals: Mapping[str, SignalConfig],
    *,
    session: aiohttp.ClientSession,
    env: Mapping[str, str] = os.environ,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> SignalHub:
    """Build the sources named in `[signals.<name>]`; a section that is off, or lacks its secrets, is noted."""
    hub_clock: Clock = clock or SystemClock()
    sources: dict[str, SignalSource] = {}
    disabled: dict[str, str] = {}
    for name, config in signals.items():
        note = _disabled(name, config, env)
        if note is not None:
            disabled[name] = note
        else:
            sources[name] = _BUILDERS[name](_Context(session, config, env, hub_clock, retry))
    return SignalHub(sources, configs=signals, disabled=disabled, clock=hub_clock)


def health_before_use(
    signals: Mapping[str, SignalConfig], *, env: Mapping[str, str] = os.environ
) -> list[SourceHealth]:
    """The health report of the hub `hub_from_config` would build, before it is built: each source on, or off with
    its note; nothing tried yet. Builds no source (imports none of their modules) and makes no HTTP session."""
    health = []
    for name, config in signals.items():
        note = _disabled(name, config, env)
        health.append(SourceHealth(name=name, enabled=note is None, note=note))
    return health


def _disabled(name: str, config: SignalConfig, env: Mapping[str, str]) -> str | None:
    """Why source `name` is not built (off in the config, its secrets missing), or None if it is."""
    if name not in _BUILDERS:
        known = ", ".join(_BUILDERS)
        raise ConfigError(f"signals.{name}: unknown signal source (known: {known})")
    if not config.enabled:
        return "disabled in config"
    if name == "bluesky" and not (env.get(BLUESKY_HANDLE_ENV) and env.get(BLUESKY_PASSWORD_ENV)):
        return BLUESKY_NEEDS
    return None


def _hf(ctx: _Context) -> SignalSource:
    from bot.sources import hf

    base = ctx.config.base_url or hf.DEFAULT_BASE_URL
    return hf.HuggingFaceSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _hn(ctx: _Context) -> SignalSource:
    from bot.sources import hn

    base = ctx.config.base_url or hn.DEFAULT_BASE_URL
    return hn.HackerNewsSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _bluesky(ctx: _Context) -> SignalSource:
    from pydantic import SecretStr

    from bot.sources import bluesky

    return bluesky.BlueskySource(
        ctx.session,
        ctx.config.base_url or bluesky.DEFAULT_BASE_URL,
        handle=ctx.env[BLUESKY_HANDLE_ENV],
        app_password=SecretStr(ctx.env[BLUESKY_PASSWORD_ENV]),
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


def _s2(ctx: _Context) -> SignalSource:
    from pydantic import SecretStr

    from bot.sources import semantic_scholar

    key = ctx.env.get(S2_KEY_ENV)
    return semantic_scholar.SemanticScholarSource(
        ctx.session,
        ctx.config.base_url or semantic_scholar.DEFAULT_BASE_URL,
        api_key=SecretStr(key) if key else None,
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


_BUILDERS: dict[str, Callable[[_Context], SignalSource]] = {"hf": _hf, "hn": _hn, "bluesky": _bluesky, "s2": _s2}
