"""Embed rendering: hostile text stays inert (no pings, links or markup) and every embed fits Discord's limits."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord import render
from bot.domain.model import ChannelRef, ChannelSettings, DigestEntry, PostRecord, VoteTally
from bot.domain.text import clean_text
from tests.adapters.discord.support import card
from tests.fakes.discord_server import message_errors

HOSTILE = [
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "[click](https://evil.example)",
    "[",
    "]",
    "(",
    ")",
    "**",
    "__",
    "~~",
    "||",
    "`",
    "```",
    "> ",
    ">>> ",
    "# ",
    "-# ",
    "- ",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\u200b",
    "\ue000",
    "\ue001",
    "https://arxiv.org/abs/2010.00577",
    "<https://evil.example>",
    "<t:0:R>",
    "<#123456789012345678>",
    "</paper:123456789012345678>",
    "</hotpapers subscribe:123456789012345678>",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\u2060",
    "\u061c",
    "👩\u200d🔬",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30)), max_size=30).map("".join)
long_text = st.builds(lambda piece, n: (piece * n)[:12_000], hostile_text.filter(bool), st.integers(1, 600))
UNESCAPED_BRACKET = re.compile(r"(?<!\\)(?:\\\\)*[\[\]]")
MENTION = re.compile(r"@everyone|@here|<@[!&]?\d{17,20}>|</[^<>]+:\d+>")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\u2060\ufeff\u061c]")


def marked_up_texts(embed: dict[str, Any]) -> list[str]:
    """Where Discord renders markdown in an embed: title, description, field names and values."""
    fields = embed.get("fields", [])
    return [embed.get("title", ""), embed.get("description", "")] + [f[k] for f in fields for k in ("name", "value")]


def assert_inert_and_within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert message_errors({"embeds": [data]}) is None  # the fake's copy of Discord's checks
    assert len(embed) <= render.TOTAL and len(data.get("fields", [])) <= render.FIELDS
    footer = data.get("footer", {}).get("text", "")
    for text in [*marked_up_texts(data), footer]:
        assert not MENTION.search(text), text
        assert not CONTROL.search(text), text
    for text in marked_up_texts(data):
        assert not UNESCAPED_BRACKET.search(text), text  # so no masked link can form


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("@\u200b", "@").replace("<\u200b/", "</")


@settings(max_examples=40, deadline=None)
@given(
    title=st.one_of(hostile_text, long_text),
    abstract=st.one_of(hostile_text, long_text),
    summary=st.one_of(hostile_text, long_text),
    author=hostile_text,
    names=st.lists(hostile_text, max_size=40),
    why=st.lists(hostile_text, max_size=12),
    categories=st.lists(hostile_text, max_size=8),
)
def test_a_card_of_hostile_text_pings_nobody_links_nowhere_and_fits_the_embed_limits(
    title: str, abstract: str, summary: str, author: str, names: list[str], why: list[str], categories: list[str]
) -> None:
    posted = (PostRecord(ChannelRef("discord", "1", "3000000000000000001", "#papers"), date(2020, 10, 2)),)
    hostile = card(
        title=title,
        abstract=abstract,
        summary=summary,
        author=author or None,
        authors=tuple(names),
        why=tuple(why),
        categories=tuple(categories),
        posted=posted,
        unavailable=(title[:50],),
    )
    assert_inert_and_within_limits(render.paper_embed(hostile))
    assert_inert_and_within_limits(render.entry_embed(DigestEntry(rank=25, card=hostile, updated=True)))


@settings(max_examples=20, deadline=None)
@given(titles=st.lists(st.one_of(hostile_text, long_text), min_size=1, max_size=15), where=hostile_text)
def test_the_top_list_fits_one_embed_for_any_titles(titles: list[str], where: str) -> None:
    embed = render.top_embed([card(title=t) for t in titles], channel=ChannelRef("discord", "1", "2", where), days=7)
    assert_inert_and_within_limits(embed)
    assert len(embed.fields) == min(len(titles), render.TOP_SHOWN)


@settings(max_examples=80, deadline=None)
@given(text=hostile_text.filter(lambda t: "://" not in t))
def test_escaping_loses_no_visible_character(text: str) -> None:
    expected = clean_text(text).replace("\ue000", "").replace("\ue001", "")
    assert unescape(render.escape(text)) == expected


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(hostile_text, long_text), limit=st.integers(0, 3000))
def test_clipping_respects_the_limit_and_never_leaves_a_dangling_backslash(text: str, limit: int) -> None:
    clipped = render.clip(render.escape(text), limit)
    assert len(clipped) <= limit
    if clipped.endswith(render.ELLIPSIS):
        body = clipped.removesuffix(render.ELLIPSIS)
        assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


def test_a_masked_link_after_a_bracket_is_neutralised_which_escape_markdown_alone_misses() -> None:
    text = "see [a] and [b](https://evil.example)"
    assert "[b](https" in discord.utils.escape_markdown(text)  # the trap
    assert render.escape(text) == r"see \[a\] and \[b\](https://evil.example)"


def test_mentions_are_broken_with_a_zero_width_space() -> None:
    escaped = render.escape("@everyone look <@123456789012345678>")
    assert escaped == "@\u200beveryone look <@\u200b123456789012345678>"


def test_long_author_lists_show_ten_names_and_how_many_more() -> None:
    names = tuple(f"Author {i}" for i in range(25))
    line = render.authors_line(names)
    assert line.startswith("Author 0, Author 1") and "Author 9" in line and "Author 10" not in line
    assert line.endswith(" +15 more")


def test_a_huge_author_list_keeps_its_count_inside_the_field_limit() -> None:
    names = tuple("N" * 300 for _ in range(200))
    line = render.authors_line(names)
    assert len(line) <= render.FIELD_VALUE and line.endswith(" +190 more")


def test_the_paper_embed_links_the_title_and_names_the_summary_provenance_in_the_footer() -> None:
    posted = (PostRecord(ChannelRef("discord", "1", "3000000000000000001", "#papers"), date(2020, 10, 2)),)
    embed = render.paper_embed(card(summary="Edges go.", author="Ada", posted=posted, votes=VoteTally(3, 1)))
    data = embed.to_dict()
    assert data["url"] == "https://arxiv.org/abs/2010.00577"
    assert data["footer"]["text"] == "Community summary by Ada · arXiv:2010.00577v2"
    fields = {f["name"]: f["value"] for f in data["fields"]}
    assert fields["Summary"] == "Edges go."
    assert fields["Votes here"] == "👍 3 · 👎 1"
    assert fields["Posted"] == "in <#3000000000000000001> on 2020-10-02"
    assert fields["Categories"] == "cs.CL · cs.LG"
    assert data["description"] == "We study GNNs."


def test_a_ten_kilobyte_abstract_gets_what_the_6000_budget_leaves() -> None:
    embed = render.paper_embed(card(abstract="Attention is all you need. " * 400, summary="S" * 5000))
    assert len(embed) <= render.TOTAL and len(embed.fields[-2].value or "") <= render.FIELD_VALUE
    assert embed.description is not None and embed.description.endswith("…")
    assert len(embed.description) == render.DESCRIPTION


def test_a_digest_entry_is_ranked_and_says_when_it_is_a_new_version() -> None:
    embed = render.entry_embed(DigestEntry(rank=2, card=card(), updated=True))
    assert embed.title == "2. Interpreting Graph Neural Networks for NLP"
    assert embed.fields[0].name == "Updated" and "v2" in (embed.fields[0].value or "")
    assert embed.description == "They drop edges."


def test_message_content_is_escaped_and_cut_to_2000_characters() -> None:
    text = render.content("@everyone " * 500)
    assert len(text) <= render.CONTENT and "@everyone" not in text


def test_settings_are_listed_with_the_channel_name() -> None:
    text = render.settings_text(
        ChannelSettings(categories=("cs.LG",), keywords=("self_supervised",)),
        channel=ChannelRef("discord", "1", "2", "#papers"),
        lead="Subscribed.",
    )
    assert text.startswith("Subscribed. Digest settings for #papers:")
    assert "categories: cs.LG" in text and r"keywords: self\_supervised" in text


def test_slash_command_mentions_are_broken_so_nobody_is_offered_a_click() -> None:
    escaped = render.escape("run </hotpapers subscribe:123456789012345678> now")
    assert escaped == "run <\u200b/hotpapers subscribe:123456789012345678> now"
    assert render.plain("</paper:123456789012345678>") == "<\u200b/paper:123456789012345678>"


def test_a_title_with_nothing_visible_shows_the_arxiv_id() -> None:
    invisible = card(title="\u200b\u2066\u2069\ufeff ")
    assert render.paper_embed(invisible).title == "arXiv:2010.00577"
    assert render.entry_embed(DigestEntry(rank=2, card=invisible)).title == "2. arXiv:2010.00577"


def test_joiners_that_join_survive_and_bidi_controls_do_not() -> None:
    assert render.escape("Ti\u200btov 👩\u200d🔬 \u202eevil") == "Titov 👩\u200d🔬 evil"
    assert render.escape("می\u200cخواهم") == "می\u200cخواهم"
