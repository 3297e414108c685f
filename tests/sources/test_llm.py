"""LLMSummarizer against a loopback OpenAI-compatible endpoint: the request, the cleaning, the limit, the failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.config import LLM_KEY_ENV, LLMConfig
from bot.domain.errors import UpstreamUnavailable
from bot.sources.llm import SYSTEM_PROMPT, LLMSummarizer, shorten
from tests.fakes.json_service import RecordingSleep, quick_retry
from tests.fakes.llm_server import API_KEY, FakeLLM
from tests.fakes.signal_papers import FEATURED, make_paper

NOW = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
PAPER = make_paper(FEATURED, title="Large Multimodal Models as General In-Context Classifiers", abstract="We show X.")


class FrozenClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as server:
        yield server


def summarizer(
    session: aiohttp.ClientSession,
    fake: FakeLLM,
    *,
    key: str | None = API_KEY,
    max_chars: int = 600,
    timeout: float = 2,
) -> LLMSummarizer:
    config = LLMConfig(enabled=True, base_url=fake.url, model="tiny-model", timeout=timeout, max_chars=max_chars)
    env = {LLM_KEY_ENV: key} if key else {}
    return LLMSummarizer(config, session=session, env=env, clock=FrozenClock(), retry=quick_retry(RecordingSleep()))


async def test_a_summary_is_asked_for_with_title_abstract_model_and_key(
    session: aiohttp.ClientSession, fake: FakeLLM
) -> None:
    summary = await summarizer(session, fake).summarize(PAPER)

    assert summary.text == fake.reply
    assert (summary.source, summary.model, summary.created) == ("llm", "tiny-model", NOW)
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["model"] == "tiny-model"
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["messages"][1]["role"] == "user"
    assert PAPER.title in body["messages"][1]["content"] and PAPER.abstract in body["messages"][1]["content"]


async def test_the_answer_is_cleaned_of_control_characters_and_extra_whitespace(
    session: aiohttp.ClientSession, fake: FakeLLM
) -> None:
    fake.reply = "  The paper\x00 shows\u202e things.\n\n\tIt   works. \x1b[31m "

    summary = await summarizer(session, fake).summarize(PAPER)

    assert summary.text == "The paper shows things. It works. [31m"


async def test_a_long_answer_is_cut_at_a_sentence_boundary_within_the_limit(
    session: aiohttp.ClientSession, fake: FakeLLM
) -> None:
    sentence = "This sentence is exactly fifty characters long, ok."
    fake.reply = " ".join([sentence] * 5)

    summary = await summarizer(session, fake, max_chars=120).summarize(PAPER)

    assert summary.text == f"{sentence} {sentence} …"
    assert len(summary.text) <= 120


@given(st.text(alphabet="ab .!?", min_size=0, max_size=400), st.integers(min_value=80, max_value=300))
def test_shorten_never_exceeds_the_limit_and_marks_every_cut(text: str, limit: int) -> None:
    result = shorten(text, limit)

    assert len(result) <= limit
    assert result == text if len(text) <= limit else result.endswith("…")


@pytest.mark.parametrize("kind", ["5xx", "429", "malformed", "html"])
async def test_every_upstream_failure_is_upstream_unavailable(
    session: aiohttp.ClientSession, fake: FakeLLM, kind: str
) -> None:
    fake.fail(kind)  # type: ignore[arg-type]

    with pytest.raises(UpstreamUnavailable, match=r"^LLM: "):
        await summarizer(session, fake).summarize(PAPER)


async def test_a_429_then_an_answer_is_retried_into_a_summary(session: aiohttp.ClientSession, fake: FakeLLM) -> None:
    fake.fail("429", times=1, retry_after="1")

    summary = await summarizer(session, fake).summarize(PAPER)

    assert summary.text == fake.reply
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("reply", "message"), [(None, "no choices"), ("  \x00\n ", "empty")])
async def test_an_empty_answer_is_upstream_unavailable(
    session: aiohttp.ClientSession, fake: FakeLLM, reply: str | None, message: str
) -> None:
    fake.reply = reply

    with pytest.raises(UpstreamUnavailable, match=message):
        await summarizer(session, fake).summarize(PAPER)


async def test_a_wrong_or_missing_key_is_unavailable_and_never_echoed(
    session: aiohttp.ClientSession, fake: FakeLLM
) -> None:
    with pytest.raises(UpstreamUnavailable) as wrong:
        await summarizer(session, fake, key="sk-wrong-secret").summarize(PAPER)
    with pytest.raises(UpstreamUnavailable) as missing:
        await summarizer(session, fake, key=None).summarize(PAPER)

    assert str(wrong.value) == str(missing.value) == "LLM: HTTP 401"
    assert "Authorization" not in fake.requests[-1].headers


async def test_a_slow_endpoint_is_abandoned_at_the_configured_timeout(
    session: aiohttp.ClientSession, fake: FakeLLM
) -> None:
    fake.fail("slow", delay=10.0)

    # The message proves the configured timeout cut it off (the fake would answer, successfully, after 10 s).
    with pytest.raises(UpstreamUnavailable, match=r"^LLM: timed out after 0.2s$"):
        await summarizer(session, fake, timeout=0.2).summarize(PAPER)
