"""One JSON-over-HTTP client for every signal source: rate limit, bounded retries, strict decoding.

Each popularity source talks to a service that throttles (429), has bad days (5xx) and sometimes answers with an
HTML error page. Keeping the policy in one place means every source fails the same way: a single
`UpstreamUnavailable` whose message names the service and the status, and never a header, a body or a secret.
Retries use tenacity and honour `Retry-After` (capped); the client-side rate limit is an aiolimiter bucket.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from bot.domain.errors import UpstreamUnavailable
from bot.domain.text import strip_invisible

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a source tries before it gives up. `sleep` is injectable so tests can see waits without waiting."""

    attempts: int = 3
    backoff: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)


class UpstreamStatus(UpstreamUnavailable):
    """A non-retryable HTTP error status; `code` is the service's short error name when it sent one."""

    def __init__(self, service: str, status: int, code: str | None = None) -> None:
        super().__init__(f"{service}: HTTP {status}" + (f" ({code})" if code else ""))
        self.status = status
        self.code = code


class _Transient(Exception):
    """A failure worth another try: throttling, a 5xx, a dropped connection."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _WaitRetryAfter(wait_base):
    """Wait what the server asked for (capped), else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._cap = policy.retry_after_cap
        self._backoff = wait_exponential_jitter(
            multiplier=policy.backoff, max=policy.backoff_max, jitter=policy.backoff
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self._cap)
        return self._backoff(retry_state)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


class JsonClient:
    """JSON requests against one service's base URL, shared by that source's calls."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        service: str,
        limiter: AsyncLimiter,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self.service = service
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=timeout) if timeout else None
        self._headers = dict(headers or {})

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        return await self.request("GET", path, params=params, **options)

    async def post(self, path: str, *, body: Any, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        return await self.request("POST", path, params=params, body=body, **options)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        absent: Collection[int] = (),
    ) -> Any:
        """The decoded JSON body; None when the status is in `absent` (e.g. 404 = "no such paper here")."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=_WaitRetryAfter(self._retry),
            retry=retry_if_exception_type(_Transient),
            sleep=self._retry.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, params, body, headers, absent)
        except _Transient as error:
            raise UpstreamUnavailable(f"{self.service}: {error}") from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        absent: Collection[int],
    ) -> Any:
        merged = {"Accept": "application/json", **self._headers, **(headers or {})}
        extra: dict[str, Any] = {"timeout": self._timeout} if self._timeout else {}
        url = f"{self._base}/{path.lstrip('/')}"
        async with self._limiter:
            try:
                async with self._session.request(
                    method, url, params=params, json=body, headers=merged, **extra
                ) as response:
                    return await self._decode(response, absent)
            except aiohttp.ClientError as error:
                raise _Transient(f"connection failed ({type(error).__name__})") from None
            except TimeoutError:
                seconds = self._timeout.total if self._timeout else None
                after = f" after {seconds:g}s" if seconds else ""
                raise UpstreamUnavailable(f"{self.service}: timed out{after}") from None

    async def _decode(self, response: aiohttp.ClientResponse, absent: Collection[int]) -> Any:
        status = response.status
        if status in absent:
            return None
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Transient(f"HTTP {status}", retry_after=retry_after)
        if status >= 400:
            raise UpstreamStatus(self.service, status, await _error_code(response))
        if not _is_json(response.content_type):
            shown = response.content_type or "no content type"
            raise UpstreamUnavailable(f"{self.service}: answered {shown}, not JSON")
        raw = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise UpstreamUnavailable(f"{self.service}: response larger than {MAX_BODY_BYTES} bytes")
        try:
            return json.loads(raw.decode(response.charset or "utf-8"))
        except (UnicodeDecodeError, ValueError, LookupError):
            raise UpstreamUnavailable(f"{self.service}: malformed JSON") from None


async def _error_code(response: aiohttp.ClientResponse) -> str | None:
    """The `error` name of a JSON error body (atproto's "ExpiredToken", S2's message is ignored), if short."""
    if not _is_json(response.content_type):
        return None
    try:
        data = json.loads(await response.content.read(4096))
    except (ValueError, UnicodeDecodeError):
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) and code.isidentifier() and len(code) <= 40 else None


async def bounded_map(func: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int) -> list[R]:
    """`func` over `items`, at most `concurrency` at once; the first failure cancels the rest and is raised as is."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: T) -> R:
        async with gate:
            return await func(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as failures:
        raise _first_leaf(failures) from None
    return [task.result() for task in tasks]


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    """Prefer an UpstreamUnavailable (a message we wrote) over any other failure in the group."""
    leaves: list[Exception] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        elif isinstance(error, Exception):
            leaves.append(error)
    return next((e for e in leaves if isinstance(e, UpstreamUnavailable)), leaves[0])


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def as_int(value: Any) -> int | None:
    """A count from JSON: ints (and integral floats) only; booleans, strings and null are not counts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def compact_count(value: int) -> str:
    """1234 -> "1.2k" for short labels."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}".rstrip("0").rstrip(".") + "k"
    return str(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """One line of plain text: control and bidi characters dropped, whitespace collapsed, ends stripped."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", strip_invisible(text))).strip()


def mentions_id(text: str, paper_id: str) -> bool:
    """True when `text` names exactly this id: 2010.00577 matches …/abs/2010.00577v2, not 2010.005771 or 12010.00577."""
    return re.search(rf"(?<![\d.]){re.escape(paper_id)}(?!\d)", text) is not None
