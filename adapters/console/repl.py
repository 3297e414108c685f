"""`hotpapers console`: the engine's commands in a terminal, one line at a time (works with piped input too)."""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Callable
from datetime import date

from rich.console import Console
from rich.text import Text

from adapters.console.publisher import ConsolePublisher
from adapters.console.render import digest_table, paper_panel, poll_panel
from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.errors import BadInput, HotPapersError
from bot.domain.messages import (
    describe,
    history_lines,
    people_count,
    poll_close_answer,
    poll_started,
    poll_vote_receipt,
    reported_note,
    roundup_result,
    summary_author,
    summary_saved,
    vote_receipt,
)
from bot.domain.model import ChannelRef, DigestResult, ReplyEvent, VoteEvent, VoteValue
from bot.domain.ports import ChatService
from bot.domain.text import announcement_day, whole_number

log = logging.getLogger(__name__)
MAX_RANK = 25
"""A digest has at most 25 entries ([digest] top_n ≤ 25)."""

HELP = """Commands:
  /paper REF                 abstract, summary and why it is hot (REF: 2010.00577, arXiv:…, an arxiv.org URL)
  /digest [YYYY-MM-DD]       preview this channel's digest (default: the latest announcement)
  /post [YYYY-MM-DD]         post the digest here (once per day; votes then work on its entries)
  /top [DAYS]                the most up-voted papers here in the last DAYS days (default 7)
  /vote N|REF up|down [remove]   vote on digest entry N (or a paper); `remove` takes the vote back
  /summarize REF TEXT…       add a community summary
  /summary up|down ID        vote on community summary #ID (the most up-voted one is shown)
  /report REF                report the summary shown for a paper (three reports hide it)
  /regenerate REF            ask the LLM again for a paper's summary (when [llm] is enabled)
  /subscribe [key=value …]   e.g. categories=cs.LG,cs.CL keywords=diffusion time=09:00 tz=Europe/Berlin top=5
  /unsubscribe               stop the daily digest here
  /settings                  show this channel's settings
  /subscribe publish=yes     make this channel's digests a public web page and Atom feed (then publish=confirm);
                             publish=no turns it off, /settings publish=rotate gives it a new URL
  /thread N|REF TEXT…        reply in the discussion thread of digest entry N (or a paper posted here),
                             opened if needed; the people who reply move it up in this channel's ranking
  /roundup                   post this week's roundup here now: the top papers by votes and discussion
  /journalclub start [candidates=5] [closes=48h]   a poll over the week's top papers here (closes: 36h, 2d,
                             2020-11-09T17:00); /journalclub vote N · close (announce the winner) · history
  /forget-me                 delete your votes, summaries, thread replies and poll votes (a data-deletion request)
  /help                      this text
  /quit                      leave"""


class ConsoleSession:
    def __init__(self, service: ChatService, console: Console, *, channel: ChannelRef, user: str) -> None:
        self._service = service
        self._console = console
        self._channel = channel
        self._user = user
        self._publisher = ConsolePublisher(console)
        self._commands: dict[str, Callable[[list[str]], object]] = {
            "paper": self._paper,
            "digest": self._digest,
            "post": self._post,
            "top": self._top,
            "vote": self._vote,
            "summarize": self._summarize,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "settings": self._settings,
            "help": self._help,
            "summary": self._summary_vote,
            "report": self._report,
            "regenerate": self._regenerate,
            "forget-me": self._forget_me,
            "thread": self._thread,
            "roundup": self._roundup,
            "journalclub": self._journal_club,
        }

    async def handle(self, line: str) -> bool:
        """Run one command line; False means quit."""
        line = line.strip()
        if not line:
            return True
        try:
            words = shlex.split(line)
        except ValueError as error:
            self._error(f"cannot read that line: {error}")
            return True
        name = words[0].lstrip("/").lower()
        if name in ("quit", "exit", "q"):
            return False
        command = self._commands.get(name)
        if command is None:
            self._error(f"unknown command {words[0][:30]!r}; type /help")
            return True
        try:
            await command(words[1:])  # type: ignore[misc]
        except HotPapersError as error:
            self._error(str(error))
        except Exception as error:  # the session outlives any one bad line: answer, then read the next
            log.debug("console command %r failed", name, exc_info=True)
            self._error(f"that did not work ({type(error).__name__}); the session goes on")
        return True

    async def _paper(self, args: list[str]) -> None:
        if not args:
            raise BadInput("usage: /paper REF")
        # A pasted Slack link keeps its label's spaces: <https://arxiv.org/abs/2010.00577|Interpreting GNNs>
        self._console.print(paper_panel(await self._service.paper(" ".join(args), self._channel, user=self._user)))

    async def _digest(self, args: list[str]) -> None:
        self._console.print(digest_table(await self._service.digest(self._channel, _day(args))))

    async def _post(self, args: list[str]) -> None:
        require_console_channel(self._channel, "/post")
        result = await self._service.post_digest(self._channel, _day(args), self._publisher)
        said = post_outcome(result, "here", announce_empty=(await self._service.settings(self._channel)).announce_empty)
        if said:
            self._console.print(Text(said, style="yellow"))

    async def _top(self, args: list[str]) -> None:
        days = whole_number(args[0], what="DAYS", low=1, high=365) if args else 7
        cards = await self._service.top(self._channel, days)
        if not cards:
            self._console.print("No votes here yet: react 👍 to a digest entry with /vote N up.")
        for rank, card in enumerate(cards, 1):
            self._console.print(paper_panel(card, rank=rank, abstract=False))

    async def _vote(self, args: list[str]) -> None:
        if len(args) not in (2, 3) or args[1] not in ("up", "down") or (len(args) == 3 and args[2] != "remove"):
            raise BadInput("usage: /vote N|REF up|down [remove]")
        value: VoteValue = 1 if args[1] == "up" else -1
        removed = len(args) == 3
        if args[0].isdigit():  # any digits, '²' included: the helper accepts ASCII digits in range only
            message = self._message_for_rank(whole_number(args[0], what="N (a digest entry)", low=1, high=MAX_RANK))
            event = VoteEvent(self._channel, self._user, message, value, removed=removed, reaction=args[1])
        else:
            card = await self._service.paper(args[0], self._channel)
            event = VoteEvent(
                self._channel, self._user, "", value, removed=removed, reaction=args[1], paper_id=card.paper.id
            )
        tally = await self._service.record_vote(event)
        self._console.print(Text(vote_receipt(value, tally, removed=removed)))

    async def _thread(self, args: list[str]) -> None:
        if len(args) < 2:
            raise BadInput("usage: /thread N|REF TEXT…")
        target = args[0]
        if target.isdigit():  # digest entry N, as /vote reads it
            target = self._message_for_rank(whole_number(target, what="N (a digest entry)", low=1, high=MAX_RANK))
        opened = await self._service.discuss(self._channel, target, self._publisher)
        reply = self._publisher.reply(self._channel, opened.thread_id, self._user, " ".join(args[1:]))
        event = ReplyEvent(self._channel, opened.thread_id, reply, self._user)
        discussion = await self._service.record_reply(event)
        people = discussion.people if discussion else opened.people
        self._console.print(Text(f"💬 {people_count(people)} in the thread on arXiv:{opened.paper_id} here."))

    async def _roundup(self, args: list[str]) -> None:
        if args:
            raise BadInput("usage: /roundup (this week's, posted once)")
        require_console_channel(self._channel, "/roundup")
        result = await self._service.post_roundup(self._channel, self._publisher)
        self._console.print(Text(roundup_result(result.state, result.roundup), style="yellow"))

    async def _summarize(self, args: list[str]) -> None:
        if len(args) < 2:
            raise BadInput("usage: /summarize REF TEXT…")
        summary = await self._service.add_summary(
            args[0],
            self._channel,
            author=self._user,
            text=" ".join(args[1:]),
            author_id=summary_author("console", self._user),
        )
        self._console.print(Text(summary_saved(parse_arxiv_id(args[0]).id, number=summary.id)))

    async def _summary_vote(self, args: list[str]) -> None:
        if len(args) != 2 or args[0] not in ("up", "down"):
            raise BadInput("usage: /summary up|down ID")
        value = 1 if args[0] == "up" else -1
        summary_id = whole_number(args[1].removeprefix("#"), what="ID", low=1)
        summary = await self._service.vote_summary(self._channel, self._user, summary_id, value)
        self._console.print(f"Summary #{summary.id} now has {summary.votes:+d}.")

    async def _report(self, args: list[str]) -> None:
        if len(args) != 1:
            raise BadInput("usage: /report REF")
        card = await self._service.report_summary(args[0], self._channel, user_id=self._user)
        self._console.print(Text(reported_note(card)))

    async def _regenerate(self, args: list[str]) -> None:
        if len(args) != 1:
            raise BadInput("usage: /regenerate REF")
        self._console.print(paper_panel(await self._service.regenerate_summary(args[0], self._channel)))

    async def _subscribe(self, args: list[str]) -> None:
        options = {}
        for arg in args:
            key, sep, value = arg.partition("=")
            if not sep:
                raise BadInput(f"{arg[:40]!r}: write settings as key=value, e.g. categories=cs.LG,cs.CL")
            options[key] = value
        publish = options.pop("publish", None)
        if publish is None or options:
            settings = await self._service.subscribe(self._channel, options)
            self._console.print(Text("Subscribed.\n" + describe(settings)))
        if publish is not None:
            await self._publish(publish, "/subscribe")

    async def _unsubscribe(self, _args: list[str]) -> None:
        await self._service.unsubscribe(self._channel)
        self._console.print("Unsubscribed: no more daily digests here.")

    async def _settings(self, args: list[str]) -> None:
        publish = [arg.partition("=")[2] for arg in args if arg.lower().startswith("publish=")]
        if len(publish) != len(args) or len(publish) > 1:
            raise BadInput("usage: /settings, or /settings publish=rotate (change other settings with /subscribe)")
        if publish:
            await self._publish(publish[0], "/subscribe")
            return
        self._console.print(Text(describe(await self._service.settings(self._channel))))

    async def _publish(self, action: str, command: str) -> None:
        """The channel's public page (issue 20): `publish=yes` shows what becomes public, `publish=confirm` turns
        it on and prints its URL once, `publish=no` turns it off, `publish=rotate` issues a new URL."""
        answer = await self._service.publish(self._channel, action, command=command)
        self._console.print(Text(answer.text))

    async def _forget_me(self, args: list[str]) -> None:
        if args:
            raise BadInput("usage: /forget-me (deletes your votes, summaries and thread replies)")
        removed = await self._service.forget_user(self._channel.platform, self._user)
        self._console.print(Text(forgotten_text(self._user, removed)))

    async def _journal_club(self, args: list[str]) -> None:
        """`/journalclub start [candidates=N] [closes=…] | vote N | close | history` (issue 19). The person at the
        terminal is the channel's admin."""
        action = args[0].lower() if args else ""
        if action == "start":
            options = dict(arg.partition("=")[::2] for arg in args[1:])
            if any("=" not in arg for arg in args[1:]) or set(options) - {"candidates", "closes"}:
                raise BadInput("usage: /journalclub start [candidates=5] [closes=48h]")
            require_console_channel(self._channel, "/journalclub start")
            start = await self._service.journal_club_start(
                self._channel, self._publisher, candidates=options.get("candidates"), closes=options.get("closes"),
                by=self._user,
            )  # fmt: skip
            self._console.print(Text(poll_started(start), style="yellow"))
        elif action == "vote" and len(args) == 2:
            choice = whole_number(args[1], what="N (an answer of the poll)", low=1, high=10)
            message = self._poll_message()
            draft, before = await self._service.poll_vote(self._channel, message, self._user, choice - 1)
            self._console.print(Text(poll_vote_receipt(draft, choice - 1, changed_from=before)))
            self._console.print(poll_panel(draft))
        elif action == "close" and len(args) == 1:
            require_console_channel(self._channel, "/journalclub close")
            said = poll_close_answer(await self._service.journal_club_close(self._channel, self._publisher))
            if said:
                self._console.print(Text(said, style="yellow"))
        elif action == "history" and len(args) == 1:
            self._console.print(Text("\n".join(history_lines(await self._service.journal_club_history(self._channel)))))
        else:
            raise BadInput("usage: /journalclub start [candidates=5] [closes=48h] | vote N | close | history")

    def _poll_message(self) -> str:
        """The message of the open poll this session posted (the console's votes name it, like a button would)."""
        if not self._publisher.polls:
            raise BadInput("no journal-club poll was started in this session; /journalclub start first")
        return self._publisher.polls[max(self._publisher.polls)].message_id

    async def _help(self, _args: list[str]) -> None:
        self._console.print(Text(HELP))

    def _message_for_rank(self, rank: int) -> str:
        for message, entry in reversed(self._publisher.posted):
            if entry is not None and entry.rank == rank:
                return message.message_id
        raise BadInput(f"no digest entry {rank} was posted in this session; /post first")

    def _error(self, text: str) -> None:
        self._console.print(Text(f"✗ {text}", style="red"))


async def run_repl(service: ChatService, console: Console, *, channel: ChannelRef, user: str) -> None:
    session = ConsoleSession(service, console, channel=channel, user=user)
    console.print(Text(f"hotpapers console — channel {channel.key}. Type /help for commands, /quit to leave."))
    while True:
        try:
            line = await asyncio.to_thread(input, "hotpapers> ")
        except EOFError:
            break
        if not await session.handle(line):
            break


def forgotten_text(user: str, removed: int) -> str:
    return f"Deleted {removed} votes, summaries and thread replies by {user[:100]}; nothing else about them is stored."


def require_console_channel(channel: ChannelRef, command: str) -> None:
    """The terminal posts to console channels only: posting here must never use up another platform's day."""
    if channel.platform != "console":
        raise BadInput(
            f"{command} posts to console channels only; {channel.key[:60]} gets its digest from `hotpapers run` "
            f"(the {channel.platform[:16]} adapter)"
        )


def post_outcome(result: DigestResult, where: str, *, announce_empty: bool) -> str | None:
    """What to tell the person who asked for a post, beyond the messages themselves (None: they say it all)."""
    day = result.digest.day
    if result.state == "done-before":
        return f"The digest for {day} was already posted {where}."
    if result.state == "held-elsewhere":
        progress = f"{result.skipped_already_posted} of {result.planned} posted; " if result.planned else ""
        until = f" until {result.held_until:%H:%M:%S} UTC" if result.held_until else ""
        return f"The digest for {day} {where}: {progress}held by another process{until}."
    if result.state == "resumed":
        done = result.skipped_already_posted
        return f"Resumed after {done} of {result.planned} were posted: posted the other {result.posted}."
    if result.state == "paused" and result.pause is not None:
        return f"Paused {where}: {result.pause.reason}; to fix it: {result.pause.fix}."
    if result.state == "empty" and not announce_empty:
        if not result.digest.announced:
            return f"{result.digest.header} Nothing was posted."
        return f"Nothing matched this channel's filters for {day}: nothing was posted, and the day stays open."
    return None


def _day(args: list[str]) -> date | None:
    return announcement_day(args[0]) if args else None
