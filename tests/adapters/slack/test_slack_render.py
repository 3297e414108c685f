"""Block Kit rendering: hostile text stays inert and every message stays inside Slack's limits."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from adapters.slack import render
from adapters.slack.text import clean, escape, fit, unescape
from bot.domain.model import DigestEntry
from bot.domain.text import strip_invisible
from tests.adapters.slack.support import card
from tests.fakes.slack_server import block_errors

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<#C999|general>",
    "<https://evil.example|click>",
    "&amp;",
    "&lt;!channel&gt;",
    "*bold*",
    "`code`",
    "@everyone",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\r\n",
    "|",
    ">",
    "\u2066",
    "\ufeff",
    "\u2060",
    "\u200b",
    "https://evil.example",
    "#general",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)), max_size=30).map("".join)
long_text = st.builds(lambda piece, n: piece * n, hostile_text.filter(bool), st.integers(1, 400))
OUR_LINK = re.compile(r"<https://arxiv\.org/(?:abs|pdf)/[0-9.v]+\|[^<>]*>")


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in the blocks (section text, context elements)."""
    found = []
    for block in blocks:
        objects = [block.get("text"), *(block.get("elements") or []), *(block.get("fields") or [])]
        found += [o["text"] for o in objects if isinstance(o, dict) and o.get("type") == "mrkdwn"]
    return found


def assert_inert_and_within_limits(blocks: list[dict[str, Any]]) -> None:
    assert block_errors(blocks) == []
    for block in blocks:
        Block.parse(block).validate_json()  # slack_sdk's own limit validators
    for text in mrkdwn_texts(blocks):
        assert "<" not in OUR_LINK.sub("", text) and ">" not in OUR_LINK.sub("", text), text
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u200b\u202a-\u202e\u2066-\u2069\u2060\ufeff]", text)
    for block in blocks:
        objects = [block.get("text"), *(block.get("elements") or []), *(block.get("fields") or [])]
        assert all(o.get("verbatim") is True for o in objects if isinstance(o, dict) and o.get("type") == "mrkdwn")


@settings(max_examples=40, deadline=None)
@given(
    title=hostile_text,
    abstract=st.one_of(hostile_text, long_text),
    summary=st.one_of(hostile_text, long_text),
    author=hostile_text,
    names=st.lists(hostile_text, max_size=40),
    why=st.lists(hostile_text, max_size=12),
)
def test_a_card_of_hostile_text_mentions_nobody_and_fits_block_kit(
    title: str, abstract: str, summary: str, author: str, names: list[str], why: list[str]
) -> None:
    hostile = card(
        title=title, abstract=abstract, summary=summary, author=author or None, authors=tuple(names), why=tuple(why)
    )
    assert_inert_and_within_limits(render.paper_blocks(hostile, rank=3, updated=True))
    fallback = render.fallback_text(hostile, rank=3)
    assert "<" not in fallback and ">" not in fallback and len(fallback) < 400


@settings(max_examples=25, deadline=None)
@given(titles=st.lists(st.one_of(hostile_text, long_text), min_size=1, max_size=20))
def test_the_hot_list_stays_under_fifty_blocks_for_any_titles(titles: list[str]) -> None:
    cards = [card(title=title, why=("HF 41", title)) for title in titles]
    blocks = render.hot_blocks(cards, days=7)
    assert_inert_and_within_limits(blocks)
    assert len(blocks) == 1 + 2 * len(cards)


def test_a_ten_kilobyte_abstract_is_cut_at_the_section_limit_with_a_read_on_arxiv_link() -> None:
    abstract = ("Transformers & <attention> are all you need. " * 250)[:10_000]
    blocks = render.paper_blocks(card(abstract=abstract))
    section = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "*Abstract*" in b["text"]["text"])
    assert len(section) <= 3000
    assert section.endswith("… <https://arxiv.org/abs/2010.00577|read on arXiv>")
    body = unescape(section.removeprefix("*Abstract*\n").rsplit("… <", 1)[0])
    assert abstract.startswith(body) and len(section) > 2900
    assert_inert_and_within_limits(blocks)


def test_a_short_abstract_is_shown_whole_without_a_cut_marker() -> None:
    blocks = render.paper_blocks(card(abstract="Small & simple."))
    assert {"type": "mrkdwn", "text": "*Abstract*\nSmall &amp; simple.", "verbatim": True} in [
        b.get("text") for b in blocks
    ]


def test_the_card_carries_title_authors_links_summary_provenance_why_and_vote_buttons() -> None:
    blocks = render.paper_blocks(card(title="Attention", summary="Short.", author="bob", why=("HF 41", "HN 12 pts")))
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Attention", "emoji": True}}
    flat = str(blocks)
    assert "<https://arxiv.org/abs/2010.00577|arXiv:2010.00577v2>" in flat and "/pdf/2010.00577v2|PDF>" in flat
    assert "Summary: Community summary by bob" in flat and "🔥 HF 41 · HN 12 pts" in flat
    buttons = blocks[-1]["elements"]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        ("hp_vote_up", "2010.00577", "👍 3"),
        ("hp_vote_down", "2010.00577", "👎 1"),
    ]


def test_a_digest_entry_is_titled_with_its_rank_and_marks_an_updated_version() -> None:
    blocks = render.entry_blocks(DigestEntry(rank=2, card=card(title="Attention"), updated=True))
    assert blocks[0]["text"]["text"] == "#2 · Attention"
    assert "*updated version*" in str(blocks)


def test_an_overlong_title_is_cut_to_the_150_character_header_limit() -> None:
    header = render.paper_blocks(card(title="x" * 500))[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


def test_escape_touches_only_the_three_control_characters() -> None:
    assert escape("a & b < c > d * _ ~ ` @here") == "a &amp; b &lt; c &gt; d * _ ~ ` @here"


@given(st.text(alphabet="&<>ab", max_size=60), st.integers(0, 40))
def test_fit_never_splits_an_entity_and_respects_the_limit(text: str, limit: int) -> None:
    cut = fit(text, limit, suffix=" more")
    assert len(cut) <= limit
    assert not re.search(r"&(?!amp;|lt;|gt;)", cut)


def test_the_summary_modal_keeps_the_input_within_slacks_3000_character_cap() -> None:
    modal = render.summary_modal("2010.00577", metadata="{}", max_chars=10_000)
    assert modal["blocks"][1]["element"]["max_length"] == 3000
    assert block_errors(modal["blocks"]) == []


def test_a_title_with_nothing_visible_gets_the_arxiv_id_as_its_header() -> None:
    invisible = card(title="\u200b\u2066\u2069\ufeff ")
    assert render.paper_blocks(invisible)[0]["text"]["text"] == "arXiv:2010.00577"
    assert render.paper_blocks(invisible, rank=2)[0]["text"]["text"] == "#2 · arXiv:2010.00577"
    assert render.fallback_text(invisible).startswith("arXiv:2010.00577 ")
    assert "|arXiv:2010.00577>" in render.hot_blocks([invisible], days=7)[1]["text"]["text"]


@settings(max_examples=8, deadline=None)
@given(titles=st.lists(long_text, min_size=20, max_size=20), why=long_text)
def test_twenty_long_hostile_cards_stay_under_slacks_message_size(titles: list[str], why: str) -> None:
    cards = [card(title=t, authors=(why,) * 30, why=(why,)) for t in titles]
    blocks = render.hot_blocks(cards, days=7)
    assert_inert_and_within_limits(blocks)
    size = sum(len(o["text"]) for b in blocks for o in [b.get("text"), *(b.get("elements") or [])] if o)
    assert size <= render.MESSAGE_LIMIT


def test_names_and_titles_with_a_few_accents_render_as_before() -> None:
    """Decomposed accents (e + U+0301) are composed by the core's normalisation, as before the cap."""
    names = ("Jose\u0301 Garci\u0301a", "Kurt Go\u0308del")
    accented = card(title="Erdo\u030bs\u2013Re\u0301nyi graphs", authors=names)
    hot = render.hot_blocks([accented], days=7)[1]["text"]["text"]
    assert "Erdős–Rényi graphs" in hot and "José García, Kurt Gödel" in hot
    blocks = render.paper_blocks(accented)
    assert blocks[0]["text"]["text"] == "Erdős–Rényi graphs"
    assert blocks[1]["elements"][0]["text"].startswith("José García, Kurt Gödel")
    assert render.fallback_text(accented).startswith("Erdős–Rényi graphs ")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(max_codepoint=0x7F))
    | st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")))
    | st.text(),
    single_line=st.booleans(),
)
def test_clean_drops_exactly_the_control_and_invisible_characters(text: str, single_line: bool) -> None:
    """`clean` takes a shortcut for ASCII and printable text; every way keeps what the rule keeps, character by
    character."""
    assert clean(text, single_line=single_line) == _cleaned_by_the_rule(text, single_line=single_line)


def _cleaned_by_the_rule(text: str, *, single_line: bool) -> str:
    """The rule spelled out one character at a time: newlines kept (or blanks), tabs kept, format characters that
    `strip_invisible` keeps kept, any other control character dropped; then blanks folded and lines trimmed."""
    kept = ""
    for char in strip_invisible(text.replace("\r\n", "\n")):
        category = unicodedata.category(char)
        if char == "\n":
            kept += " " if single_line else "\n"
        elif char == "\t" or category == "Cf" or not category.startswith("C"):
            kept += char
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in kept.split("\n")).strip()
