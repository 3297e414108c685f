"""bot.domain.messages: the words every adapter shows, as plain text (the adapters' tests check how each renders
them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain import messages
from bot.domain.errors import BadInput, ConfigError, NotFound, PermissionDenied, UpstreamUnavailable
from bot.domain.model import (
    ChannelRef,
    ChannelSettings,
    Paper,
    PaperCard,
    Pause,
    Roundup,
    RoundupEntry,
    Summary,
    VoteTally,
)

WHEN = datetime(2020, 10, 1, tzinfo=UTC)


def card(summary: Summary) -> PaperCard:
    """A card showing `summary`; nothing else on it matters to these words."""
    paper = Paper("2010.00577", 1, "T", ("A",), "x", ("cs.LG",), "cs.LG", WHEN, WHEN)
    return PaperCard(paper, summary, votes=VoteTally(1, 0))


@pytest.mark.parametrize(
    ("error", "ref", "text"),
    [
        (UpstreamUnavailable("arxiv timed out"), None, messages.UNREACHABLE),
        (
            NotFound("no paper 2101.99999 in the local store (arXiv look-ups are off)"),
            "2101.99999",
            "no paper 2101.99999 in the local store (arXiv look-ups are off)",
        ),
        (NotFound(), " 2101.99999 ", "arXiv has no paper 2101.99999."),
        (BadInput("days must be 1 to 365 (got '0')"), None, "days must be 1 to 365 (got '0')"),
        (PermissionDenied("You can't do that here."), None, "You can't do that here."),
        (ConfigError(), None, messages.UNEXPECTED),
        (RuntimeError("a bug"), None, None),
    ],
)
def test_the_engines_errors_have_their_words_and_anything_else_none(
    error: BaseException, ref: str | None, text: str | None
) -> None:
    assert messages.error_text(error, ref=ref) == text


def test_a_sentence_starts_with_a_capital_unless_it_starts_with_a_name() -> None:
    assert messages.sentence("days must be …") == "Days must be …"
    assert messages.sentence("arXiv has no paper 1") == "arXiv has no paper 1"


def test_vote_receipts_say_what_happened_and_the_tally_now() -> None:
    tally = VoteTally(2, 1)
    assert messages.votes_line(tally) == "👍 2 · 👎 1"
    assert messages.vote_receipt(-1, tally) == "Your 👎 is counted. Now 👍 2 · 👎 1 in this channel."
    assert messages.vote_receipt(1, tally, removed=True) == "Your 👍 is taken back. Now 👍 2 · 👎 1 in this channel."
    assert messages.vote_receipt(1, tally, paper_id="2010.00577").startswith("Your 👍 on arXiv:2010.00577 is counted")
    assert messages.vote_receipt(1, None) == messages.NOT_COUNTED


def test_the_authors_line_keeps_the_count_of_the_rest_apart_from_the_names() -> None:
    line = messages.authors_line([f"Author\u202e {n}" for n in range(12)], shown=10)
    assert line.names.endswith("Author 9") and line.more == " +2 more" and "\u202e" not in line.names
    assert str(line) == line.names + " +2 more"
    assert str(messages.authors_line([], shown=3)) == messages.NO_AUTHORS


def test_notes_name_the_summary_the_card_shows_now() -> None:
    shown = card(Summary("s", "community", WHEN, author="ada"))
    assert messages.reported_note(shown) == "Thanks — reported. The card now shows: Community summary by ada"
    assert messages.regenerated_note(shown).startswith("Asked the LLM again. The card now shows: Community")


def test_settings_rows_put_a_pause_and_its_fix_first() -> None:
    pause = Pause("not a member of #ml", "invite the bot", "channel", datetime(2026, 1, 1, tzinfo=UTC))
    rows = messages.settings_rows(ChannelSettings(paused=pause, keywords=("rl",)))
    assert rows[0] == (
        "paused",
        "not a member of #ml — to fix it: invite the bot (then subscribe again; retried daily)",
    )
    assert dict(rows)["keywords"] == "rl" and dict(rows)["categories"] == "(any)"
    assert messages.describe(ChannelSettings(subscribed=False)).splitlines()[0] == "subscribed: no"


def test_the_thanks_for_a_summary_names_the_paper_and_where_people_vote_by_number_the_summary() -> None:
    assert messages.summary_saved("2010.00577").startswith("Thanks! Your summary of arXiv:2010.00577 is saved.")
    assert messages.summary_saved("2010.00577", number=3).startswith("Thanks! Your summary #3 of arXiv:2010.00577")


def test_a_summary_author_is_kept_under_the_key_forget_user_deletes() -> None:
    assert messages.summary_author("slack", "U1") == "slack:U1"


def test_a_roundup_counts_its_papers_in_words() -> None:
    lab = ChannelRef("console", "local", "lab")
    one = card(Summary("s", "extractive", datetime(2020, 11, 6, tzinfo=UTC)))
    entries = (RoundupEntry(1, one, 2, 1, "m1"),)
    week = Roundup(lab, date(2020, 11, 1), date(2020, 11, 7), entries)
    assert messages.roundup_result("posted", week).endswith("(1 paper).")
    two = Roundup(lab, week.first_day, week.last_day, entries * 2)
    assert messages.roundup_result("posted", two).endswith("(2 papers).")
