"""`hotpapers [--config PATH] COMMAND`. Every failure is one line on stderr and an exit code:
0 ok · 2 bad input or config · 3 not found · 4 upstream unavailable (arXiv, the database) · 1 anything else."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from rich.console import Console

from bot.arxiv_id import parse_arxiv_id
from bot.bootstrap import build
from bot.config import Config, console_log, load_config
from bot.errors import BadInput, HotPapersError, UpstreamUnavailable
from bot.json_view import card_json, digest_json
from bot.model import ChannelRef

ADAPTERS = {"console": "adapters.console", "discord": "adapters.discord", "slack": "adapters.slack"}
"""Adapters are reached only by name, so the core never imports a platform library."""
DEFAULT_CHANNEL = "console:local:default"

log = logging.getLogger("hotpapers")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    if args.command != "run":  # `run` configures logging from [logging]
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        return asyncio.run(args.handler(args, config, console)) or 0
    except HotPapersError as error:
        _fail(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as error:  # the last line of defence: one line, never a traceback
        log.debug("unexpected error", exc_info=True)
        _fail(f"unexpected {type(error).__name__}: {str(error)[:300]}")
        return 1


def _fail(message: str) -> None:
    """One line on stderr, whatever the terminal width."""
    print(f"hotpapers: {' '.join(message.split())}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotpapers", description="Today's hottest arXiv papers, in your chat.")
    parser.add_argument("--config", metavar="PATH", help="TOML config file (default: $HOTPAPERS_CONFIG, else defaults)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[..., Awaitable[int | None]], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    command("demo", _demo, "run offline on the bundled sample data and show a digest and a /paper answer")
    console = command("console", _console, "interactive terminal with the chat commands (/paper, /digest, …)")
    console.add_argument("--channel", default=DEFAULT_CHANNEL, help="channel key platform:workspace:channel")
    console.add_argument("--user", default="you", help="your name for votes and summaries")
    console.add_argument("--sample", action="store_true", help="offline, on the sample data in a temporary database")
    paper = command("paper", _paper, "show one paper: abstract, summary, signals, votes and why it is hot")
    paper.add_argument("ref", help="arXiv id or URL, e.g. 2010.00577 or https://arxiv.org/abs/2010.00577v2")
    paper.add_argument("--channel", default=None, help="count votes of this channel (platform:workspace:channel)")
    paper.add_argument("--json", action="store_true", help="print one JSON document")
    digest = command("digest", _digest, "preview (or --post) a channel's digest")
    digest.add_argument("--channel", default=DEFAULT_CHANNEL)
    digest.add_argument("--date", type=_date, default=None, help="announcement day YYYY-MM-DD (default: latest)")
    digest.add_argument("--json", action="store_true")
    digest.add_argument("--post", action="store_true", help="post it to the terminal (once per channel and day)")
    digest.add_argument("--wait", action="store_true", help="with --post: wait for another process's claim to end")
    ingest = command("ingest", _ingest, "fetch the day's arXiv announcements, their metadata and signals")
    ingest.add_argument("--date", type=_date, default=None, help="only if the feed is for this day")
    command("signals", _signals, "probe each popularity source and show its health")
    summary = command("summary", _db_help, "summary commands: report a bad summary, regenerate an LLM summary")
    summary_commands = summary.add_subparsers(dest="summary_command", required=True, metavar="ACTION")
    report = summary_commands.add_parser("report", help="report the summary shown for a paper (3 reports hide it)")
    report.add_argument("ref")
    report.add_argument("--channel", default=DEFAULT_CHANNEL)
    report.add_argument("--user", required=True, help="who reports (one report per person counts)")
    report.set_defaults(handler=_summary_report)
    regenerate = summary_commands.add_parser("regenerate", help="ask the LLM again for a paper's summary")
    regenerate.add_argument("ref")
    regenerate.set_defaults(handler=_summary_regenerate)
    db = command("db", _db_help, "database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply the migrations")
    upgrade.set_defaults(handler=_db_upgrade)
    command("run", _run, "run the enabled adapters and the scheduler until stopped")
    command("status", _status, "subscriptions, next runs, last digest per channel, signal health")
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _adapter(name: str, module: str = "") -> Any:
    return importlib.import_module(ADAPTERS[name] + (f".{module}" if module else ""))


async def _demo(args: argparse.Namespace, config: Config, console: Console) -> None:
    await _adapter("console", "demo").run_demo(console, config)


async def _console(args: argparse.Namespace, config: Config, console: Console) -> None:
    repl = _adapter("console", "repl")
    channel = ChannelRef.parse(args.channel)
    if args.sample:
        demo = _adapter("console", "demo")
        await demo.run_sample_repl(console, config, channel=channel, user=args.user)
        return
    async with await build(config) as app:
        await repl.run_repl(app.service, console, channel=channel, user=args.user)


async def _paper(args: argparse.Namespace, config: Config, console: Console) -> None:
    parse_arxiv_id(args.ref)  # refuse bad input before touching the database or the network
    channel = ChannelRef.parse(args.channel) if args.channel else None
    async with await build(config) as app:
        card = await app.service.paper(args.ref, channel)
    if args.json:
        print(json.dumps(card_json(card), ensure_ascii=False, indent=2))
    else:
        console.print(_adapter("console", "render").paper_panel(card))


async def _digest(args: argparse.Namespace, config: Config, console: Console) -> None:
    channel = ChannelRef.parse(args.channel)
    async with await build(config) as app:
        if args.post:
            publisher = _adapter("console", "publisher").ConsolePublisher(console, log=console_log(config))
            await _post_digest(app, channel, args.date, publisher, console, wait=args.wait)
            return
        digest = await app.service.digest(channel, args.date)
    if args.json:
        print(json.dumps(digest_json(digest), ensure_ascii=False, indent=2))
    else:
        console.print(_adapter("console", "render").digest_table(digest))


async def _post_digest(
    app: Any, channel: ChannelRef, day: date | None, publisher: Any, console: Console, *, wait: bool
) -> None:
    while True:
        result = await app.service.post_digest(channel, day, publisher)
        if result.state != "held-elsewhere":
            break
        until = result.held_until
        progress = f"{result.skipped_already_posted} of {result.planned} posted; " if result.planned else ""
        if until is None or not wait:
            when = f" until {until:%H:%M:%S} UTC" if until else ""
            raise UpstreamUnavailable(
                f"the digest for {result.digest.day} in {channel.key}: {progress}held by another process{when}; "
                "retry then, or use --wait"
            )
        console.print(f"Waiting: {progress}held by another process until {until:%H:%M:%S} UTC.", markup=False)
        await asyncio.sleep(max((until - app.service.now()).total_seconds(), 0) + 0.5)
    day_text, key = result.digest.day, channel.key
    if result.state == "done-before":
        console.print(f"The digest for {day_text} was already posted in {key}.", markup=False)
    elif result.state == "resumed":
        done = result.skipped_already_posted
        console.print(f"Resumed after {done} of {result.planned} were posted: posted the other {result.posted}.",
                      markup=False)  # fmt: skip
    elif result.state == "paused" and result.pause is not None:
        raise UpstreamUnavailable(f"{key} is paused: {result.pause.reason}; to fix it: {result.pause.fix}")


async def _ingest(args: argparse.Namespace, config: Config, console: Console) -> None:
    progress = _adapter("console", "progress").RichProgress(console)
    async with await build(config) as app:
        with progress:
            report = await app.service.ingest(args.date, progress=progress)
    console.print(
        f"Ingested {report.announced} announced papers for {report.day}: {report.new_papers} new, "
        f"{report.updated_papers} updated, {report.requests} arXiv requests."
    )


async def _signals(args: argparse.Namespace, config: Config, console: Console) -> None:
    async with await build(config) as app:
        health = await app.service.probe_signals()
    console.print(_adapter("console", "render").health_table(health))


async def _db_help(args: argparse.Namespace, config: Config, console: Console) -> None:
    raise BadInput(f"usage: hotpapers {args.command} ACTION (see hotpapers {args.command} --help)")


async def _summary_report(args: argparse.Namespace, config: Config, console: Console) -> None:
    parse_arxiv_id(args.ref)
    async with await build(config) as app:
        card = await app.service.report_summary(args.ref, ChannelRef.parse(args.channel), user_id=args.user)
    console.print(f"Reported. {card.paper.id} now shows: {card.summary.provenance}.", markup=False)


async def _summary_regenerate(args: argparse.Namespace, config: Config, console: Console) -> None:
    parse_arxiv_id(args.ref)
    async with await build(config) as app:
        card = await app.service.regenerate_summary(args.ref)
    console.print(_adapter("console", "render").paper_panel(card))


async def _db_upgrade(args: argparse.Namespace, config: Config, console: Console) -> None:
    async with await build(config, offline=True):
        pass
    console.print("Database is up to date.")


async def _run(args: argparse.Namespace, config: Config, console: Console) -> None:
    runner = importlib.import_module("bot.runner")
    await runner.run(config, adapters=ADAPTERS)


async def _status(args: argparse.Namespace, config: Config, console: Console) -> None:
    runner = importlib.import_module("bot.runner")
    await runner.print_status(config, console)


if __name__ == "__main__":
    sys.exit(main())
