from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.model import Summary
from bot.domain.summaries import best_summary, extractive_summary, split_sentences
from bot.domain.text import clean_text, shorten
from bot.runtime.sample import sample_days

NOW = datetime(2020, 11, 7, tzinfo=UTC)


def test_sentences_survive_abbreviations_decimals_latex_and_line_breaks() -> None:
    abstract = (
        "We study parts of graphs (e.g. syntactic trees) as in Smith et al. 2019.\n  Accuracy rises\nby 3.5 "
        "points, i.e. a lot. The bound is $O(n \\log n). Really$ tight. Finally, we release code."
    )
    assert split_sentences(abstract) == [
        "We study parts of graphs (e.g. syntactic trees) as in Smith et al. 2019.",
        "Accuracy rises by 3.5 points, i.e. a lot.",
        "The bound is $O(n \\log n). Really$ tight.",
        "Finally, we release code.",
    ]


def test_extractive_summary_keeps_original_order_and_prefers_contribution_sentences() -> None:
    abstract = (
        "Deep learning is popular. Many methods exist for many tasks. In this work, we introduce a post-hoc method "
        "for interpreting graph neural networks. Experiments use two datasets. We show that most graph edges can "
        "be dropped without hurting graph neural networks."
    )
    summary = extractive_summary(abstract, created=NOW, sentences=2)
    assert summary.source == "extractive"
    assert summary.text == (
        "In this work, we introduce a post-hoc method for interpreting graph neural networks. "
        "We show that most graph edges can be dropped without hurting graph neural networks."
    )


def test_extractive_summary_of_every_sample_abstract_is_deterministic_and_bounded() -> None:
    for day in sample_days():
        for paper in day.papers:
            first = extractive_summary(paper.abstract, created=NOW, sentences=2, max_chars=600)
            again = extractive_summary(paper.abstract, created=NOW, sentences=2, max_chars=600)
            assert first == again
            assert 0 < len(first.text) <= 600
            assert first.text[:40] in clean_text(paper.abstract) or first.text.endswith("…")


def test_empty_abstract_gives_a_placeholder_not_an_error() -> None:
    assert extractive_summary("", created=NOW).text == "(no abstract)"


def _s(source: str, votes: int = 0, minutes: int = 0, text: str = "text") -> Summary:
    return Summary(text=text, source=source, created=NOW + timedelta(minutes=minutes), votes=votes)


def test_community_beats_hugging_face_beats_semantic_scholar_beats_llm() -> None:
    assert best_summary([_s("llm"), _s("s2"), _s("hf"), _s("community")]).source == "community"  # type: ignore[union-attr]
    assert best_summary([_s("llm"), _s("s2"), _s("hf")]).source == "hf"  # type: ignore[union-attr]
    assert best_summary([_s("llm"), _s("s2")]).source == "s2"  # type: ignore[union-attr]
    assert best_summary([_s("extractive")]) is None


def test_the_most_upvoted_community_summary_wins_then_the_oldest() -> None:
    older = _s("community", votes=2, minutes=0, text="older")
    newer = _s("community", votes=2, minutes=5, text="newer")
    top = _s("community", votes=5, minutes=9, text="top")
    assert best_summary([older, newer, top]).text == "top"  # type: ignore[union-attr]
    assert best_summary([newer, older]).text == "older"  # type: ignore[union-attr]


@given(st.text(max_size=3000), st.integers(10, 500))
def test_shorten_always_fits(text: str, limit: int) -> None:
    assert len(shorten(text, limit)) <= limit


@given(st.text(max_size=2000))
def test_clean_text_removes_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in cleaned)
