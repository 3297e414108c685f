"""Block Kit for paper cards, the /hot list, channel settings and the summary modal.

Pure functions of domain values: the only place that knows Slack's limits (50 blocks, 3000 characters a section,
150 a header) and its escaping. Every user-supplied string goes through `text.fit`/`text.plain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.slack.text import clean, fit, link, plain
from bot.domain import messages
from bot.domain.model import ChannelSettings, DigestEntry, PaperCard, PollDraft, PollOutcome
from bot.domain.text import display_title

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_LIMIT = 2000
BUTTON_LIMIT = 75
FALLBACK_LIMIT = 300
MESSAGE_LIMIT = 12_000
"""Characters of text in one message's blocks: Slack answers `msg_blocks_too_long` from about 13k
(slackapi/bolt-js#2509), well before its 50-block cap."""
HOT_OVERHEAD = 110  # per /hot entry: number, link URL and brackets, votes, line breaks, the 🔥 mark
MAX_AUTHORS = 8
VOTE_UP, VOTE_DOWN, REPORT, DISCUSS = "hp_vote_up", "hp_vote_down", "hp_report", "hp_discuss"
SUMMARY_CALLBACK, SUMMARY_BLOCK, SUMMARY_ACTION = "hp_summarize", "hp_summary", "text"
POLL_VOTE = "hp_poll_vote"
"""A journal-club poll's buttons (issue 19): the value is `<poll id>:<answer index>`."""


def paper_blocks(
    card: PaperCard, *, rank: int | None = None, updated: bool = False, discuss: bool = False
) -> list[Block]:
    """One paper as a card: title, authors, links, abstract, summary with provenance, why-hot, where it was
    discussed, and the buttons (Discuss on a digest card, unless the channel turned threads off)."""
    paper = card.paper
    title = _title(card)
    title = f"#{rank} · {title}" if rank else title
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": plain(title, HEADER_LIMIT), "emoji": True}},
        _context(_authors(paper.authors), f"{paper.primary_category} · {paper.published:%Y-%m-%d}"),
        _section(
            " · ".join(
                [link(paper.abs_url, f"arXiv:{paper.id}v{paper.version}"), link(paper.pdf_url, "PDF")]
                + (["*updated version*"] if updated else [])
            )
        ),
        _section(_titled("Abstract", paper.abstract, more=link(paper.abs_url, "read on arXiv"))),
    ]
    if clean(card.summary.text):
        blocks.append(_section(_titled("Summary", card.summary.text, more=link(paper.abs_url, "read on arXiv"))))
        blocks.append(_context(f"Summary: {card.summary.provenance}"))
    hot = [f"🔥 {card.why_line}"] if card.why else []
    hot += [f"{name} unavailable" for name in card.unavailable]
    discussed = messages.discussed_line(card.discussed)
    hot += [f"💬 {messages.sentence(discussed)}"] if discussed else []
    if hot:
        blocks.append(_context(*hot))
    blocks.append(_buttons(card, discuss=discuss))
    return blocks[:MAX_BLOCKS]


def entry_blocks(entry: DigestEntry) -> list[Block]:
    return paper_blocks(entry.card, rank=entry.rank, updated=entry.updated, discuss=entry.discuss)


def fallback_text(card: PaperCard, *, rank: int | None = None) -> str:
    """Notification and screen-reader text that goes with the blocks (Slack's top-level `text`)."""
    prefix = f"#{rank} " if rank else ""
    title = _title(card)
    return fit(clean(f"{prefix}{title}", single_line=True), FALLBACK_LIMIT) + f" {card.paper.abs_url}"


def hot_blocks(cards: Sequence[PaperCard], *, days: int) -> list[Block]:
    """The channel's most-voted papers, two blocks each, so even 24 papers stay under the 50-block cap; each
    paper gets an equal share of MESSAGE_LIMIT, so a long list of long titles stays one message Slack accepts."""
    head = f"Most-voted papers here, last {days} day{'s' if days != 1 else ''}"
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": head}}]
    if not cards:
        return [*blocks, _section("Nobody has voted on a paper in this channel in that time yet.")]
    share = (MESSAGE_LIMIT - len(head)) // len(cards) - HOT_OVERHEAD
    for number, card in enumerate(cards, start=1):
        votes = messages.votes_line(card.votes)
        authors = fit(_authors(card.paper.authors), min(600, share // 4))
        title = _title(card)
        line = f"*{number}.* {link(card.paper.abs_url, title, limit=min(600, share * 2 // 5))}\n{authors}"
        blocks.append(_section(f"{line}\n{votes}"))
        if card.why:
            blocks.append(_context(f"🔥 {card.why_line}", limit=min(CONTEXT_LIMIT, share // 3)))
    return blocks[:MAX_BLOCKS]


def settings_blocks(settings: ChannelSettings, *, heading: str) -> list[Block]:
    """The heading, then one `*Label:* value` line per setting (`bot.domain.messages.settings_rows`, labels
    capitalised)."""
    rows = messages.settings_rows(settings)
    body = "\n".join(f"*{fit(label.capitalize(), 100)}:* {fit(value, 600)}" for label, value in rows)
    return [_section(f"*{fit(heading, 200)}*"), _section(body)]


def note(text: str) -> str:
    """One escaped line of words from `bot.domain.messages` (a receipt, which summary a card shows now)."""
    return fit(clean(text, single_line=True), SECTION_LIMIT)


def regenerated_blocks(card: PaperCard) -> list[Block]:
    """`/hotpapers regenerate`'s private answer: the note (the LLM may have failed and another source won), the card."""
    return [_section(note(messages.regenerated_note(card))), *paper_blocks(card)][:MAX_BLOCKS]


def summary_modal(paper_id: str, *, metadata: str, max_chars: int) -> Block:
    """The /summarize form. `metadata` (≤3000 chars) carries the channel and response_url to the submission."""
    return {
        "type": "modal",
        "callback_id": SUMMARY_CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Summarize a paper"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _section(f"Your summary of {link(f'https://arxiv.org/abs/{paper_id}', f'arXiv:{paper_id}')}"),
            {
                "type": "input",
                "block_id": SUMMARY_BLOCK,
                "label": {"type": "plain_text", "text": "Summary (plain words, a few sentences)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": SUMMARY_ACTION,
                    "multiline": True,
                    "max_length": max(1, min(max_chars, 3000)),
                },
            },
        ],
    }


def _titled(title: str, body: str, *, more: str) -> str:
    prefix = f"*{title}*\n"
    return prefix + fit(clean(body), SECTION_LIMIT - len(prefix), suffix=f" {more}")


def _title(card: PaperCard) -> str:
    """The paper's title as one clean line (`display_title`)."""
    return display_title(card.paper.title, card.paper.id)


def _authors(authors: Sequence[str]) -> str:
    """Raw (unescaped) author line: the first few names, then a count."""
    return str(messages.authors_line(authors, shown=MAX_AUTHORS))


def _mrkdwn(text: str) -> Block:
    """`verbatim`: Slack does not turn bare URLs, #channels or @names in paper or user text into links."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": _mrkdwn(mrkdwn[:SECTION_LIMIT])}


def _context(*raw: str, limit: int = CONTEXT_LIMIT) -> Block:
    """A context line from raw text: each element cleaned to one line, escaped and cut."""
    texts = [fit(clean(text, single_line=True), limit) for text in raw[:10]]
    return {"type": "context", "elements": [_mrkdwn(text) for text in texts if text]}


def _buttons(card: PaperCard, *, discuss: bool = False) -> Block:
    """👍 / 👎, and "Report summary" when the summary shown is a stored one (the extractive one has no id: there is
    nothing to report). Each button carries the paper id, so it works on any card, digest post or not."""

    def button(action_id: str, label: str) -> Block:
        text = {"type": "plain_text", "text": label[:BUTTON_LIMIT], "emoji": True}
        return {"type": "button", "action_id": action_id, "value": card.paper.id, "text": text}

    elements = [button(VOTE_UP, f"👍 {card.votes.up}"), button(VOTE_DOWN, f"👎 {card.votes.down}")]
    if card.summary.id is not None:
        elements.append(button(REPORT, "🚩 Report summary"))
    if discuss:
        elements.append(button(DISCUSS, f"💬 {messages.DISCUSS}"))
    return {"type": "actions", "elements": elements}


# ── journal club (issue 19) ─────────────────────────────────────────────────────────────────────────────────────────


def poll_blocks(draft: PollDraft) -> list[Block]:
    """The poll: the question and when it closes, each paper's full title as a link with its live count, then a
    button per paper (one vote each, changeable); a closed poll keeps the counts and loses the buttons."""
    intro = messages.poll_intro(draft)
    counts = draft.counts or (0,) * len(draft.options)
    lines = [
        f"*{n}.* {link(option.url, option.title, limit=400)} — {messages.poll_votes(count)}"
        for n, (option, count) in enumerate(zip(draft.options, counts, strict=False), 1)
    ]
    blocks: list[Block] = [_section(fit(clean(intro[0], single_line=True), 600)), _section("\n".join(lines))]
    if draft.closed:
        blocks.append(_context(messages.poll_closed_line(draft)))
        return blocks
    buttons = [
        {
            "type": "button",
            "action_id": f"{POLL_VOTE}_{n}",
            "value": f"{draft.poll_id}:{n}",
            "text": {"type": "plain_text", "text": plain(f"{n + 1}. {option.label}", BUTTON_LIMIT), "emoji": True},
        }
        for n, option in enumerate(draft.options)
    ]
    blocks += [{"type": "actions", "elements": buttons[i : i + 5]} for i in range(0, len(buttons), 5)]
    return blocks[:MAX_BLOCKS]


def poll_text(draft: PollDraft) -> str:
    """The poll message's fallback text."""
    return fit(clean(messages.poll_intro(draft)[0], single_line=True), FALLBACK_LIMIT)


def winner_blocks(outcome: PollOutcome) -> list[Block]:
    """The winner's announcement: the sentence (with how a tie was broken), then the paper's card."""
    return [_section(note(messages.winner_announcement(outcome))), *paper_blocks(outcome.winner)][:MAX_BLOCKS]
