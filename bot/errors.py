"""The errors the engine raises. Each maps to one CLI exit code and one adapter message table."""

from __future__ import annotations


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
    """arXiv, the database or another dependency could not be reached (exit 4)."""

    exit_code = 4
