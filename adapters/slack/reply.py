"""Answering through `respond()` (the request's response_url) and noticing when Slack refused the answer.

A response_url takes five answers in thirty minutes, and Slack refuses a body it cannot show (`invalid_blocks`,
`msg_blocks_too_long`) with a 4xx that bolt hands back instead of raising. `deliver` checks that answer; when the
first one was refused it tells the user privately: a short text through the same URL (enough when the blocks were
the problem), else an ephemeral message through the Web API (when the URL itself is used up or expired).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse

from adapters.slack.text import escape

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[WebhookResponse]]
"""bolt's `respond`, or `AsyncWebhookClient(response_url).send`: both post one message to a response_url."""

UNDELIVERED = "hotpapers could not deliver its answer here (Slack said: {reason}). Please try again."


async def deliver(
    respond: Respond,
    *,
    client: AsyncWebClient | None = None,
    channel_id: str | None = None,
    user_id: str | None = None,
    **message: Any,
) -> bool:
    """`respond(**message)`; True when Slack took it. Otherwise the user is told, privately, and False returned."""
    reason = await _send(respond, message)
    if reason is None:
        return True
    log.warning("Slack refused an answer through response_url: %s", reason)
    note = escape(UNDELIVERED.format(reason=reason))
    if (
        "blocks" in message
        and await _send(respond, {"text": note, "response_type": "ephemeral", "replace_original": False}) is None
    ):
        return False
    if client is not None and channel_id and user_id:
        try:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, text=note)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not tell the user either (%s)", type(error).__name__)
    return False


async def _send(respond: Respond, message: dict[str, Any]) -> str | None:
    """None when Slack accepted the message, else its reason (the body of the refusal, or the network error)."""
    try:
        response = await respond(**message)
    except (aiohttp.ClientError, TimeoutError) as error:
        return type(error).__name__
    if response.status_code == 200:
        return None
    return (response.body or f"HTTP {response.status_code}").strip()[:80]
