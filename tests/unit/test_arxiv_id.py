from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.arxiv_id import ACCEPTED_FORMS, parse_arxiv_id
from bot.domain.errors import BadReference
from bot.domain.model import ArxivId

new_ids = st.builds(
    lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:05d}" if (yy, mm) >= (15, 1) else f"{yy:02d}{mm:02d}.{n % 10000:04d}",
    st.integers(7, 30),
    st.integers(1, 12),
    st.integers(1, 99999),
).filter(lambda s: s >= "0704")
old_ids = st.builds(
    lambda archive, sub, num: f"{archive}{sub}/{num:07d}",
    st.sampled_from(["hep-th", "math", "cond-mat", "quant-ph", "astro-ph"]),
    st.sampled_from(["", ".GT", ".AG", ".CO"]),
    st.integers(9100001, 9912999) | st.integers(1, 703999),
)
versions = st.none() | st.integers(1, 30)
wrappers = st.sampled_from(
    [
        "{}",
        "arXiv:{}",
        "arxiv:{}",
        "  {}  ",
        "https://arxiv.org/abs/{}",
        "http://arxiv.org/abs/{}",
        "https://arxiv.org/pdf/{}",
        "https://arxiv.org/pdf/{}.pdf",
        "https://arxiv.org/html/{}",
        "https://export.arxiv.org/abs/{}",
        "arxiv.org/abs/{}",
        "https://www.arxiv.org/abs/{}?context=cs",
        "<https://arxiv.org/abs/{}>",
        "<https://arxiv.org/abs/{}|the paper>",
    ]
)


@given(st.one_of(new_ids, old_ids), versions, wrappers)
def test_every_pasted_form_gives_the_canonical_id_and_keeps_the_version_apart(
    canonical: str, version: int | None, wrapper: str
) -> None:
    pasted = wrapper.format(f"{canonical}v{version}" if version else canonical)
    assert parse_arxiv_id(pasted) == ArxivId(canonical, version)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010.00577", ArxivId("2010.00577")),
        ("2010.00577v2", ArxivId("2010.00577", 2)),
        ("hep-th/9901001", ArxivId("hep-th/9901001")),
        ("math.GT/0309136v1", ArxivId("math.GT/0309136", 1)),
        ("https://arxiv.org/pdf/2010.00577v1.pdf", ArxivId("2010.00577", 1)),
        ("0704.0001", ArxivId("0704.0001")),
    ],
)
def test_documented_examples(text: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1234.5678",  # month 34
        "2013.12345",  # month 13
        "0704.00001",  # five digits before 2015
        "2101.1234",  # four digits after 2015
        "2010.00577v0",
        "https://example.com/abs/2010.00577",
        "@everyone",
        "<@123456789>",
        "2010.00577; DROP TABLE papers",
        "x" * 10_000,
        "2010.00577\x00",
    ],
)
def test_anything_else_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(BadReference) as refused:
        parse_arxiv_id(text)
    message = str(refused.value)
    assert ACCEPTED_FORMS in message
    assert len(message) < 400 and "\n" not in message and "\x00" not in message


@given(st.text(max_size=200))
def test_parser_never_crashes_and_either_parses_or_refuses(text: str) -> None:
    try:
        parsed = parse_arxiv_id(text)
    except BadReference:
        return
    assert parse_arxiv_id(parsed.versioned) == parsed


def test_full_width_digits_are_read_as_ascii_and_other_scripts_refused() -> None:
    assert parse_arxiv_id("２０１０.００５７７ｖ２") == ArxivId("2010.00577", 2)
    with pytest.raises(BadReference):
        parse_arxiv_id("٢٠١٠.٠٠٥٧٧")  # Arabic-Indic digits are digits, but no arXiv id


def test_an_old_style_id_needs_an_archive_arxiv_had() -> None:
    assert parse_arxiv_id("solv-int/9901001") == ArxivId("solv-int/9901001")
    assert parse_arxiv_id("math.GT/0309136v1") == ArxivId("math.GT/0309136", 1)
    with pytest.raises(BadReference, match="arXiv never had an archive 'notacat'"):
        parse_arxiv_id("notacat/9901001")


def test_a_slack_link_label_may_hold_spaces() -> None:
    assert parse_arxiv_id("<https://arxiv.org/abs/2010.00577|Interpreting GNNs for NLP>") == ArxivId("2010.00577")
