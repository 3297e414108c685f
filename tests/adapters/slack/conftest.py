"""Fixtures of the Slack adapter tests: the real slack-bolt against tests/fakes/slack_server. A module that needs a
differently prepared fake, or another way of serving, overrides `fake` or `bot` with its own fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.slack.settings import Secrets
from bot.app.service import HotPapers
from bot.runtime.bootstrap import App
from tests.adapters.slack.support import SECRET, Harness, Watched, serving
from tests.fakes.slack_server import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A running fake Slack with no workspace prepared beyond its defaults."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def watched(hotpapers: HotPapers) -> Watched:
    """The real engine, its calls observable (tests wait for a vote instead of sleeping)."""
    return Watched(hotpapers)


@pytest.fixture
async def bot(watched: Watched, fake: FakeSlack) -> AsyncIterator[Harness]:
    """The adapter served over HTTP against the fake, on the watched engine."""
    async with serving(watched, fake) as harness:
        yield harness


@pytest.fixture
async def oauth_bot(watched: Watched, fake: FakeSlack, adapter_app: App) -> AsyncIterator[Harness]:
    """The adapter in multi-workspace OAuth mode, its installations stored on the app's own engine."""
    secrets = Secrets(signing_secret=SECRET, client_id=fake.client_id, client_secret=fake.client_secret)
    async with serving(watched, fake, oauth=True, secrets=secrets, engine=adapter_app.engine) as harness:
        yield harness
