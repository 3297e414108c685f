"""What hotpapers says to people, in one place: the words every adapter (Discord, Slack, console) shows.

Plain functions and dataclasses that return unformatted text: no markdown, mrkdwn or rich markup, nothing escaped
and nothing cut. Each adapter's renderer escapes, cuts and lays the words out for its platform (a Discord line
`label: value`, a Slack field `*Label:* value`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.channel_settings import DAY_NAMES, FULL_DAY_NAMES
from bot.domain.errors import HotPapersError, NotFound, UpstreamUnavailable
from bot.domain.model import (
    POLL_LABEL_CHARS,
    ChannelRef,
    ChannelSettings,
    Discussion,
    PaperCard,
    PastWinner,
    PollClose,
    PollDraft,
    PollOutcome,
    PollStart,
    Roundup,
    ThreadOpened,
    VoteTally,
)
from bot.domain.text import clean_text, shorten

UNREACHABLE = "arXiv is unreachable right now, try again in a minute."
UNEXPECTED = "Something went wrong on our side; it has been logged. Please try again later."
NOT_COUNTED = "That vote was not counted (the paper is not on a post of this bot here)."
NO_AUTHORS = "—"
UP, DOWN = "👍", "👎"


# ── errors ──────────────────────────────────────────────────────────────────────────────────────────────────────────


def error_text(error: BaseException, *, ref: str | None = None) -> str | None:
    """What a person reads for one of the engine's errors; None for anything else (the adapter logs it with its
    traceback and shows UNEXPECTED). BadInput messages quote what was typed: the adapter escapes them. The engine's
    own message wins over `ref` (it says why: look-ups off, arXiv said so minutes ago, only v1 known here)."""
    if isinstance(error, UpstreamUnavailable):
        return UNREACHABLE
    if isinstance(error, NotFound):
        return str(error) or f"arXiv has no paper {(ref or '').strip()}."
    if isinstance(error, HotPapersError):  # BadInput (its message lists the accepted forms), PermissionDenied, …
        return str(error) or UNEXPECTED
    return None


def sentence(text: str) -> str:
    """An engine message as a sentence that starts with a capital ("days must be …" → "Days must be …"), for the
    platforms that show it so; names like "arXiv" keep theirs."""
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.islower() else text


# ── votes ───────────────────────────────────────────────────────────────────────────────────────────────────────────


def votes_line(votes: VoteTally) -> str:
    """`👍 3 · 👎 1`."""
    return f"{UP} {votes.up} · {DOWN} {votes.down}"


def vote_receipt(value: int, votes: VoteTally | None, *, paper_id: str | None = None, removed: bool = False) -> str:
    """The private answer to a vote (a button, a console command): counted or not, and the channel's tally now.
    `paper_id` names the paper, for a vote from a card that may no longer be in view (a Slack button's receipt
    comes as a separate message)."""
    if votes is None:
        return NOT_COUNTED
    mark = UP if value > 0 else DOWN
    done = "taken back" if removed else "counted"
    if paper_id:
        return f"Your {mark} on arXiv:{paper_id} is {done}: now {votes_line(votes)} here."
    return f"Your {mark} is {done}. Now {votes_line(votes)} in this channel."


# ── papers and summaries ────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class AuthorsLine:
    """The first authors, cleaned and comma-separated, and how many more there are (` +3 more`): kept apart so a
    renderer can cut the names to its limit and still say how many were left out."""

    names: str
    more: str = ""

    def __str__(self) -> str:
        return (self.names + self.more).strip() or NO_AUTHORS


def authors_line(authors: Sequence[str], *, shown: int) -> AuthorsLine:
    """The first `shown` authors (each cleaned, at most 100 characters), then a count of the rest."""
    names = ", ".join(clean_text(name)[:100] for name in authors[:shown])
    more = f" +{len(authors) - shown} more" if len(authors) > shown else ""
    return AuthorsLine(names, more)


def summary_note(lead: str, card: PaperCard) -> str:
    """After a report or a regeneration: which summary the card shows now, and from where."""
    return f"{lead} The card now shows: {card.summary.provenance}"


def reported_note(card: PaperCard) -> str:
    """The private answer to "Report summary" (the same summary until enough people reported it)."""
    return summary_note("Thanks — reported.", card)


def regenerated_note(card: PaperCard) -> str:
    """Above the card a regeneration answers with: the LLM may have failed and another source won."""
    return summary_note("Asked the LLM again.", card)


def summary_saved(paper_id: str, *, number: int | None = None) -> str:
    """The thanks for a community summary; `number` where people vote on summaries by number (the console)."""
    which = f" #{number}" if number is not None else ""
    return (
        f"Thanks! Your summary{which} of arXiv:{paper_id} is saved. /paper shows the most up-voted community summary."
    )


def summary_author(platform: str, user_id: str) -> str:
    """Who wrote a community summary, as `HotPapers.add_summary(author_id=…)` stores it and `forget_user` finds it."""
    return f"{platform}:{user_id}"


# ── channel settings ────────────────────────────────────────────────────────────────────────────────────────────────


def settings_rows(settings: ChannelSettings) -> tuple[tuple[str, str], ...]:
    """Each setting as (label, value), a pause first with its fix. Labels are lower case; a renderer may
    capitalise them as field names."""
    days = ",".join(DAY_NAMES[day] for day in settings.weekdays if 0 <= day < len(DAY_NAMES)) or "none"
    paused = settings.paused
    pause = (
        (("paused", f"{paused.reason} — to fix it: {paused.fix} (then subscribe again; retried daily)"),)
        if paused
        else ()
    )
    return (
        *pause,
        ("subscribed", "yes" if settings.subscribed else "no"),
        ("categories", ", ".join(settings.categories) or "(any)"),
        ("keywords", ", ".join(settings.keywords) or "(any)"),
        ("negative keywords", ", ".join(settings.negative_keywords) or "(none)"),
        ("followed authors", ", ".join(settings.authors) or "(none)"),
        ("top", f"{settings.top_n} papers at {settings.post_time} {settings.timezone} on {days}"),
        ("say so on days without announcements", "yes" if settings.announce_empty else "no"),
        ("discussion threads", THREAD_MODES.get(settings.threads, settings.threads)),
        ("weekly roundup", roundup_setting(settings)),
        *(
            (("weekly journal-club poll", f"{settings.journal_club} {settings.timezone}"),)
            if settings.journal_club
            else ()
        ),
    )


def describe(settings: ChannelSettings) -> str:
    """One `label: value` line per setting, as Discord and the console show them."""
    return "\n".join(f"{label}: {value}" for label, value in settings_rows(settings))


# ── discussion threads and the weekly roundup ───────────────────────────────────────────────────────────────────────

THREAD_MODES = {
    "button": "a Discuss button on each card",
    "always": "one opened for every paper as it is posted",
    "off": "off",
}
DISCUSS = "Discuss"
"""The label of the button that opens a card's thread."""


def roundup_setting(settings: ChannelSettings) -> str:
    if not settings.roundup:
        return "off"
    day = FULL_DAY_NAMES[settings.roundup_day].capitalize() if 0 <= settings.roundup_day < 7 else "?"
    empty = "; one line for a quiet week" if settings.roundup_empty else ""
    return f"{day}s at {settings.roundup_time} {settings.timezone}{empty}"


def where(channel: ChannelRef) -> str:
    """A channel as people name it: `#ml-papers`, else its id."""
    name = clean_text(channel.name)
    return (name if name.startswith("#") else f"#{name}") if name else channel.channel


def thread_opener(title: str) -> str:
    """The bot's first line in a paper's thread (Slack: its reply that starts the thread)."""
    return (
        f"Discuss “{clean_text(title)[:150]}” here. Replies count as 💬 for this channel's ranking; "
        "the text is not kept."
    )


def thread_name(title: str) -> str:
    """A thread's title where the platform shows one (Discord: at most 100 characters)."""
    name = clean_text(title) or "discussion"
    return name if len(name) <= 100 else name[:99] + "…"


def thread_answer(opened: ThreadOpened) -> str:
    """The answer to the Discuss button (or `/thread`): where the thread is."""
    if opened.created:
        return f"Opened a thread on arXiv:{opened.paper_id} — reply there."
    people = f" ({people_count(opened.people)} so far)" if opened.people else ""
    return f"The thread on arXiv:{opened.paper_id} is already open — reply there{people}."


def people_count(people: int) -> str:
    return f"{people} person" if people == 1 else f"{people} people"


def discussed_line(discussed: Sequence[Discussion]) -> str:
    """`discussed in #ml-papers (4 people)` on a card; empty when nobody replied."""
    return "; ".join(f"discussed in {where(d.channel)} ({people_count(d.people)})" for d in discussed if d.people)


def roundup_text(roundup: Roundup, links: Sequence[str]) -> str:
    """The weekly roundup as one message: a title line, then each paper with its why-line and its original post."""
    span = f"{roundup.first_day:%a %d %b} – {roundup.last_day:%a %d %b %Y}"
    if not roundup.entries:
        return f"📚 The week in {where(roundup.channel)} ({span}): no votes and no discussion this week."
    lines = [
        f"📚 The week in {where(roundup.channel)} ({span}): top {len(roundup.entries)} by your votes and discussion"
    ]
    for entry, link in zip(roundup.entries, links, strict=True):
        title = clean_text(entry.card.paper.title) or entry.card.paper.id
        title = title if len(title) <= 90 else title[:89] + "…"
        lines.append(f"{entry.rank}. {title} (arXiv:{entry.card.paper.id}) — {entry.card.why_line}")
        lines.append(f"    original post: {link}")
    return "\n".join(lines)


def message_reference(message_id: str) -> str:
    """A posted message named where there is no link to it: the console, or a platform that would not give one (the
    fallback of `Publisher.permalink`)."""
    return f"message {message_id}"


def roundup_result(state: str, roundup: Roundup) -> str:
    """What `/roundup` (the console) and the CLI say after posting."""
    span = f"the week ending {roundup.last_day:%a %Y-%m-%d}"
    papers = f"{len(roundup.entries)} paper" + ("" if len(roundup.entries) == 1 else "s")
    return {
        "posted": f"Posted the roundup of {span} ({papers}).",
        "done-before": f"The roundup of {span} was already posted here.",
        "held-elsewhere": f"Another process is posting the roundup of {span}.",
        "quiet": f"No votes and no discussion in {span}: nothing posted (roundup_empty=yes posts one line).",
        "paused": f"The platform refused the roundup of {span}; see the channel's settings.",
        "empty": f"Posted one line: no votes and no discussion in {span}.",
    }.get(state, state)


# ── journal club (issue 19) ─────────────────────────────────────────────────────────────────────────────────────────

JOURNAL_CLUB = "📚"
NO_POLL = "There is no open journal-club poll here; /journalclub start begins one."
POLL_NOT_OPEN = "That journal-club poll is closed; your vote was not counted."
NO_WINNERS = "No journal-club poll has closed here yet; /journalclub start begins one."


def poll_label(title: str) -> str:
    """A paper's title as a poll answer: at most 55 characters (Discord's limit), shortened with an ellipsis."""
    return shorten(clean_text(title), POLL_LABEL_CHARS)


def poll_question() -> str:
    return f"{JOURNAL_CLUB} Journal club: which paper do we read together?"


def poll_intro(draft: PollDraft) -> list[str]:
    """The message above the poll: when it closes, then every paper's full title and link (an answer is short)."""
    lines = [f"{poll_question()} Vote until {draft.closes:%a %Y-%m-%d %H:%M} UTC (poll #{draft.poll_id})."]
    lines += [f"{n}. {clean_text(option.title)} — {option.url}" for n, option in enumerate(draft.options, 1)]
    return lines


def poll_count_lines(draft: PollDraft) -> list[str]:
    """One line per answer with its live count (Slack's message, the console)."""
    counts = draft.counts or (0,) * len(draft.options)
    return [
        f"{n}. {option.label} — {_votes(count)}"
        for n, (option, count) in enumerate(zip(draft.options, counts, strict=False), 1)
    ]


def poll_closed_line(draft: PollDraft) -> str:
    return f"Poll #{draft.poll_id} is closed ({_votes(draft.total)} in all)."


def poll_vote_receipt(draft: PollDraft, choice: int, *, changed_from: int | None = None) -> str:
    """The private answer to a vote in a poll whose votes the core records (one per person, changeable)."""
    option = draft.options[choice]
    change = f" (changed from {changed_from + 1})" if changed_from is not None and changed_from != choice else ""
    return f"Your vote for {choice + 1}. {option.label} is counted{change}; you can change it until the poll closes."


def tie_note(tied: int, votes: int, *, by: str, winner: str, values: str = "") -> str:
    """How a tie at the top was broken: `by` is "votes" (the channel's net votes), "hotness" or "order"."""
    reason = {
        "votes": "this channel's votes",
        "hotness": "hotness (signals and votes)",
        "order": "the order of the poll (still equal on this channel's votes and hotness)",
    }[by]
    shown = f" ({values})" if values else ""
    return f"{tied} papers tied at {_votes(votes)}: the tie was broken by {reason}{shown} in favour of {winner}."


def winner_announcement(outcome: PollOutcome) -> str:
    """The line above the winner's card."""
    title = clean_text(outcome.winner.paper.title)
    total = sum(outcome.counts)
    lead = (
        f"{JOURNAL_CLUB} Journal club (poll #{outcome.poll_id}): we read “{title}” "
        f"(arXiv:{outcome.winner.paper.id}), chosen with {outcome.votes} of {_votes(total)}."
    )
    return f"{lead} {outcome.tie}" if outcome.tie else lead


def poll_thread_name(outcome: PollOutcome) -> str:
    """The winner's discussion thread's title (Discord shows at most 100 characters)."""
    return shorten(f"Journal club: {clean_text(outcome.winner.paper.title)}", 100)


def poll_thread_opener(outcome: PollOutcome) -> str:
    """The bot's first reply in the winner's thread (Slack starts a thread with a reply)."""
    return f"Discuss “{clean_text(outcome.winner.paper.title)}” (arXiv:{outcome.winner.paper.id}) here."


def poll_started(start: PollStart) -> str:
    """What the admin who asked for a poll is told beyond the poll itself."""
    draft = start.draft
    closes = f" (it closes {draft.closes:%a %Y-%m-%d %H:%M} UTC)" if draft else ""
    if start.state in ("started", "resumed"):
        return f"Started journal-club poll #{draft.poll_id if draft else '?'}{closes}."
    if start.state == "open":
        return f"A journal-club poll is already open here{closes}; /journalclub close ends it."
    if start.state == "done-before":
        return "This week's scheduled journal-club poll already ran here."
    return "Another process is starting a journal-club poll here right now."


def poll_close_answer(close: PollClose) -> str | None:
    """What the admin who closed a poll is told (None: the announcement says it all)."""
    if close.state == "closed":
        return None
    if close.state == "held-elsewhere":
        return "Another process is closing this poll right now; its winner is announced in a moment."
    if close.state == "closed-before":
        return "That poll is already closed."
    return "That poll is still running."


def history_lines(winners: Sequence[PastWinner]) -> list[str]:
    """`/journalclub history`: one line per past winner, newest first."""
    if not winners:
        return [NO_WINNERS]
    lines = []
    for won in winners:
        tie = " · after a tie" if won.tie else ""
        lines.append(
            f"{won.day:%Y-%m-%d} · arXiv:{won.paper_id} · {clean_text(won.title)} · "
            f"{won.votes} of {_votes(won.voters)}{tie}"
        )
    return lines


def poll_votes(count: int) -> str:
    """`1 vote`, `3 votes`."""
    return f"{count} vote" + ("" if count == 1 else "s")


_votes = poll_votes
