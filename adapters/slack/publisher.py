"""SlackPublisher: the core's outbound port for Slack (one chat.postMessage per digest entry).

One message per paper so each can be voted on with reactions; the returned `ts` is the message id the engine
records, which is what `reaction_added.item.ts` points back to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.text import clean, fit
from bot.errors import UpstreamUnavailable
from bot.model import ChannelRef, DigestEntry, PostedMessage

TokenLookup = Callable[[str], Awaitable[str | None]]
"""Bot token for a workspace (team id), or None when the app is not installed there."""


class SlackPublisher:
    """Implements bot.ports.Publisher. The client carries base URL and retry handlers; tokens come per workspace."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, tokens: TokenLookup) -> None:
        self._client = client
        self._tokens = tokens

    async def say(self, channel: ChannelRef, text: str) -> PostedMessage:
        """A plain line (digest header, "no announcements today"), escaped so it cannot mention anyone."""
        return await self._post(channel, text=fit(clean(text), 3000))

    async def publish(self, channel: ChannelRef, entry: DigestEntry) -> PostedMessage:
        blocks = render.entry_blocks(entry)
        return await self._post(channel, text=render.fallback_text(entry.card, rank=entry.rank), blocks=blocks)

    async def _post(self, channel: ChannelRef, *, text: str, blocks: list[render.Block] | None = None) -> PostedMessage:
        token = await self._tokens(channel.workspace)
        if not token:
            raise UpstreamUnavailable(f"hotpapers is not installed in Slack workspace {channel.workspace}")
        try:
            response = await self._client.chat_postMessage(
                token=token,
                channel=channel.channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error") if error.response is not None else "no_response"
            raise UpstreamUnavailable(f"Slack refused a message to {channel.key}: {code}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UpstreamUnavailable(f"Slack is unreachable ({type(error).__name__})") from None
        return PostedMessage(channel=channel, message_id=str(response["ts"]))


def static_tokens(token: str) -> TokenLookup:
    """Single-workspace installs: the same bot token for every channel."""

    async def lookup(team_id: str) -> str | None:
        return token

    return lookup
