"""SlackPublisher: the core's outbound port for Slack (one chat.postMessage per digest entry).

One message per paper so each can be voted on with reactions; the returned `ts` is the message id the engine
records, which is what `reaction_added.item.ts` points back to. Each digest message carries its idempotency key in
its `metadata` (event type `hotpapers_post`), which `conversations.history` with `include_all_metadata` returns:
Slack has no idempotency key of its own, so that is how a resumed digest finds what an earlier attempt posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.text import clean, fit
from bot.domain import messages
from bot.domain.errors import Undeliverable, UpstreamUnavailable
from bot.domain.model import ChannelRef, DigestEntry, PollDraft, PollOutcome, PollTally, PostedMessage, PostKey

log = logging.getLogger(__name__)

TokenLookup = Callable[[str], Awaitable[str | None]]
"""Bot token for a workspace (team id), or None when the app is not installed there."""

EVENT_TYPE = "hotpapers_post"
THREAD_EVENT_TYPE = "hotpapers_thread"
"""The metadata of the bot's opening reply in a discussion thread (a repeat finds it and posts nothing)."""
HISTORY_PAGES = 10
PERMALINKS = 4096
"""How many (channel, ts) → permalink answers a publisher keeps (a message's permalink never changes)."""
"""How many pages of 200 messages `find` reads at most (a digest's messages are recent)."""

_MESSAGE = {
    "msg_too_long",
    "msg_blocks_too_long",
    "invalid_blocks",
    "invalid_blocks_format",
    "no_text",
    "too_many_attachments",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
}
_WORKSPACE = {
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_authed",
    "team_access_not_granted",
    "ekm_access_denied",
    "org_login_required",
    "missing_scope",
    "not_allowed_token_type",
    "team_not_found",
}
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


@dataclass
class _Bucket:
    level: float
    since: float
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChannelPacer:
    """chat.postMessage at Slack's pace for each channel: `burst` messages at once, then `per_second` (Slack: "1 per
    second per channel, short bursts allowed"), so Slack never answers `ratelimited` — which slack_sdk would sleep
    out with up to a second of random jitter on top of Retry-After, leaving a busy channel well below its rate. A
    token bucket per channel; posts to one channel take turns, posts to different channels do not wait for each
    other. The bucket is a lower bound of Slack's: Slack saw a post somewhere between its sending and its answer,
    and the next post reaches it after it is sent. While the bucket is below full, when Slack took the token does
    not matter (it refills the same either way), so the refill during a post's flight counts; only a full bucket
    loses it, and there the token is taken as late as possible, at the answer. However unevenly the network or a
    busy event loop delays two posts, the next one never reaches Slack early, and a channel's ten posts take the
    seven seconds of its pace plus the flights of its first and last post, not plus every flight. Clock and sleep
    are injectable so tests need not wait."""

    def __init__(
        self,
        burst: int = 3,
        per_second: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be >= 1 and per_second > 0")
        self.burst, self.per_second = burst, per_second
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    @asynccontextmanager
    async def turn(self, channel: ChannelRef) -> AsyncIterator[None]:
        """`async with pacer.turn(channel): <post>` — waits for the channel's next token, holds the turn meanwhile."""
        key = (channel.workspace, channel.channel)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_full()
            bucket = self._buckets[key] = _Bucket(float(self.burst), self._clock())
        async with bucket.turn:
            level = self._level(bucket)
            if level < 1.0:
                await self._sleep((1.0 - level) / self.per_second)
                level = max(self._level(bucket), 1.0)
            sent = self._clock()
            try:
                yield
            finally:
                answered = self._clock()
                bucket.level = min(float(self.burst), level + (answered - sent) * self.per_second) - 1.0
                bucket.since = answered

    def _level(self, bucket: _Bucket) -> float:
        return min(float(self.burst), bucket.level + (self._clock() - bucket.since) * self.per_second)

    def _forget_full(self) -> None:
        """Keep the table small: a channel whose bucket is full again and idle is as good as a new one."""
        if len(self._buckets) < 10_000:
            return
        for key, bucket in list(self._buckets.items()):
            if not bucket.turn.locked() and self._level(bucket) >= self.burst:
                del self._buckets[key]


class SlackPublisher:
    """Implements bot.domain.ports.Publisher. The client carries base URL and retry handlers; tokens come per
    workspace; posts to a channel go at `pacer`'s pace (none: as fast as Slack answers)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, tokens: TokenLookup, *, pacer: ChannelPacer | None = None) -> None:
        # slack_sdk's connection-error retry re-sends a chat.postMessage that Slack may already have taken (it has
        # no idempotency key): the engine retries instead, after looking the message up by its key.
        self._client = copy.copy(client)
        self._client.retry_handlers = [
            handler for handler in client.retry_handlers if not isinstance(handler, AsyncConnectionErrorRetryHandler)
        ]
        self._tokens = tokens
        self._permalinks: dict[tuple[str, str], str] = {}
        self._pacer = pacer

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        """A plain line (digest header, "no announcements today"), escaped so it cannot mention anyone."""
        return await self._post(channel, key, text=fit(clean(text), 3000))

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey | None = None) -> PostedMessage:
        blocks = render.entry_blocks(entry)
        return await self._post(channel, key, text=render.fallback_text(entry.card, rank=entry.rank), blocks=blocks)

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        """Our messages carrying `keys`, from `conversations.history` (needs channels:history / groups:history)."""
        wanted = {str(key): key for key in keys}
        found: dict[PostKey, list[str]] = {}
        token = await self._token(channel)
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            args: dict[str, Any] = {
                "channel": channel.channel,
                "oldest": f"{since.timestamp():.6f}",
                "limit": 200,
                "include_all_metadata": True,
            }
            if cursor:
                args["cursor"] = cursor
            try:
                response = await _translated(channel, self._client.conversations_history(token=token, **args))
            except Undeliverable as error:
                if "missing_scope" not in error.reason:
                    raise
                # Installed before the app asked for channels:history / groups:history: posting still works, only
                # finding an interrupted run's messages does not. Say so; never pause a channel over it.
                log.warning(
                    "cannot look up earlier posts in %s (reinstall the app to grant channels:history and "
                    "groups:history); a message whose answer was lost may be posted twice",
                    channel.key,
                )
                return {}
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                key = wanted.get(str(payload.get("key", ""))) if metadata.get("event_type") == EVENT_TYPE else None
                if key is not None:
                    found.setdefault(key, []).append(str(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                break
        for ids in found.values():
            ids.sort(key=float)  # history is newest first; the oldest copy is the one to keep
        return found

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        token = await self._token(channel)
        try:
            await _translated(channel, self._client.chat_delete(token=token, channel=channel.channel, ts=message_id))
        except Undeliverable as error:
            if "message_not_found" not in error.reason:
                raise

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        """The bot's short reply `opener` under the message (`thread_ts`), once: the reply carries metadata
        (`hotpapers_thread`) that `conversations.replies` returns, so a repeat finds it and posts nothing. The
        thread's id is the parent's `ts`, which replies carry as their `thread_ts`."""
        token = await self._token(channel)
        try:
            response = await _translated(
                channel,
                self._client.conversations_replies(
                    token=token, channel=channel.channel, ts=message_id, limit=200, include_all_metadata=True
                ),
            )
        except Undeliverable as error:
            if "message_not_found" in error.reason or "thread_not_found" in error.reason:
                response = {}
            elif "missing_scope" in error.reason:
                log.warning("cannot read the thread under %s in %s (reinstall for channels:history)", message_id,
                            channel.key)  # fmt: skip
                response = {}
            else:
                raise
        for message in response.get("messages") or []:
            if (message.get("metadata") or {}).get("event_type") == THREAD_EVENT_TYPE:
                return message_id
        async with self._turn(channel):  # a reply in a thread counts against the channel's rate as well
            await _translated(
                channel,
                self._client.chat_postMessage(
                    token=token,
                    channel=channel.channel,
                    thread_ts=message_id,
                    text=fit(clean(opener), 3000),
                    metadata={"event_type": THREAD_EVENT_TYPE, "event_payload": {"parent": message_id}},
                    unfurl_links=False,
                    unfurl_media=False,
                ),
            )
        return message_id

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        """The workspace's own link to the message, from `chat.getPermalink` (no scope needed; the link carries the
        workspace's domain, which only Slack knows), kept per (channel, ts). On any failure: the plain reference,
        not cached, so a later roundup asks again."""
        cached = self._permalinks.get((channel.channel, message_id))
        if cached is not None:
            return cached
        try:
            token = await self._token(channel)
            response = await _translated(
                channel, self._client.chat_getPermalink(token=token, channel=channel.channel, message_ts=message_id)
            )
            link = str(response["permalink"])
        except Exception as error:  # best effort: the roundup names the message instead
            log.warning("no permalink for %s in %s: %s", message_id, channel.key, error)
            return messages.message_reference(message_id)
        if len(self._permalinks) >= PERMALINKS:
            self._permalinks.pop(next(iter(self._permalinks)))
        self._permalinks[(channel.channel, message_id)] = link
        return link

    # ── journal club (issue 19): a button per paper; the core records the votes ─────────────────────────────────

    async def start_poll(self, channel: ChannelRef, draft: PollDraft, *, key: PostKey) -> PostedMessage:
        return await self._post(channel, key, text=render.poll_text(draft), blocks=render.poll_blocks(draft))

    async def end_poll(self, channel: ChannelRef, message_id: str, *, final: PollDraft) -> PollTally | None:
        """The message shows the poll closed with the counts the core recorded (no buttons left); None: those
        counts are the result."""
        await self.update_poll(channel, message_id, final)
        return None

    async def update_poll(self, channel: ChannelRef, message_id: str, draft: PollDraft) -> None:
        """The poll message with `draft`'s counts (after a vote, or closed)."""
        token = await self._token(channel)
        await _translated(
            channel,
            self._client.chat_update(
                token=token,
                channel=channel.channel,
                ts=message_id,
                text=render.poll_text(draft),
                blocks=render.poll_blocks(draft),
            ),
        )

    async def announce_winner(self, channel: ChannelRef, outcome: PollOutcome, *, key: PostKey) -> PostedMessage:
        text = render.note(messages.winner_announcement(outcome))
        return await self._post(channel, key, text=text, blocks=render.winner_blocks(outcome))

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        """A direct message from the app to `user_id` (chat.postMessage to a user id opens the app's DM)."""
        try:
            token = await self._token(channel)
            await self._client.chat_postMessage(token=token, channel=user_id, text=fit(clean(text), 3000))
        except (SlackApiError, aiohttp.ClientError, TimeoutError, Undeliverable) as error:
            log.info("could not send a direct message in %s: %s", channel.workspace, error)
            return False
        return True

    async def _post(
        self, channel: ChannelRef, key: PostKey | None, *, text: str, blocks: list[render.Block] | None = None
    ) -> PostedMessage:
        token = await self._token(channel)
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"key": str(key)}} if key else None
        async with self._turn(channel):
            response = await _translated(
                channel,
                self._client.chat_postMessage(
                    token=token,
                    channel=channel.channel,
                    text=text,
                    blocks=blocks,
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                ),
            )
        return PostedMessage(channel=channel, message_id=str(response["ts"]))

    def _turn(self, channel: ChannelRef) -> contextlib.AbstractAsyncContextManager[None]:
        """The channel's next turn at `pacer`'s pace, or at once without a pacer."""
        return self._pacer.turn(channel) if self._pacer is not None else contextlib.nullcontext()

    async def _token(self, channel: ChannelRef) -> str:
        token = await self._tokens(channel.workspace)
        if not token:
            raise Undeliverable(
                "hotpapers is not installed in this Slack workspace (or its install was removed)",
                scope="workspace",
                fix="install the app to the workspace again, then subscribe the channel",
            )
        return token


async def _translated(channel: ChannelRef, request: Awaitable[Any]) -> Any:
    """Slack's failures as the core's: transient (retried), or permanent with its scope, reason and fix."""
    try:
        return await request
    except SlackApiError as error:
        raise _classified(channel, error) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise UpstreamUnavailable(f"Slack is unreachable ({type(error).__name__})") from None


def _classified(channel: ChannelRef, error: SlackApiError) -> Exception:
    response = error.response
    status = getattr(response, "status_code", 0) or 0
    data = response.data if response is not None and isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"HTTP {status}")
    where = channel.name or channel.channel
    if code in _TRANSIENT or status == 429 or status >= 500:
        retry_after = _retry_after(response) if (code == "ratelimited" or status == 429) else None
        return UpstreamUnavailable(f"Slack answered {code} for {channel.key}", retry_after=retry_after)
    if code in _MESSAGE:
        return Undeliverable(
            f"Slack refused one message in {where} ({code})",
            scope="message",
            fix="nothing to do for the channel; the entry was skipped",
        )
    if code in _WORKSPACE:
        fix = (
            "reinstall the app so it gets the scopes its manifest asks for"
            if code == "missing_scope"
            else "reinstall hotpapers to the workspace (its token no longer works)"
        )
        return Undeliverable(f"Slack refuses the app's token ({code})", scope="workspace", fix=fix)
    reason, fix = _CHANNEL_FIXES.get(code, (f"Slack refuses posts to {where} ({code})", "check the channel"))
    return Undeliverable(reason.format(where=where), scope="channel", fix=fix.format(where=where))


_CHANNEL_FIXES = {
    "not_in_channel": ("hotpapers is not a member of {where}", "invite @hotpapers to {where} (/invite @hotpapers)"),
    "is_archived": ("{where} is archived", "unarchive {where}, or subscribe another channel"),
    "channel_not_found": (
        "Slack cannot find {where} for hotpapers",
        "invite @hotpapers to {where}, or subscribe another channel if it was deleted",
    ),
    "restricted_action": ("posting in {where} is restricted", "let apps post in {where}"),
    "message_not_found": ("the message is gone", "nothing to do"),
}


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def static_tokens(token: str) -> TokenLookup:
    """Single-workspace installs: the same bot token for every channel."""

    async def lookup(team_id: str) -> str | None:
        return token

    return lookup
