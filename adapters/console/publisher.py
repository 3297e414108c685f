"""ConsolePublisher: the Publisher port printing to a terminal, with an optional posts log as its "platform".

Message ids must stay unique across processes (a resumed digest records its messages beside the first run's), so
each publisher numbers its messages under a random prefix: `console-3f9a1c2b-1`, `console-3f9a1c2b-2`, …

With a log (`[console] log`, used by `hotpapers digest --post` and `run`), a message exists once its line is in the
log: one JSON object per line, appended with a single write, so processes that share the file (replicas, a
resumed run) never interleave, and a killed process leaves whole lines. `find` reads it back; `delete` appends a
line that hides a message. The terminal shows the card after its line is written.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from adapters.console.render import paper_panel, poll_panel
from bot.domain.messages import message_reference, winner_announcement
from bot.domain.model import ChannelRef, DigestEntry, PollDraft, PollOutcome, PollTally, PostedMessage, PostKey
from bot.domain.text import clean_text


class ConsolePublisher:
    platform = "console"

    def __init__(
        self, console: Console, *, abstracts: bool = False, log: Path | None = None, prefix: str | None = None
    ) -> None:
        self._console = console
        self._abstracts = abstracts
        self._log = log
        self._prefix = prefix or f"console-{uuid.uuid4().hex[:8]}"
        """`prefix`: fixed ids for a run that must print the same every time (the demo); random by default."""
        self._ids = itertools.count(1)
        self.posted: list[tuple[PostedMessage, DigestEntry | None]] = []
        self.polls: dict[int, PostedMessage] = {}
        """Journal-club polls this publisher posted, by poll number (`/journalclub vote N` votes in the last)."""
        self._opened: set[tuple[str, str]] = set()

    async def publish(self, channel: ChannelRef, entry: DigestEntry, *, key: PostKey | None = None) -> PostedMessage:
        message = self._record(channel, entry, key, entry.card.paper.title)
        self._console.print(paper_panel(entry.card, rank=entry.rank, abstract=self._abstracts, updated=entry.updated))
        return message

    async def say(self, channel: ChannelRef, text: str, *, key: PostKey | None = None) -> PostedMessage:
        message = self._record(channel, None, key, text)
        self._console.print(Text(text, style="bold magenta"))
        return message

    async def find(
        self, channel: ChannelRef, keys: Collection[PostKey], *, since: datetime
    ) -> dict[PostKey, list[str]]:
        """Messages in the log carrying one of `keys` in `channel` (without a log: this process's own)."""
        wanted = {str(key): key for key in keys}
        found: dict[PostKey, list[str]] = {}
        for line in self.visible(channel):
            key = wanted.get(line.get("key") or "")
            if key is not None:  # keys name their day: every line is a candidate
                found.setdefault(key, []).append(line["id"])
        return found

    async def delete(self, channel: ChannelRef, message_id: str) -> None:
        self._append({"deleted": message_id, "channel": channel.key, "at": _now()})
        self.posted = [(m, e) for m, e in self.posted if m.message_id != message_id]
        self._console.print(Text(f"(removed an extra copy of a digest message: {message_id})", style="dim"))

    # ── journal club (issue 19): the console records votes in the core, like Slack ──────────────────────────────

    async def start_poll(self, channel: ChannelRef, draft: PollDraft, *, key: PostKey) -> PostedMessage:
        message = self._record(channel, None, key, f"journal-club poll #{draft.poll_id}")
        self.polls[draft.poll_id] = message
        self._console.print(poll_panel(draft))
        return message

    async def end_poll(self, channel: ChannelRef, message_id: str, *, final: PollDraft) -> PollTally | None:
        return None  # the votes are the core's: it counts them

    async def announce_winner(self, channel: ChannelRef, outcome: PollOutcome, *, key: PostKey) -> PostedMessage:
        message = self._record(channel, None, key, winner_announcement(outcome))
        self._console.print(Text(winner_announcement(outcome), style="bold magenta"))
        self._console.print(paper_panel(outcome.winner, abstract=False))
        return message

    async def tell_admin(self, channel: ChannelRef, user_id: str, text: str) -> bool:
        return False  # a terminal has no private messages; the pause shows in `hotpapers status`

    async def open_thread(self, channel: ChannelRef, message_id: str, *, name: str, opener: str) -> str:
        """A thread on one of the log's messages: its id is the message id. Opened once: a second call (from this
        process or another sharing the log) finds the log's `thread` line and prints nothing."""
        if message_id in self.threads(channel):
            return message_id
        self._append({"thread": message_id, "channel": channel.key, "name": name[:100], "at": _now()})
        self._opened.add((channel.key, message_id))
        self._console.print(Text(f"🧵 {name} — {opener}", style="cyan"))
        return message_id

    async def permalink(self, channel: ChannelRef, message_id: str) -> str:
        """A terminal has no links: the message id, as the log and `/thread` name it."""
        return message_reference(message_id)

    def reply(self, channel: ChannelRef, thread_id: str, user: str, text: str) -> str:
        """The console user's reply in a thread: shown, never logged (only who replied is counted, by the
        engine). Returns the reply's message id."""
        message_id = f"{self._prefix}-{next(self._ids)}"
        line = Text("  ↳ ", style="cyan")
        line.append(f"{user[:40]}: ", style="bold")
        line.append(clean_text(text)[:500])
        self._console.print(line)
        return message_id

    def threads(self, channel: ChannelRef) -> set[str]:
        """The ids of the threads open in `channel` (from the log; without one, this process's own)."""
        opened = {message_id for key, message_id in self._opened if key == channel.key}
        if self._log is not None:
            lines = read_log(self._log)
            opened |= {line["thread"] for line in lines if "thread" in line and line.get("channel") == channel.key}
        return opened

    def visible(self, channel: ChannelRef | None = None) -> list[dict[str, Any]]:
        """The log's messages that were not deleted (this process's own when there is no log)."""
        if self._log is None:
            lines = [{"id": m.message_id, "channel": m.channel.key, "at": ""} for m, _ in self.posted]
        else:
            lines = read_log(self._log)
        deleted = {line["deleted"] for line in lines if "deleted" in line}
        return [
            line
            for line in lines
            if "id" in line and line["id"] not in deleted and (channel is None or line["channel"] == channel.key)
        ]

    def _record(self, channel: ChannelRef, entry: DigestEntry | None, key: PostKey | None, text: str) -> PostedMessage:
        message = PostedMessage(channel, f"{self._prefix}-{next(self._ids)}")
        line = {"id": message.message_id, "channel": channel.key, "key": str(key) if key else None, "at": _now()}
        self._append({**line, "text": text[:200]})
        self.posted.append((message, entry))
        return message

    def _append(self, line: dict[str, Any]) -> None:
        if self._log is None:
            return
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        descriptor = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, data)  # one write of one line: appends from several processes never interleave
        finally:
            os.close(descriptor)


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every whole line of a posts log (a missing log is an empty one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return lines


def _now() -> str:
    return datetime.now(UTC).isoformat()
