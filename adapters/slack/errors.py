"""From errors to what a Slack user reads: the engine's in the words of `bot.domain.messages` (the same on every
platform),
escaped for mrkdwn, because BadInput messages quote what the user typed; and bolt's own failures."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.response import BoltResponse

from adapters.slack.text import escape
from bot.domain import messages

log = logging.getLogger(__name__)


def error_text(error: BaseException, *, ref: str | None = None) -> str:
    """The user-facing line for `error` (mrkdwn-escaped). Unexpected errors are logged, never shown."""
    text = messages.error_text(error, ref=ref)
    if text is None:
        log.error("unexpected error in a Slack handler", exc_info=error)
        text = messages.UNEXPECTED
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
        status, text = 500, messages.UNEXPECTED
    return BoltResponse(status=status, body=text) if response is not None else None
