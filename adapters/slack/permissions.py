"""Who may change a channel's subscription: workspace admins and owners, or the channel's creator.

Asked of Slack at the moment of the command (users.info, conversations.info), so a demoted admin loses the right
at once; any API failure denies rather than allows.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import PermissionDenied

log = logging.getLogger(__name__)

NOT_ALLOWED = "Only workspace admins and owners, or whoever created this channel, can manage its hot papers."


async def can_manage(client: AsyncWebClient, *, user_id: str, channel_id: str) -> bool:
    try:
        user = (await client.users_info(user=user_id)).get("user") or {}
        if user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"):
            return True
        channel = (await client.conversations_info(channel=channel_id)).get("channel") or {}
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
        log.warning("permission check failed closed: %s", type(error).__name__)
        return False
    return bool(channel.get("creator")) and channel.get("creator") == user_id


async def require_manager(
    client: AsyncWebClient, *, user_id: str, channel_id: str, doing: str = "change this channel's subscription"
) -> None:
    """PermissionDenied ("You can't <doing>. Only …") unless `user_id` may manage hot papers in the channel."""
    if not await can_manage(client, user_id=user_id, channel_id=channel_id):
        raise PermissionDenied(f"You can't {doing}. {NOT_ALLOWED}")
