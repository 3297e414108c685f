"""Interactive parts of a card: the 👍 / 👎 and "Report summary" buttons, and the /summarize modal's submission.

A button carries the paper id in its `value`, so it counts even on a card that is not a digest message
(`/paper` answers through response_url and has no message id the engine knows).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from adapters.slack.errors import error_text
from adapters.slack.reply import deliver
from bot.domain import messages
from bot.domain.errors import BadInput
from bot.domain.messages import summary_author
from bot.domain.model import ChannelRef, VoteEvent, VoteValue

if TYPE_CHECKING:
    from bot.domain.ports import ChatService, Publisher

log = logging.getLogger(__name__)


async def _answer(respond: AsyncRespond, client: AsyncWebClient, body: dict[str, Any], **message: Any) -> None:
    """Answer through the action's response_url; if Slack refuses, the user is told privately (`deliver`)."""
    channel_id, user_id = button_channel(body).channel, str((body.get("user") or {}).get("id", ""))
    await deliver(respond, client=client, channel_id=channel_id, user_id=user_id, **message)


def button_channel(body: dict[str, Any]) -> ChannelRef:
    """Where a `block_actions` payload's button was pressed."""
    container = body.get("container") or {}
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or ""
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    return ChannelRef("slack", str(team), str(channel))


def button_vote(body: dict[str, Any], *, value: VoteValue) -> VoteEvent:
    """The vote a `block_actions` payload stands for (paper id from the button, message from the container)."""
    action = body["actions"][0]
    container = body.get("container") or {}
    return VoteEvent(
        channel=button_channel(body),
        user_id=str(body["user"]["id"]),
        message_id=str(container.get("message_ts") or (body.get("message") or {}).get("ts") or ""),
        value=value,
        paper_id=str(action.get("value", "")),
    )


class CardActions:
    def __init__(
        self, service: ChatService, *, summary_wait_seconds: float, publisher: Publisher | None = None
    ) -> None:
        self._service = service
        self._wait = summary_wait_seconds
        self._publisher = publisher

    def register(self, app: AsyncApp) -> None:
        app.action(render.DISCUSS)(self.discuss)
        app.action(render.VOTE_UP)(self.vote_up)
        app.action(render.VOTE_DOWN)(self.vote_down)
        app.action(render.REPORT)(self.report)
        app.view(render.SUMMARY_CALLBACK)(self.summary_submitted)

    async def vote_up(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await self._vote(ack, body, client, respond, value=1)

    async def vote_down(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await self._vote(ack, body, client, respond, value=-1)

    async def _vote(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, *, value: VoteValue
    ) -> None:
        await ack()
        vote = button_vote(body, value=value)
        try:
            tally = await self._service.record_vote(vote)
        except Exception as error:
            await _answer(
                respond, client, body, text=error_text(error), response_type="ephemeral", replace_original=False
            )
            return
        if tally is None:
            return
        text = render.note(messages.vote_receipt(value, tally, paper_id=vote.paper_id))
        await _answer(respond, client, body, text=text, response_type="ephemeral", replace_original=False)

    async def discuss(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        """Discuss on a digest card: the bot starts the card's thread with its short reply (or finds it) and tells
        the person privately. The card is the message the button is on."""
        await ack()
        container = body.get("container") or {}
        message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        try:
            if self._publisher is None or not message_ts:
                raise BadInput("this button works on a digest card")
            opened = await self._service.discuss(button_channel(body), message_ts, self._publisher)
        except Exception as error:
            text = error_text(error)
        else:
            text = render.note(messages.thread_answer(opened))
        await _answer(respond, client, body, text=text, response_type="ephemeral", replace_original=False)

    async def report(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        """Ack first: once the summary is hidden the card falls back to the next source, maybe an LLM call."""
        await ack()
        paper_id, user_id = str(body["actions"][0].get("value", "")), str(body["user"]["id"])
        try:
            card = await self._service.report_summary(paper_id, button_channel(body), user_id=user_id)
        except Exception as error:
            await _answer(
                respond,
                client,
                body,
                text=error_text(error, ref=paper_id),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        text = render.note(messages.reported_note(card))
        await _answer(respond, client, body, text=text, response_type="ephemeral", replace_original=False)

    async def summary_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Save within the ack window when we can (so a bad text is shown in the modal), else ack and report later."""
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            state = view["state"]["values"][render.SUMMARY_BLOCK][render.SUMMARY_ACTION]
            ref, channel = str(meta["ref"]), ChannelRef("slack", str(meta["team"]), str(meta["channel"]))
        except (KeyError, TypeError, ValueError):
            log.warning("summary submission without the expected metadata or field")
            await ack()
            return
        user = body.get("user") or {}
        author = str(user.get("name") or user.get("username") or user.get("id") or "someone")
        text, author_id = str(state.get("value") or ""), summary_author("slack", str(user.get("id")))
        saving = asyncio.ensure_future(
            self._service.add_summary(ref, channel, author=author, text=text, author_id=author_id)
        )
        done, _ = await asyncio.wait({saving}, timeout=self._wait)
        if done and isinstance(saving.exception(), BadInput):
            await ack(response_action="errors", errors={render.SUMMARY_BLOCK: str(saving.exception())[:300]})
            return
        await ack()
        try:
            await saving
        except Exception as error:
            message = error_text(error, ref=ref)
        else:
            message = render.note(messages.summary_saved(ref))
        if meta.get("response_url"):
            hook = AsyncWebhookClient(str(meta["response_url"]))
            await deliver(
                hook.send,
                client=client,
                channel_id=channel.channel,
                user_id=str(user.get("id", "")),
                text=message,
                response_type="ephemeral",
            )
