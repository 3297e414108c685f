"""Discord, Slack and the console say the same things: the words come from bot.domain.messages, each adapter only lays
them
out (and escapes them) for its platform."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.console.render import authors_line as console_authors
from adapters.discord import render as discord_render
from adapters.discord.errors import message_for
from adapters.slack import render as slack_render
from adapters.slack.errors import error_text
from bot.domain import messages
from bot.domain.errors import BadInput, HotPapersError, NotFound, UpstreamUnavailable
from bot.domain.model import ChannelRef, ChannelSettings, Pause
from tests.adapters.slack.support import card

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
PAUSED = ChannelSettings(
    categories=("cs.LG", "cs.CL"),
    keywords=("diffusion",),
    authors=("Titov",),
    top_n=4,
    subscribed=True,
    paused=Pause("hotpapers is not a member of #ml", "invite @hotpapers to #ml", "channel", SINCE),
)


def test_both_chat_adapters_show_every_settings_row_in_the_same_words() -> None:
    discord_lines = discord_render.settings_text(PAUSED, channel=ChannelRef("discord", "1", "2", "#ml")).splitlines()
    (_, body) = slack_render.settings_blocks(PAUSED, heading="Settings")
    slack_lines = body["text"]["text"].splitlines()
    rows = messages.settings_rows(PAUSED)
    assert rows[0][0] == "paused" and len(discord_lines) == len(rows) + 1 and len(slack_lines) == len(rows)
    for (label, value), on_discord, on_slack in zip(rows, discord_lines[1:], slack_lines, strict=True):
        assert discord_render.content(f"{label}: {value}") == on_discord
        assert on_slack == f"*{label.capitalize()}:* {value}"


@pytest.mark.parametrize(
    "error",
    [
        BadInput("days must be 1 to 365 (got '0')"),
        NotFound("no paper 2101.99999 in the local store (arXiv look-ups are off)"),
        UpstreamUnavailable("timed out"),
        HotPapersError(),
    ],
)
def test_the_engines_errors_read_the_same_on_discord_and_slack(error: HotPapersError) -> None:
    words = messages.error_text(error, ref="2101.99999")
    assert words is not None
    assert message_for(error, ref="2101.99999") == messages.sentence(words)  # Discord starts with a capital
    assert error_text(error, ref="2101.99999") == words.replace("&", "&amp;").replace("<", "&lt;")


def test_the_votes_and_authors_lines_are_the_same_everywhere() -> None:
    many = card(authors=tuple(f"Author {n}" for n in range(12)))
    assert discord_render.authors_line(many.paper.authors) == str(messages.authors_line(many.paper.authors, shown=10))
    assert console_authors(many, 3) == "Author 0, Author 1, Author 2 +9 more"
    blocks = slack_render.paper_blocks(many)
    assert blocks[1]["elements"][0]["text"].startswith("Author 0, Author 1") and "+4 more" in str(blocks[1])
    hot = slack_render.hot_blocks([many], days=7)
    assert messages.votes_line(many.votes) in hot[1]["text"]["text"]
    assert (
        discord_render.top_embed([many], channel=ChannelRef("discord", "1", "2"), days=7)
        .fields[0]
        .value.startswith(messages.votes_line(many.votes))
    )
