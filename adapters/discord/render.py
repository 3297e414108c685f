"""Cards → Discord embeds and lines. Pure, and the only module that knows Discord's limits and escaping.

Every user-supplied string (titles, abstracts, summaries, names) is hostile: it is cleaned of control characters,
markdown-escaped unconditionally (so escaped pieces can be joined without forming markup across them), stripped of
masked links and mentions, and then cut to the limit of the place it goes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.domain import messages
from bot.domain.model import ChannelRef, ChannelSettings, DigestEntry, PaperCard, PostKey, PostRecord, VoteTally
from bot.domain.text import clean_multiline, clean_text, display_title

TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER, TOTAL, FIELDS = 256, 4096, 256, 1024, 2048, 6000, 25
CONTENT = 2000
SHOWN_AUTHORS = 10
SHOWN_POSTS = 3
TOP_SHOWN = 10
ARXIV_RED = 0xB31B1B
ELLIPSIS = "…"
_OPEN, _CLOSE = "\ue000", "\ue001"  # stand-ins for [ and ] while escape_markdown runs
_BRACKET = re.compile(f"(?P<run>\\\\*)(?P<mark>[{_OPEN}{_CLOSE}])")


_COMMAND_MENTION = re.compile(r"<(/[^<>\n]{1,100}?:\d+>)")
"""`</name:id>` shows as a clickable slash command; a zero-width space after `<` leaves it as text."""


def neutralise_mentions(text: str) -> str:
    """Break @everyone / @here / user and role mentions (discord.py) and slash-command mentions `</name:id>`."""
    return escape_mentions(_COMMAND_MENTION.sub("<\u200b\\1", text))


def escape(text: str, *, multiline: bool = False) -> str:
    """Hostile text → literal Discord markdown: no formatting, masked links, mentions or control characters."""
    cleaned = (clean_multiline if multiline else clean_text)(text).replace(_OPEN, "").replace(_CLOSE, "")
    cleaned = _COMMAND_MENTION.sub("<\u200b\\1", cleaned)
    # escape_markdown only escapes the first "[" of a masked link ("[a] [b](url)" keeps a live link): do all.
    guarded = escape_mentions(escape_markdown(cleaned.replace("[", _OPEN).replace("]", _CLOSE)))
    return _BRACKET.sub(_escaped_bracket, guarded)


def _escaped_bracket(match: re.Match[str]) -> str:
    # Inside a URL escape_markdown leaves backslashes alone; pair an odd run up so it cannot escape our escape.
    run = match["run"] + ("\\" if len(match["run"]) % 2 else "")
    return run + ("\\[" if match["mark"] == _OPEN else "\\]")


def plain(text: str) -> str:
    """For places Discord shows without markdown (footers): cleaned, mentions broken, nothing else."""
    return neutralise_mentions(clean_text(text))


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never leaving a dangling escape backslash."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ""
    cut = text[: limit - len(ELLIPSIS)]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def content(text: str) -> str:
    """A message body (2000 characters at most), line breaks kept."""
    return clip("\n".join(escape(line) for line in text.splitlines()).strip(), CONTENT) or ELLIPSIS


def paper_embed(card: PaperCard) -> discord.Embed:
    """The full card for `/paper`: abstract, summary, authors, categories, votes, why it is hot, where it was posted."""
    embed = _base(card, title=escape(display_title(card.paper.title, card.paper.id)))
    embed.add_field(name="Authors", value=authors_line(card.paper.authors), inline=False)
    embed.add_field(name="Categories", value=categories_line(card), inline=True)
    embed.add_field(name="Votes here", value=messages.votes_line(card.votes), inline=True)
    embed.add_field(name="Summary", value=_value(card.summary.text, multiline=True), inline=False)
    if card.why:
        embed.add_field(name="Why it's hot", value=_value(card.why_line, limit=512), inline=False)
    if card.posted:
        embed.add_field(name="Posted", value=posted_line(card.posted), inline=False)
    discussed = messages.discussed_line(card.discussed)
    if discussed:
        embed.add_field(name="Discussed", value=_value(messages.sentence(discussed)), inline=False)
    return _describe(embed, escape(card.paper.abstract, multiline=True))


def entry_embed(entry: DigestEntry, *, vote_hint: str = "", key: PostKey | None = None) -> discord.Embed:
    """One digest post: compact (summary as the description) so a day's digest reads at a glance. `key`, the
    message's idempotency key, ends the footer: it is how a resumed digest finds the post again."""
    card = entry.card
    title = f"{entry.rank}. {escape(display_title(card.paper.title, card.paper.id))}"
    embed = _base(card, title=title, hint=vote_hint, key=key)
    if entry.updated:
        embed.add_field(
            name="Updated", value=f"New version v{card.paper.version} since it was posted here", inline=False
        )
    embed.add_field(name="Authors", value=authors_line(card.paper.authors), inline=False)
    embed.add_field(name="Categories", value=categories_line(card), inline=True)
    if card.why:
        embed.add_field(name="Why it's hot", value=_value(card.why_line, limit=512), inline=True)
    return _describe(embed, escape(card.summary.text, multiline=True))


def top_embed(cards: Sequence[PaperCard], *, channel: ChannelRef, days: int) -> discord.Embed:
    """The channel's most-voted papers: one field per paper, title as the name, votes and link as the value."""
    where = channel.name or "this channel"  # a <#id> mention does not render in a title
    embed = discord.Embed(title=clip(escape(f"Most-voted papers in {where}, last {days} days"), TITLE))
    embed.colour = discord.Colour(ARXIV_RED)
    for rank, card in enumerate(cards[:TOP_SHOWN], start=1):
        name = clip(f"{rank}. {escape(display_title(card.paper.title, card.paper.id))}", FIELD_NAME)
        embed.add_field(name=name, value=f"{messages.votes_line(card.votes)} · {card.paper.abs_url}", inline=False)
    return embed


def authors_line(authors: Sequence[str]) -> str:
    """The names cut to the field, the count of the rest kept whole."""
    line = messages.authors_line(authors, shown=SHOWN_AUTHORS)
    return str(messages.AuthorsLine(clip(escape(line.names), FIELD_VALUE - len(line.more)), line.more))


def categories_line(card: PaperCard) -> str:
    ordered = dict.fromkeys((card.paper.primary_category, *card.paper.categories))
    return _value(" · ".join(c for c in ordered if c), limit=512)


def posted_line(posts: Sequence[PostRecord]) -> str:
    latest = sorted(posts, key=lambda post: post.day, reverse=True)[:SHOWN_POSTS]
    return "\n".join(f"in {channel_label(p.channel)} on {p.day:%Y-%m-%d}" for p in latest) or "—"


def channel_label(channel: ChannelRef) -> str:
    """A Discord channel mention (shown as its name, never a ping), else the escaped display name."""
    if channel.platform == "discord" and channel.channel.isdigit():
        return f"<#{channel.channel}>"
    return escape(channel.name or channel.channel) or "this channel"


def settings_text(settings: ChannelSettings, *, channel: ChannelRef, lead: str = "") -> str:
    where = channel.name or "this channel"
    return content(f"{lead} Digest settings for {where}:\n{messages.describe(settings)}".strip())


def report_receipt(card: PaperCard) -> str:
    """The private answer to "Report summary": what the card shows now (the same summary until three reports)."""
    return content(messages.reported_note(card))


def regenerated_note(card: PaperCard) -> str:
    """Above the private card `/hotpapers regenerate` answers with: the LLM may have failed and another source won."""
    return content(messages.regenerated_note(card))


def vote_receipt(value: int, votes: VoteTally | None) -> str:
    return content(messages.vote_receipt(value, votes))


def _base(card: PaperCard, *, title: str, hint: str = "", key: PostKey | None = None) -> discord.Embed:
    title = clip(title, TITLE) or f"arXiv:{card.paper.id}"
    embed = discord.Embed(title=title, url=card.paper.abs_url, colour=discord.Colour(ARXIV_RED))
    embed.timestamp = card.paper.published
    footer = f"{card.summary.provenance} · arXiv:{card.paper.id}v{card.paper.version}"
    if card.unavailable:
        footer += f" · {', '.join(card.unavailable)} unavailable"
    if hint:
        footer += f" · {hint}"
    tail = f" · {key}" if key else ""
    return embed.set_footer(text=clip(plain(footer), 256 - len(tail)) + tail)


def keyed_line(text: str, key: PostKey | None) -> str:
    """A plain message (the digest header) with its idempotency key as a small line under it."""
    body = content(text)
    return body if key is None else clip(body, CONTENT - 40) + f"\n-# {key}"


def key_of(message: discord.Message) -> PostKey | None:
    """The idempotency key a digest message carries (embed footer or the header's last line)."""
    texts = [embed.footer.text or "" for embed in message.embeds] + [message.content or ""]
    return next((key for key in map(PostKey.search, texts) if key is not None), None)


def _value(text: str, *, limit: int = FIELD_VALUE, multiline: bool = False) -> str:
    return clip(escape(text, multiline=multiline), limit) or "—"


def _describe(embed: discord.Embed, description: str) -> discord.Embed:
    """Give the description whatever the 6000-character budget leaves after the title, fields and footer."""
    room = min(DESCRIPTION, TOTAL - len(embed))
    embed.description = clip(description, room) or None
    return embed
