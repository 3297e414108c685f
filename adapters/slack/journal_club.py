"""`/journalclub start | close | history` and the poll's buttons on Slack (issue 19).

The poll is one message with a button per paper (`render.poll_blocks`). A click is one person's vote, changeable
until the poll closes: the engine records it (`poll_vote`), the message is updated with the live counts
(chat.update), and the voter gets a private receipt. Starting and closing are for the people who may manage the
channel's hot papers (`permissions.require_manager`); anyone may read the history."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.actions import button_channel
from adapters.slack.commands import channel_of
from adapters.slack.errors import error_text
from adapters.slack.options import parse_options, split_subcommand
from adapters.slack.permissions import require_manager
from adapters.slack.publisher import SlackPublisher
from adapters.slack.reply import deliver
from adapters.slack.text import escape
from bot.domain import messages
from bot.domain.errors import BadInput

if TYPE_CHECKING:
    from bot.domain.ports import ChatService

log = logging.getLogger(__name__)

COMMAND = "/journalclub"
USAGE = "Usage: `/journalclub start [candidates=5] [closes=48h]`, `/journalclub close`, `/journalclub history`"
_VOTE = re.compile(rf"^{render.POLL_VOTE}_\d+$")


class JournalClub:
    def __init__(self, service: ChatService, publisher: SlackPublisher) -> None:
        self._service = service
        self._publisher = publisher

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.command)
        app.action(_VOTE)(self.vote)

    async def command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        action, rest = split_subcommand(str(command.get("text", "")))
        channel = channel_of(command)
        user = str(command.get("user_id", ""))
        try:
            if action == "history" and not rest:
                winners = await self._service.journal_club_history(channel)
                text = "\n".join(escape(line) for line in messages.history_lines(winners))
            elif action in ("start", "close"):
                doing = "start or close a journal-club poll here"
                await require_manager(client, user_id=user, channel_id=channel.channel, doing=doing)
                if action == "start":
                    options = parse_options(rest)
                    if set(options) - {"candidates", "closes"}:
                        raise BadInput(USAGE)
                    start = await self._service.journal_club_start(
                        channel, self._publisher, candidates=options.get("candidates"), closes=options.get("closes"),
                        by=user or None,
                    )  # fmt: skip
                    text = render.note(messages.poll_started(start))
                else:
                    closed = await self._service.journal_club_close(channel, self._publisher)
                    said = messages.poll_close_answer(closed) or "Closed: the winner is announced in the channel."
                    text = render.note(said)
            else:
                text = USAGE
        except Exception as error:
            text = error_text(error)
        await deliver(respond, client=client, channel_id=channel.channel, user_id=user, text=text,
                      response_type="ephemeral")  # fmt: skip

    async def vote(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        """A click on a paper's button: the vote, the message's live counts, a private receipt."""
        await ack()
        channel = button_channel(body)
        user = str((body.get("user") or {}).get("id", ""))
        message = str((body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts") or "")
        _, _, number = str(body["actions"][0].get("value", "")).partition(":")
        choice = int(number) if number.isdigit() else -1
        try:
            draft, before = await self._service.poll_vote(channel, message, user, choice)
        except Exception as error:
            text = error_text(error)
        else:
            text = render.note(messages.poll_vote_receipt(draft, choice, changed_from=before))
            try:
                await self._publisher.update_poll(channel, message, draft)
            except Exception as error:  # the vote counts; the counts shown catch up with the next click
                log.warning("could not update the poll's counts in %s: %s", channel.key, error)
        await deliver(respond, client=client, channel_id=channel.channel, user_id=user, text=text,
                      response_type="ephemeral", replace_original=False)  # fmt: skip
