"""Ranking properties from DESIGN §2, each a test, plus the seeds anchor."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.model import ChannelSettings, Paper, Signal, VoteTally
from bot.domain.ranking import Candidate, RankingWeights, learn_taste, rank
from bot.runtime.sample import TWEETS, sample_days, tweets_signal

NOW = datetime(2020, 11, 7, 9, tzinfo=UTC)
DAY = date(2020, 11, 6)
WEIGHTS = RankingWeights(signal_weights={"hf": 1.0, "hn": 0.5})


def paper(pid: str, **fields: object) -> Paper:
    base = Paper(
        id=pid,
        version=1,
        title=f"Paper {pid}",
        authors=("Ada Lovelace", "Ivan Titov"),
        abstract="We study graph neural networks.",
        categories=("cs.LG",),
        primary_category="cs.LG",
        published=NOW - timedelta(days=1),
        updated=NOW - timedelta(days=1),
        announced=DAY,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def hf(value: float) -> Signal:
    return Signal("hf", value, f"HF {value:g}", NOW)


def order(candidates: list[Candidate], settings: ChannelSettings | None = None, **kw: object) -> list[str]:
    return [r.paper.id for r in rank(candidates, settings or ChannelSettings(), WEIGHTS, NOW, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", sample_days(), ids=lambda s: str(s.day))
def test_with_only_tweets_the_order_is_the_hot_papers_posts_own_order(sample: object) -> None:
    weights = RankingWeights(signal_weights={TWEETS: 1.0})
    at = datetime.combine(sample.day, datetime.min.time(), tzinfo=UTC)  # type: ignore[attr-defined]
    candidates = [
        Candidate(p, (tweets_signal(sample.tweets[p.id], at),) if sample.tweets[p.id] else ())  # type: ignore[attr-defined]
        for p in reversed(sample.papers)  # type: ignore[attr-defined]
    ]
    ranked = rank(candidates, ChannelSettings(), weights, at + timedelta(hours=30))
    assert [r.paper.id for r in ranked] == [p.id for p in sample.papers]  # type: ignore[attr-defined]


@given(up=st.integers(0, 50), down=st.integers(0, 50), extra=st.integers(1, 20), signal=st.floats(0, 1e5))
def test_more_net_upvotes_rank_higher_all_else_equal(up: int, down: int, extra: int, signal: float) -> None:
    a = Candidate(paper("2011.00001"), (hf(signal),), VoteTally(up + extra, down))
    b = Candidate(paper("2011.00002"), (hf(signal),), VoteTally(up, down))
    assert order([b, a]) == ["2011.00001", "2011.00002"]


@given(down=st.integers(1, 50), signal=st.floats(0, 1e5))
def test_downvotes_demote(down: int, signal: float) -> None:
    voted = Candidate(paper("2011.00001"), (hf(signal),), VoteTally(0, down))
    plain = Candidate(paper("2011.00002"), (hf(signal),))
    assert order([voted, plain]) == ["2011.00002", "2011.00001"]


def test_older_papers_decay() -> None:
    old = Candidate(paper("2011.00001", announced=DAY - timedelta(days=3)), (hf(50),))
    new = Candidate(paper("2011.00002"), (hf(50),))
    ranked = rank([old, new], ChannelSettings(), WEIGHTS, NOW)
    assert [r.paper.id for r in ranked] == ["2011.00002", "2011.00001"]
    assert ranked[0].score - ranked[1].score == pytest.approx(3 * 24 / WEIGHTS.half_life_hours * 0.6931, rel=1e-3)


def test_papers_already_posted_in_the_channel_are_left_out_and_new_versions_flagged_updated() -> None:
    posted = Candidate(paper("2011.00001"), (hf(500),), posted_version=1)
    revised = Candidate(paper("2011.00002", version=2), (hf(10),), posted_version=1)
    fresh = Candidate(paper("2011.00003"), (hf(1),))
    ranked = rank([posted, revised, fresh], ChannelSettings(), WEIGHTS, NOW)
    assert [(r.paper.id, r.updated) for r in ranked] == [("2011.00002", True), ("2011.00003", False)]
    assert "updated to v2" in ranked[0].why


def test_category_filter_accepts_exact_categories_and_whole_archives() -> None:
    lg = Candidate(paper("2011.00001", categories=("cs.LG",)))
    th = Candidate(paper("2011.00002", categories=("hep-th",)))
    gt = Candidate(paper("2011.00003", categories=("math.GT", "math.AG")))
    assert order([lg, th, gt], ChannelSettings(categories=("cs.LG",))) == ["2011.00001"]
    assert order([lg, th, gt], ChannelSettings(categories=("math", "hep-th"))) == ["2011.00002", "2011.00003"]


def test_keywords_narrow_negative_keywords_exclude_and_followed_authors_get_through() -> None:
    diffusion = Candidate(paper("2011.00001", title="Diffusion models", authors=("A B",)))
    gnn = Candidate(paper("2011.00002", title="Graphs", authors=("A B",)))
    titov = Candidate(paper("2011.00003", title="Parsing", authors=("Ivan Titov",)))
    survey = Candidate(paper("2011.00004", title="A survey of diffusion", authors=("A B",)))
    settings = ChannelSettings(keywords=("diffusion",), negative_keywords=("survey",), authors=("Titov",))
    ranked = rank([diffusion, gnn, titov, survey], settings, WEIGHTS, NOW)
    assert sorted(r.paper.id for r in ranked) == ["2011.00001", "2011.00003"]
    why = {r.paper.id: r.why for r in ranked}
    assert "follows: Titov" in why["2011.00003"] and "matches: diffusion" in why["2011.00001"]


def test_keyword_match_is_on_whole_words() -> None:
    assert order([Candidate(paper("2011.00001", title="Transformers"))], ChannelSettings(keywords=("transform",))) == []


def test_followed_author_outranks_an_equal_paper() -> None:
    a = Candidate(paper("2011.00001", authors=("Nicola De Cao",)), (hf(10),))
    b = Candidate(paper("2011.00002", authors=("Someone Else",)), (hf(10),))
    assert order([a, b], ChannelSettings(authors=("nicola de cao",))) == ["2011.00001", "2011.00002"]


def test_why_names_every_term_that_moved_the_paper() -> None:
    c = Candidate(paper("2011.00001"), (hf(41), Signal("hn", 120, "HN 120 pts", NOW)), VoteTally(3, 1))
    (ranked,) = rank([c], ChannelSettings(authors=("Titov",)), WEIGHTS, NOW, taste={"cs.LG": 0.4})
    assert ranked.why == ("HF 41", "HN 120 pts", "👍3 👎1 here", "follows: Titov", "taste +0.4 cs.LG")


def test_a_signal_with_zero_weight_neither_counts_nor_shows() -> None:
    weights = RankingWeights(signal_weights={"hf": 0.0})
    (ranked,) = rank([Candidate(paper("2011.00001"), (hf(1000),))], ChannelSettings(), weights, NOW)
    assert (
        ranked.why == ()
        and ranked.score == rank([Candidate(paper("2011.00001"))], ChannelSettings(), weights, NOW)[0].score
    )


@given(st.lists(st.tuples(st.sampled_from(["cs.LG", "cs.CL", "math.GT"]), st.sampled_from([1, -1])), max_size=500))
def test_taste_is_bounded_by_the_cap_however_many_votes(history: list[tuple[str, int]]) -> None:
    taste = learn_taste((([c], v) for c, v in history), rate=0.25, cap=0.5)
    assert all(-0.5 <= value <= 0.5 for value in taste.values())


def test_taste_learnt_from_votes_lifts_the_voted_category() -> None:
    taste = learn_taste([(["cs.CL"], 1)] * 6 + [(["cs.CV"], -1)] * 6, rate=0.25, cap=0.5)
    cl = Candidate(paper("2011.00001", categories=("cs.CL",)), (hf(10),))
    cv = Candidate(paper("2011.00002", categories=("cs.CV",)), (hf(12),))
    assert order([cl, cv]) == ["2011.00002", "2011.00001"]
    assert order([cl, cv], taste=taste) == ["2011.00001", "2011.00002"]


def test_taste_cannot_beat_a_strong_signal_lead() -> None:
    taste = learn_taste([(["cs.CL"], 1)] * 1000, rate=0.25, cap=0.5)
    cl = Candidate(paper("2011.00001", categories=("cs.CL",)), (hf(10),))
    cv = Candidate(paper("2011.00002", categories=("cs.CV",)), (hf(100),))
    assert order([cl, cv], taste=taste) == ["2011.00002", "2011.00001"]


@given(st.permutations(list(range(8))))
def test_order_does_not_depend_on_input_order(permutation: list[int]) -> None:
    candidates = [Candidate(paper(f"2011.0000{i}"), (hf(i % 3),)) for i in range(8)]
    shuffled = [candidates[i] for i in permutation]
    assert order(shuffled) == order(candidates)


def test_hostile_titles_do_not_break_ranking() -> None:
    hostile = ["@everyone", "<@123>", "**bold** [x](http://evil)", "'; DROP TABLE papers; --", "x" * 10_000, "\x00\x07"]
    candidates = [
        Candidate(paper(f"2011.0000{i}", title=t), (hf(random.Random(i).random()),)) for i, t in enumerate(hostile)
    ]
    assert len(order(candidates)) == len(hostile)


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_discussion_raises_a_paper_monotonically_and_never_beyond_its_cap(fewer: int, more: int) -> None:
    fewer, more = sorted((fewer, more))
    scored = {
        people: rank([Candidate(paper("a"), (hf(10),), discussion=people)], ChannelSettings(), WEIGHTS, NOW)[0]
        for people in (0, fewer, more)
    }
    assert scored[0].score <= scored[fewer].score <= scored[more].score
    assert scored[more].score - scored[0].score <= WEIGHTS.discussion_cap + 1e-6
    assert (f"💬 {more} here" in scored[more].why) == (more > 0)
