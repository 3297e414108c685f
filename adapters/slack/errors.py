"""One table from engine errors to what a Slack user reads (mirrors the CLI's exit-code table).

Messages are returned escaped for mrkdwn, because BadInput messages quote what the user typed.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.response import BoltResponse

from adapters.slack.text import escape
from bot.errors import BadInput, ConfigError, HotPapersError, NotFound, PermissionDenied, UpstreamUnavailable

log = logging.getLogger(__name__)

UNREACHABLE = "arXiv is unreachable right now, try again in a minute."
NOT_ALLOWED = "Only workspace admins and owners, or whoever created this channel, can manage its hot papers."
UNEXPECTED = "Something went wrong on our side; it has been logged. Please try again later."


def error_text(error: BaseException, *, ref: str | None = None) -> str:
    """The user-facing line for `error` (mrkdwn-escaped). Unexpected errors are logged, never shown."""
    if isinstance(error, BadInput):
        text = str(error)
    elif isinstance(error, NotFound):
        text = f"arXiv has no paper {ref.strip()}." if ref and ref.strip() else str(error)
    elif isinstance(error, UpstreamUnavailable):
        text = UNREACHABLE
    elif isinstance(error, PermissionDenied):
        text = f"{error} {NOT_ALLOWED}" if str(error) else NOT_ALLOWED
    elif isinstance(error, (ConfigError, HotPapersError)):
        text = str(error) or UNEXPECTED
    else:
        log.error("unexpected error in a Slack handler", exc_info=error)
        text = UNEXPECTED
    return escape(text)


UNREACHABLE_SLACK = "Slack is unreachable right now; try again in a minute."


async def bolt_error(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler (middleware and listeners): Slack's API unreachable while a request is handled — its
    authorize step calls auth.test — is one warning line and a 503, not a 500 with a traceback."""
    if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
        log.warning("Slack API unreachable while handling a request: %s", type(error).__name__)
        status, text = 503, UNREACHABLE_SLACK
    else:
        log.error("unexpected error in a Slack handler", exc_info=error)
        status, text = 500, UNEXPECTED
    return BoltResponse(status=status, body=text) if response is not None else None
