"""Slash commands: /paper, /hot, /summarize and /hotpapers subscribe | unsubscribe | settings | regenerate.

Each handler acknowledges first (Slack's 3-second rule; bolt returns the HTTP response the moment `ack` is
called and keeps the listener running), then translates, calls the engine once and answers through
`respond` (the command's response_url). Errors go through the one table in `errors.py`, always ephemeral.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.errors import error_text
from adapters.slack.options import USAGE, parse_options, split_subcommand
from adapters.slack.permissions import require_manager
from adapters.slack.reply import deliver
from adapters.slack.settings import Settings
from adapters.slack.text import escape
from bot.domain import messages
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.errors import BadInput
from bot.domain.model import ChannelRef
from bot.domain.text import whole_number

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

COMMANDS = ("/paper", "/hot", "/summarize", "/hotpapers")
"""The commands this module answers; with `adapters.slack.journal_club.COMMAND`, the manifest must declare exactly
these (a test checks)."""
HELP = (
    "*hotpapers* — `/paper 2010.00577` shows a paper · `/hot [days]` this channel's most-voted papers · "
    "`/summarize 2010.00577` writes a community summary · `/hotpapers subscribe [options]`, "
    "`/hotpapers settings [options]`, `/hotpapers unsubscribe` manage the daily digest, "
    "`/hotpapers subscribe publish=yes` makes it a public web page and feed (`publish=no` stops it, "
    "`/hotpapers settings publish=rotate` gives it a new link) and "
    "`/hotpapers regenerate 2010.00577` asks the LLM again for a paper's summary (admins or the channel's "
    f"creator).\n{escape(USAGE)}"
)


async def _answer(respond: AsyncRespond, client: AsyncWebClient, command: dict[str, Any], **message: Any) -> None:
    """Answer through the command's response_url; if Slack refuses, the user is told privately (`deliver`)."""
    channel_id, user_id = str(command.get("channel_id", "")), str(command.get("user_id", ""))
    await deliver(respond, client=client, channel_id=channel_id, user_id=user_id, **message)


FORM_FAILED = "The summary form could not be opened (Slack said: {reason}). Please run /summarize again."


def channel_of(command: dict[str, Any]) -> ChannelRef:
    name = command.get("channel_name") or ""
    return ChannelRef("slack", str(command.get("team_id", "")), str(command.get("channel_id", "")), f"#{name}")


class SlashCommands:
    """Bolt listeners for the four commands; no rules here beyond parsing what Slack sends."""

    def __init__(self, service: ChatService, settings: Settings, *, summary_max_chars: int) -> None:
        self._service = service
        self._settings = settings
        self._summary_max_chars = summary_max_chars

    def register(self, app: AsyncApp) -> None:
        handlers = {"/paper": self.paper, "/hot": self.hot, "/summarize": self.summarize, "/hotpapers": self.hotpapers}
        for name in COMMANDS:
            app.command(name)(handlers[name])

    async def paper(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        ref = str(command.get("text", ""))
        try:
            card = await self._service.paper(ref, channel_of(command), user=str(command.get("user_id", "")) or None)
        except Exception as error:
            await _answer(respond, client, command, text=error_text(error, ref=ref), response_type="ephemeral")
            return
        await _answer(
            respond,
            client,
            command,
            text=render.fallback_text(card),
            blocks=render.paper_blocks(card),
            response_type="in_channel",
        )

    async def hot(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        text = str(command.get("text", "")).strip()
        try:
            days = self._days(text)
            cards = await self._service.top(channel_of(command), days, limit=self._settings.hot_limit)
        except Exception as error:
            await _answer(respond, client, command, text=error_text(error), response_type="ephemeral")
            return
        fallback = f"{len(cards)} most-voted papers in the last {days} days"
        await _answer(
            respond,
            client,
            command,
            text=fallback,
            blocks=render.hot_blocks(cards, days=days),
            response_type="in_channel",
        )

    async def summarize(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """Open the modal at once: a trigger_id expires 3 s after the command, before any arXiv lookup could end."""
        try:
            paper_id = parse_arxiv_id(str(command.get("text", ""))).id
        except BadInput as error:
            await ack(text=error_text(error), response_type="ephemeral")
            return
        await ack()
        metadata = {
            "ref": paper_id,
            "team": command.get("team_id"),
            "channel": command.get("channel_id"),
            "response_url": command.get("response_url"),
        }
        view = render.summary_modal(paper_id, metadata=json.dumps(metadata), max_chars=self._summary_max_chars)
        try:
            await client.views_open(trigger_id=command["trigger_id"], view=view)
        except SlackApiError as error:  # expired_trigger_id: Slack gave us 3 s and they were gone
            code = str(error.response.get("error", "unknown_error"))
            log.warning("could not open the summary form: %s", code)
            await _answer(
                respond, client, command, text=escape(FORM_FAILED.format(reason=code)), response_type="ephemeral"
            )

    async def hotpapers(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        action, rest = split_subcommand(str(command.get("text", "")))
        channel = channel_of(command)
        try:
            if action == "settings" and not rest:
                current = await self._service.settings(channel)
                blocks = render.settings_blocks(current, heading=f"Hot-papers settings for {channel.name}")
                await _answer(
                    respond, client, command, text="Channel settings", blocks=blocks, response_type="ephemeral"
                )
                return
            if action not in ("subscribe", "unsubscribe", "settings", "regenerate"):
                await _answer(respond, client, command, text=HELP, response_type="ephemeral")
                return
            doing = "regenerate summaries here" if action == "regenerate" else "change this channel's subscription"
            await require_manager(client, user_id=str(command.get("user_id")), channel_id=channel.channel, doing=doing)
            if action == "regenerate":
                card = await self._service.regenerate_summary(rest, channel)
                note = render.note(messages.regenerated_note(card))
                await _answer(
                    respond,
                    client,
                    command,
                    text=note,
                    blocks=render.regenerated_blocks(card),
                    response_type="ephemeral",
                )
                return
            if action == "unsubscribe":
                await self._service.unsubscribe(channel)
                gone = escape(f"{channel.name} no longer gets the daily hot papers.")
                await _answer(respond, client, command, text=gone, response_type="in_channel")
                return
            options = parse_options(rest)
            publish = options.pop("publish", None)
            if publish is not None:
                await self._publish(respond, client, command, channel, action, publish, options)
                return
            if action == "settings" and not (await self._service.settings(channel)).subscribed:
                raise BadInput("This channel is not subscribed yet: use /hotpapers subscribe with those options")
            updated = await self._service.subscribe(channel, options, by=str(command.get("user_id", "")) or None)
        except Exception as error:
            ref = rest if action == "regenerate" else None  # NotFound there names the paper
            await _answer(respond, client, command, text=error_text(error, ref=ref), response_type="ephemeral")
            return
        joined = await self._join(client, channel)
        verb = "subscribed to" if action == "subscribe" else "updated settings for"
        heading = f"{command.get('user_name') or 'Someone'} {verb} the daily hot papers in {channel.name}"
        if not joined:
            heading += " (invite the bot to this channel so it can post and count reactions)"
        blocks = render.settings_blocks(updated, heading=heading)
        await _answer(respond, client, command, text=escape(heading), blocks=blocks, response_type="in_channel")

    async def _publish(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        command: dict[str, Any],
        channel: ChannelRef,
        action: str,
        publish: str,
        options: dict[str, str],
    ) -> None:
        """`publish=yes|confirm|no` (subscribe) or `publish=rotate` (settings): the channel's public page (issue 20).
        Answered privately: the URL carries the page's token, and the admin decides where to share it."""
        if options:
            if action != "subscribe":
                raise BadInput("Change settings and publish=… in two commands")
            await self._service.subscribe(channel, options, by=str(command.get("user_id", "")) or None)
        answer = await self._service.publish(channel, publish, command="/hotpapers subscribe")
        await _answer(respond, client, command, text=escape(answer.text), response_type="ephemeral")

    def _days(self, text: str) -> int:
        if not text:
            return self._settings.hot_days
        return whole_number(text, what="/hot days", low=1, high=365)

    @staticmethod
    async def _join(client: AsyncWebClient, channel: ChannelRef) -> bool:
        """Join a public channel so reactions on the digest reach the bot; private ones need an invite."""
        try:
            await client.conversations_join(channel=channel.channel)
        except Exception as error:
            log.info("could not join %s: %s", channel.key, type(error).__name__)
            return False
        return True
