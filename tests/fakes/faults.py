"""One small fault scheme shared by the loopback platform fakes (Discord, Slack).

A test injects a fault for a request key, and the fake asks the plan once per request:

    fake.faults.inject(r"POST /channels/\\d+/messages", "missing_permissions")      # Discord: "METHOD /route"
    fake.faults.inject("chat.postMessage", "ratelimited", times=None, retry_after=30)  # Slack: the method name
    fault = fake.faults.inject("chat.postMessage", "lost", after=2)                    # the 3rd post is lost

`pattern` is a regex matched in full against the key. The first injected fault whose pattern matches and which still
has hits left answers the request; `after` lets that many matching requests through first; `times=None` keeps the
fault until it is cleared. `fault.hits` counts the requests it answered.

Modes both fakes understand: "5xx" (param `status`, default 500), "reset" (the connection is closed without an
answer), "slow" (param `delay` seconds, then a normal answer), "429" (Discord: params `retry_after`, `global`; Slack:
as "ratelimited") and "lost" (the action IS performed, then the answer is a 5xx or a reset: param
`answer="5xx"|"reset"`, `status`). Each fake documents its own platform modes.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

COMMON_MODES = frozenset({"5xx", "reset", "slow", "429", "lost"})


@dataclass
class Fault:
    mode: str
    times: int | None = 1
    """How many matching requests it answers; None: every one until cleared."""
    after: int = 0
    """Let this many matching requests through first."""
    params: dict[str, Any] = field(default_factory=dict)
    """Mode parameters, e.g. status=503, retry_after=90.0, delay=2.0."""
    hits: int = 0
    """How many requests it has answered so far."""

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass
class _Entry:
    pattern: re.Pattern[str]
    fault: Fault
    seen: int = 0  # matching requests so far, including the ones let through by `after`


class FaultPlan:
    """The faults injected into one fake, asked once per request by `take`."""

    def __init__(self, modes: frozenset[str] | None = None) -> None:
        self._entries: list[_Entry] = []
        self._modes = modes  # None: any mode string is accepted (Slack: every error code is a mode)

    def inject(self, pattern: str, mode: str, *, times: int | None = 1, after: int = 0, **params: Any) -> Fault:
        """Answer requests whose key fully matches `pattern` in this mode; returns the fault to inspect `hits`."""
        if self._modes is not None and mode not in self._modes:
            raise ValueError(f"unknown fault mode {mode!r}; this fake knows {sorted(self._modes)}")
        if (times is not None and times < 1) or after < 0:
            raise ValueError("times must be None or at least 1, after at least 0")
        fault = Fault(mode, times=times, after=after, params=dict(params))
        self._entries.append(_Entry(re.compile(pattern), fault))
        return fault

    def clear(self, pattern: str | None = None) -> None:
        """Remove every fault (None) or the faults injected with exactly this pattern."""
        self._entries = [e for e in self._entries if pattern is not None and e.pattern.pattern != pattern]

    def take(self, key: str) -> Fault | None:
        """The fault that answers this request, counted as a hit; None for a normal answer."""
        for entry in self._entries:
            if entry.fault.spent or not entry.pattern.fullmatch(key):
                continue
            entry.seen += 1
            if entry.seen > entry.fault.after:
                entry.fault.hits += 1
                return entry.fault
        return None

    @property
    def faults(self) -> list[Fault]:
        """Every injected fault (spent ones included), in injection order."""
        return [e.fault for e in self._entries]


def reset_connection(request: web.Request) -> None:
    """Close the request's connection with a TCP RST and no answer, as a failing load balancer does; the client sees
    "connection reset by peer". The handler must not answer afterwards (raise asyncio.CancelledError)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class ManualClock:
    """A monotonic clock for a fake (`FakeDiscord(clock=…)`, `FakeSlack(clock=…)`) that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
