"""The one rule for user-visible text (bot.domain.text.strip_invisible): bidi controls and invisible format characters
go,
joiners that join stay. Properties over any text, and the cases people meet."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.text import MAX_MARKS, ZWJ, ZWNJ, clean_text, display_title, stream_safe, strip_invisible

BANNED = (
    "\u2060\ufeff\u061c\u200b\u200e\u200f"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)
PIECES = [
    *BANNED,
    ZWJ,
    ZWNJ,
    "👩",
    "🔬",
    "\ufe0f",
    "🏽",
    "م",
    "ی",
    "क",
    "्",
    "a",
    " ",
    "\n",
    "🏴",
    "\U000e0067",
    "\U000e007f",
    "\u0600",
    "1",
]
mixed = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=40).map("".join)


def not_format(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


@settings(max_examples=300, deadline=None)
@given(text=mixed)
def test_no_bidi_control_or_invisible_format_character_survives(text: str) -> None:
    assert not set(strip_invisible(text)) & set(BANNED)
    assert not set(clean_text(text)) & set(BANNED)


@settings(max_examples=300, deadline=None)
@given(text=mixed)
def test_stripping_is_idempotent_and_keeps_every_other_character_in_order(text: str) -> None:
    once = strip_invisible(text)
    assert strip_invisible(once) == once
    assert not_format(once) == not_format(text)
    assert clean_text(clean_text(text)) == clean_text(text)


@settings(max_examples=300, deadline=None)
@given(text=mixed)
def test_a_joiner_survives_only_where_it_joins(text: str) -> None:
    out = strip_invisible(text)
    for index, char in enumerate(out):
        if char in (ZWJ, ZWNJ):
            assert 0 < index < len(out) - 1
            around = (out[index - 1], out[index + 1])
            if char == ZWNJ:
                assert all(unicodedata.category(c)[0] in "LM" for c in around)
            else:
                assert all(unicodedata.category(c) == "So" or c in "\ufe0f\u20e3" or "🏻" <= c <= "🏿" for c in around)


def test_the_cases_people_meet() -> None:
    assert clean_text("Ti\u200btov") == "Titov"  # a zero-width space hiding in a name
    assert clean_text("\u202eevil.exe\u202c txt") == "evil.exe txt"  # a right-to-left override
    assert clean_text("\ufeffGraph\u2060Neural") == "GraphNeural"
    assert clean_text("scientist 👩\u200d🔬 at work") == "scientist 👩\u200d🔬 at work"  # one emoji, kept whole
    assert clean_text("می\u200cخواهم") == "می\u200cخواهم"  # Persian: the ZWNJ is spelling
    assert clean_text("\u200dstray\u200c") == "stray"
    assert clean_text("Hello \u2066world\u2069") == "Hello world"
    flag = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # Scotland
    assert clean_text(f"go {flag}") == f"go {flag}"


def test_a_title_with_nothing_visible_falls_back_to_the_arxiv_id() -> None:
    assert display_title("\u200b\u2066 \u2069\ufeff", "2010.00577") == "arXiv:2010.00577"
    assert display_title("  A  title ", "2010.00577") == "A title"


def _longest_run_of_marks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if unicodedata.combining(char) else 0
        longest = max(longest, run)
    return longest


def test_stacked_accents_reach_normalisation_in_runs_of_at_most_thirty_on_every_platform(monkeypatch: Any) -> None:
    """Normalising a run of n combining marks costs n² in CPython: 40,000 stacked accents in a title or an author
    name took seconds per render. `clean_text` cuts each run to `MAX_MARKS` (Unicode's stream-safe limit) before it
    normalises, so every renderer — Discord's embeds, the console's panel, Slack's blocks — works in linear time:
    a spy sees no longer run reach `unicodedata.normalize`."""
    from adapters.console import render as console
    from adapters.discord import render as discord
    from adapters.slack import render as slack
    from tests.fakes.cards import card

    normalised: list[str] = []
    real = unicodedata.normalize

    def spy(form: str, text: str) -> str:
        normalised.append(text)
        return real(form, text)  # type: ignore[arg-type]

    monkeypatch.setattr(unicodedata, "normalize", spy)
    zalgo = "Gödel" + "\u0301\u0316" * 20_000 + " Escher"
    hostile = card(title=zalgo, authors=(zalgo, "Ada Lovelace", zalgo))
    embed = discord.paper_embed(hostile)
    slack.paper_blocks(hostile)
    slack.hot_blocks([hostile], days=7)
    console.paper_panel(hostile)
    assert normalised and max(_longest_run_of_marks(text) for text in normalised) == MAX_MARKS
    assert embed.title is not None and embed.title.endswith(" Escher")
    assert clean_text(zalgo).startswith("Göde") and _longest_run_of_marks(clean_text(zalgo)) <= MAX_MARKS


def test_stream_safe_keeps_runs_up_to_the_limit_and_real_text_unchanged() -> None:
    assert stream_safe("a" + "\u0301" * MAX_MARKS) == "a" + "\u0301" * MAX_MARKS
    assert stream_safe("a" + "\u0301" * (MAX_MARKS + 5) + "b\u0301") == "a" + "\u0301" * MAX_MARKS + "b\u0301"
    for real in ("Erdo\u030bs\u2013Re\u0301nyi", "Nguyễn Thị Minh Khai", "Kurt Gödel", "plain ascii"):
        assert stream_safe(real) is real
    assert clean_text("Jose\u0301 Garci\u0301a") == "José García"
