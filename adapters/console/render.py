"""PaperCard / Digest → rich renderables. User text goes in as `Text`, never as markup, so it cannot style itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.domain.messages import authors_line as authors_words
from bot.domain.messages import discussed_line, poll_closed_line, poll_count_lines, poll_intro, sentence, votes_line
from bot.domain.model import Digest, DigestEntry, PaperCard, PollDraft
from bot.domain.text import clean_text, shorten

MAX_AUTHORS = 6


def authors_line(card: PaperCard, limit: int = MAX_AUTHORS) -> str:
    return str(authors_words(card.paper.authors, shown=limit))


def paper_panel(card: PaperCard, *, rank: int | None = None, abstract: bool = True, updated: bool = False) -> Panel:
    """The `/paper` answer (or one digest entry) as a terminal card."""
    paper = card.paper
    title = Text()
    if rank is not None:
        title.append(f"{rank}. ", style="bold")
    title.append(shorten(clean_text(paper.title), 300), style="bold cyan")
    if updated:
        title.append("  [updated]", style="yellow")
    body: list[RenderableType] = [
        Text(authors_line(card), style="italic"),
        Text(f"{paper.id}v{paper.version} · {', '.join(paper.categories)} · {paper.abs_url}", style="dim"),
    ]
    if abstract and paper.abstract.strip():
        body += [Text(""), Text("Abstract", style="bold"), Text(shorten(clean_text(paper.abstract), 2000))]
    body += [
        Text(""),
        Text(f"Summary — {card.summary.provenance}" + _summary_ref(card), style="bold"),
        Text(shorten(card.summary.text, 1200)),
        Text(""),
        Text.assemble(("Why hot: ", "bold"), card.why_line or "no signals yet"),
        Text(f"Votes: {votes_line(card.votes)}   score {card.score:.2f}", style="dim"),
    ]
    if card.posted:
        where = ", ".join(f"{p.channel.name or p.channel.channel} on {p.day}" for p in card.posted[-3:])
        more = card.posted_count - min(len(card.posted), 3)
        body.append(Text(f"Posted in {where}" + (f" and {more} more" if more > 0 else ""), style="dim"))
    if discussed_line(card.discussed):
        body.append(Text(sentence(discussed_line(card.discussed)), style="dim"))
    return Panel(Group(*body), title=title, title_align="left", expand=True)


def digest_table(digest: Digest) -> RenderableType:
    """The digest as one ranked table with why-lines (the preview)."""
    if not digest.entries:
        return Text(digest.header if not digest.announced else "Nothing new matched this channel's filters.")
    table = Table(title=digest.header, show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("Paper", ratio=3)
    table.add_column("Why hot", ratio=2)
    for entry in digest.entries:
        table.add_row(str(entry.rank), _paper_cell(entry), Text(entry.card.why_line or "—"))
    return table


def _paper_cell(entry: DigestEntry) -> Text:
    card = entry.card
    cell = Text(shorten(clean_text(card.paper.title), 200), style="bold")
    if entry.updated:
        cell.append(" [updated]", style="yellow")
    cell.append(f"\n{authors_line(card, 3)}\n", style="italic")
    cell.append(card.paper.abs_url, style="dim")
    return cell


def health_table(health: Sequence[Any]) -> RenderableType:
    """Each signal source's state (bot.app.signals.SourceHealth rows)."""
    table = Table(title="Signal sources", expand=False)
    for column in ("source", "state", "last success", "last error", "latency"):
        table.add_column(column)
    for row in health:
        state = "disabled" if not row.enabled else ("failing" if row.failing else "ok")
        table.add_row(
            row.name,
            Text(
                state + (f" ({row.note})" if row.note else ""), style={"ok": "green", "failing": "red"}.get(state, "")
            ),
            f"{row.last_success:%Y-%m-%d %H:%M:%S}" if row.last_success else "—",
            Text(shorten(row.last_error, 80)) if row.last_error else "—",
            f"{row.last_latency_ms:.0f} ms" if row.last_latency_ms is not None else "—",
        )
    return table


def _summary_ref(card: PaperCard) -> str:
    """Community summaries show their id and score so people can vote on them."""
    summary = card.summary
    return f"  (#{summary.id}, {summary.votes:+d})" if summary.source == "community" and summary.id else ""


# ── journal club (issue 19) ─────────────────────────────────────────────────────────────────────────────────────────


def poll_panel(draft: PollDraft) -> Panel:
    """A journal-club poll: the full titles and links, then each answer with its live count."""
    intro = poll_intro(draft)
    body: list[RenderableType] = [Text(line) for line in intro[1:]]
    body += [Text(""), *(Text(line, style="bold") for line in poll_count_lines(draft))]
    if draft.closed:
        body.append(Text(poll_closed_line(draft), style="dim"))
    else:
        body.append(Text("Vote with /journalclub vote N (one vote each; voting again changes it).", style="dim"))
    return Panel(Group(*body), title=Text(intro[0], style="bold cyan"), title_align="left", expand=True)
