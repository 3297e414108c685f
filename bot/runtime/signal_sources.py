"""The popularity sources a configuration names, built for the signal hub (`bot.app.signals.SignalHub`): the
composition root's part of the hub, which knows the sources' classes and reads their secrets from the
environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from pydantic import SecretStr

from bot.app.signals import SignalHub
from bot.domain.clock import SystemClock
from bot.domain.config import SignalConfig
from bot.domain.errors import ConfigError
from bot.domain.ports import Clock, SignalSource
from bot.sources import bluesky, hf, hn, semantic_scholar
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
        builder = _BUILDERS.get(name)
        if builder is None:
            known = ", ".join(_BUILDERS)
            raise ConfigError(f"signals.{name}: unknown signal source (known: {known})")
        if not config.enabled:
            disabled[name] = "disabled in config"
            continue
        built = builder(_Context(session, config, env, hub_clock, retry))
        if isinstance(built, str):
            disabled[name] = built
        else:
            sources[name] = built
    return SignalHub(sources, configs=signals, disabled=disabled, clock=hub_clock)


def _hf(ctx: _Context) -> SignalSource:
    base = ctx.config.base_url or hf.DEFAULT_BASE_URL
    return hf.HuggingFaceSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _hn(ctx: _Context) -> SignalSource:
    base = ctx.config.base_url or hn.DEFAULT_BASE_URL
    return hn.HackerNewsSource(ctx.session, base, timeout=ctx.config.timeout, retry=ctx.retry, clock=ctx.clock)


def _bluesky(ctx: _Context) -> SignalSource | str:
    handle, password = ctx.env.get(BLUESKY_HANDLE_ENV), ctx.env.get(BLUESKY_PASSWORD_ENV)
    if not handle or not password:
        return BLUESKY_NEEDS
    return bluesky.BlueskySource(
        ctx.session,
        ctx.config.base_url or bluesky.DEFAULT_BASE_URL,
        handle=handle,
        app_password=SecretStr(password),
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


def _s2(ctx: _Context) -> SignalSource:
    key = ctx.env.get(S2_KEY_ENV)
    return semantic_scholar.SemanticScholarSource(
        ctx.session,
        ctx.config.base_url or semantic_scholar.DEFAULT_BASE_URL,
        api_key=SecretStr(key) if key else None,
        timeout=ctx.config.timeout,
        retry=ctx.retry,
        clock=ctx.clock,
    )


_BUILDERS: dict[str, Callable[[_Context], SignalSource | str]] = {"hf": _hf, "hn": _hn, "bluesky": _bluesky, "s2": _s2}
