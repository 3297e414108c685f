"""Message components: the PDF link, the vote and report buttons (stateless, so they keep working after a restart)
and the modal in which people write a community summary."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from adapters.discord import render
from adapters.discord.channels import interaction_channel
from adapters.discord.errors import reply_error
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.errors import BadInput
from bot.domain.messages import DISCUSS, summary_author, summary_saved, thread_answer
from bot.domain.model import PaperCard, VoteEvent

if TYPE_CHECKING:
    from bot.domain.ports import ChatService, Publisher

VOTE_PREFIX, REPORT_PREFIX, DISCUSS_ID = "hp:vote:", "hp:report:", "hp:discuss"
SUMMARY_MIN_CHARS = 20
MODAL_TIMEOUT = 15 * 60.0  # the interaction token's lifetime: a later submit could not be answered anyway


class HasService(Protocol):
    service: ChatService


class HasPublisher(Protocol):
    service: ChatService
    publisher: Publisher


def links_view(card: PaperCard, *, discuss: bool = False) -> discord.ui.View:
    """Under a digest post: the PDF link (votes there are reactions) and, unless the channel turned threads off,
    Discuss, which opens the card's thread."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label="PDF", url=card.paper.pdf_url))
    if discuss:
        view.add_item(DiscussButton())
    return view


def paper_view(card: PaperCard) -> discord.ui.View:
    """Under a `/paper` answer: the PDF link, 👍 / 👎, and "Report summary" when the summary shown is a stored one
    (the extractive fallback has no id: there is nothing to report). Four buttons: one action row of at most five."""
    view = links_view(card)
    view.add_item(VoteButton(1, card.paper.id))
    view.add_item(VoteButton(-1, card.paper.id))
    if card.summary.id is not None:
        view.add_item(ReportButton(card.paper.id))
    return view


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"hp:vote:(?P<value>[+-]1):(?P<paper>\S{1,80})"
):
    """A 👍 / 👎 button whose custom_id carries the vote and the paper ("hp:vote:+1:2010.00577").

    Registered once on the client (`add_dynamic_items`), so presses are handled without any stored view state.
    """

    def __init__(self, value: int, paper_id: str) -> None:
        self.value, self.paper_id = (1 if value > 0 else -1), paper_id
        emoji = "👍" if self.value > 0 else "👎"
        custom_id = f"{VOTE_PREFIX}{self.value:+d}:{paper_id}"
        super().__init__(discord.ui.Button(style=discord.ButtonStyle.secondary, emoji=emoji, custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["value"]), match["paper"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: HasService = interaction.client
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)  # the database may be slower than 3 s
            event = VoteEvent(
                channel=interaction_channel(interaction),
                user_id=str(interaction.user.id),
                message_id=str(interaction.message.id if interaction.message else interaction.id),
                value=self.value,  # type: ignore[arg-type]
                by_bot=interaction.user.bot,
                event_id=f"interaction:{interaction.id}",
                paper_id=self.paper_id,
            )
            votes = await client.service.record_vote(event)
            await interaction.followup.send(render.vote_receipt(self.value, votes), ephemeral=True)
        except Exception as error:
            await reply_error(interaction, error)


class ReportButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"hp:report:(?P<paper>\S{1,80})"):
    """The "Report summary" button under a card ("hp:report:2010.00577"): reports the summary the card shows now.

    Stateless like VoteButton. The answer is private; the engine counts one report per person and hides the summary
    at its threshold, and the card then falls back to the next source (possibly an LLM call, hence the defer).
    """

    def __init__(self, paper_id: str) -> None:
        self.paper_id = paper_id
        button: discord.ui.Button[Any] = discord.ui.Button(
            style=discord.ButtonStyle.secondary, label="Report summary", custom_id=f"{REPORT_PREFIX}{paper_id}"
        )
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReportButton:
        return cls(match["paper"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: HasService = interaction.client
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            channel, user_id = interaction_channel(interaction), str(interaction.user.id)
            card = await client.service.report_summary(self.paper_id, channel, user_id=user_id)
            await interaction.followup.send(render.report_receipt(card), ephemeral=True)
        except Exception as error:
            await reply_error(interaction, error, ref=self.paper_id)


class DiscussButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"hp:discuss"):
    """ "Discuss" under a digest card: opens the card's public thread (or finds the one open) and says where it is,
    privately. Stateless: the card is the message the button is on."""

    def __init__(self) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            style=discord.ButtonStyle.secondary, label=DISCUSS, emoji="💬", custom_id=DISCUSS_ID
        )
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DiscussButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: HasPublisher = interaction.client
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            if interaction.message is None:
                raise BadInput("this button works on a digest card")
            channel = interaction_channel(interaction)
            opened = await client.service.discuss(channel, str(interaction.message.id), client.publisher)
            where = f" <#{opened.thread_id}>" if opened.thread_id.isdigit() else ""
            await interaction.followup.send(render.content(thread_answer(opened)) + where, ephemeral=True)
        except Exception as error:
            await reply_error(interaction, error)


class SummaryModal(discord.ui.Modal):
    """`/summarize ref`: the text typed here becomes a community summary of the paper (service.add_summary)."""

    def __init__(self, service: ChatService, *, ref: str, label: str, max_chars: int) -> None:
        super().__init__(title=render.clip(f"Summarize {label}", 45), timeout=MODAL_TIMEOUT)
        self.service, self.ref = service, ref
        self.text: discord.ui.TextInput[SummaryModal] = discord.ui.TextInput(
            label="Your summary (plain text)",
            style=discord.TextStyle.paragraph,
            placeholder="What does the paper do, and why does it matter? A few sentences.",
            min_length=SUMMARY_MIN_CHARS,
            max_length=max(SUMMARY_MIN_CHARS, min(max_chars, 4000)),
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the paper may need an arXiv lookup
        user = interaction.user
        await self.service.add_summary(
            self.ref,
            interaction_channel(interaction),
            author=user.display_name,
            text=self.text.value,
            author_id=summary_author("discord", str(user.id)),  # what forget_user("discord", id) deletes
        )
        note = summary_saved(parse_arxiv_id(self.ref).id)  # saved: the reference is a good one
        await interaction.followup.send(render.content(note), ephemeral=True)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any] | None = None, /
    ) -> None:
        """A Modal's errors (discord.py calls it with two arguments; its type stub has a View's three)."""
        await reply_error(interaction, error, ref=self.ref)
