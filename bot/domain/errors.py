"""The errors the engine raises. Each maps to one CLI exit code and one adapter message table."""

from __future__ import annotations

from typing import Literal


class HotPapersError(Exception):
    """Base class: `str(error)` is one line a user can act on, never a traceback or a secret."""

    exit_code = 1


class BadInput(HotPapersError):
    """The user typed something we cannot use (exit 2)."""

    exit_code = 2


class BadReference(BadInput):
    """Text that is not an arXiv id or URL. The message lists the accepted forms."""


class ConfigError(HotPapersError):
    """The configuration file is missing, unreadable or invalid; the message names the key (exit 2)."""

    exit_code = 2


class PermissionDenied(HotPapersError):
    """An admin command from someone without the right to change the channel's settings (exit 2)."""

    exit_code = 2


class NotFound(HotPapersError):
    """A well-formed reference that arXiv (or our store) does not know (exit 3)."""

    exit_code = 3


class UpstreamUnavailable(HotPapersError):
    """arXiv, the database, a chat platform or another dependency could not be reached (exit 4).

    Transient by definition: the same call may succeed later. `retry_after` is the service's own hint in seconds
    (a 429's Retry-After), when it gave one."""

    exit_code = 4

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


Scope = Literal["message", "channel", "workspace"]


class Undeliverable(HotPapersError):
    """A chat platform refused for good, until a person changes something (exit 4).

    `scope` says how much is refused: one `message` (too long, invalid body: skip it and post the rest), one
    `channel` (no access, missing permission, unknown or archived channel: pause that channel), or a whole
    `workspace` / bot (revoked token, uninstalled app: pause every channel there). `reason` says what happened
    and `fix` what a person can do about it, both in words an admin understands."""

    exit_code = 4

    def __init__(self, reason: str, *, scope: Scope, fix: str = "") -> None:
        super().__init__(f"{reason} — {fix}" if fix else reason)
        self.reason = reason
        self.scope: Scope = scope
        self.fix = fix
