"""`hotpapers [--config PATH] COMMAND`. Every failure is one line on stderr and an exit code:
0 ok · 2 bad input or config · 3 not found · 4 upstream unavailable (arXiv, the database) · 1 anything else."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.domain.arxiv_id import parse_arxiv_id
from bot.domain.errors import BadInput
from bot.domain.model import ChannelRef
from bot.runtime.json_view import card_json, digest_json

if TYPE_CHECKING:  # imported by the commands that need them, so `hotpapers --help` starts in a blink
    from rich.console import Console

    from bot.domain.config import Config
    from bot.runtime.bootstrap import App

ADAPTERS = {"console": "adapters.console", "discord": "adapters.discord", "slack": "adapters.slack"}
"""Adapters are reached only by name, so the core never imports a platform library."""
DEFAULT_CHANNEL = "console:local:default"
WAIT_POLL_SECONDS = 5.0
"""`digest --post --wait` looks again at least this often."""

CONFIG_ENV = "HOTPAPERS_CONFIG"  # bot.domain.config.CONFIG_ENV, without importing pydantic for --help


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _terminal.cache_clear()  # one terminal per command, made when it first prints (as before, per `main` call)
    import asyncio
    import logging

    from bot.domain.errors import ConfigError, HotPapersError

    if args.command != "run":  # `run` configures logging from [logging]
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        # A one-shot command shows a signal outage where it matters ("HN unavailable" on the card, the `signals`
        # table and its exit code); a log line per source on top would only make the one line of a failure three.
        logging.getLogger("bot.app.signals").setLevel(logging.ERROR)
    source = args.config or os.environ.get(CONFIG_ENV)
    try:
        from bot.domain.config import load_config
        from bot.runtime.sections import check_sections

        config = load_config(args.config)
        check_sections(config, ADAPTERS)
        return asyncio.run(args.handler(args, config)) or 0
    except ConfigError as error:
        message = str(error)
        _fail(message if not source or message.startswith(str(source)) else f"{source}: {message}")
        return error.exit_code
    except HotPapersError as error:
        _fail(str(error))
        return error.exit_code
    except BrokenPipeError:  # `hotpapers digest --json | head -1`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as error:  # the last line of defence: one line, never a traceback
        logging.getLogger("hotpapers").debug("unexpected error", exc_info=True)
        _fail(f"unexpected {type(error).__name__}: {str(error)[:300]}")
        return 1


@functools.cache
def _terminal() -> Console:
    """The terminal, through rich: made when the command first prints to it (`paper --json` and `run` never do)."""
    from rich.console import Console

    return Console(highlight=False)


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
    forget = command(
        "forget-user", _forget_user, "delete one person's votes, summaries and thread replies (data-deletion request)"
    )
    forget.add_argument("platform", choices=("discord", "slack", "console"), help="where the person votes")
    forget.add_argument("user_id", help="their user id there (Discord snowflake, Slack U…, console name)")
    sample = command("sample", _db_help, "the bundled sample data (2020's Hot Papers posts), to try things offline")
    sample_commands = sample.add_subparsers(dest="sample_command", required=True, metavar="ACTION")
    load = sample_commands.add_parser("load", help="load the sample papers into the configured database")
    load.set_defaults(handler=_sample_load)
    db = command("db", _db_help, "database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply the migrations")
    upgrade.set_defaults(handler=_db_upgrade)
    web = command("web", _db_help, "the channels' public pages (opt-in per channel: /hotpapers subscribe publish=yes)")
    web_commands = web.add_subparsers(dest="web_command", required=True, metavar="ACTION")
    export = web_commands.add_parser("export", help="write a published channel's pages and feed as static files")
    export.add_argument("dir", help="folder to write (created if missing)")
    export.add_argument("--channel", default=DEFAULT_CHANNEL, help="channel key platform:workspace:channel")
    export.add_argument("--base-url", default=None, help="where DIR will be served (absolute feed links)")
    export.set_defaults(handler=_web_export)
    command("run", _run, "run the enabled adapters and the scheduler until stopped")
    command("status", _status, "subscriptions, next runs, last digest per channel, signal health")
    return parser


def _date(text: str) -> date:
    from bot.domain.text import announcement_day

    try:
        return announcement_day(text)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


async def _build(config: Config, **options: Any) -> App:
    from bot.runtime.bootstrap import build

    return await build(config, **options)


def _adapter(name: str, module: str = "") -> Any:
    return importlib.import_module(ADAPTERS[name] + (f".{module}" if module else ""))


async def _demo(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    await _adapter("console", "demo").run_demo(console, config)


async def _console(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    repl = _adapter("console", "repl")
    channel = ChannelRef.parse(args.channel)
    if args.sample:
        demo = _adapter("console", "demo")
        await demo.run_sample_repl(console, config, channel=channel, user=args.user)
        return
    async with await _build(config) as app:
        await repl.run_repl(app.service, console, channel=channel, user=args.user)


async def _paper(args: argparse.Namespace, config: Config) -> None:
    parse_arxiv_id(args.ref)  # refuse bad input before touching the database or the network
    channel = ChannelRef.parse(args.channel) if args.channel else None
    from bot.runtime.stored_paper import stored_card

    card = await stored_card(config, args.ref, channel)  # a stored paper on SQLite: no SQLAlchemy, no network
    if card is None:
        async with await _build(config) as app:
            card = await app.service.paper(args.ref, channel)
    if args.json:
        print(json.dumps(card_json(card), ensure_ascii=False, indent=2))
    else:
        _terminal().print(_adapter("console", "render").paper_panel(card))


async def _digest(args: argparse.Namespace, config: Config) -> None:
    channel = ChannelRef.parse(args.channel)
    repl = _adapter("console", "repl")
    if args.post:
        repl.require_console_channel(channel, "digest --post")
    async with await _build(config) as app:
        if args.post:
            await _post_digest(app, channel, args.date, _terminal(), config, wait=args.wait)
            return
        digest = await app.service.digest(channel, args.date)
    if args.json:
        print(json.dumps(digest_json(digest), ensure_ascii=False, indent=2))
    else:
        _terminal().print(_adapter("console", "render").digest_table(digest))


async def _post_digest(
    app: App, channel: ChannelRef, day: date | None, console: Console, config: Config, *, wait: bool
) -> None:
    """Post to the terminal (and the console's posts log). A digest another process holds is one line and exit 4,
    or with `wait` a wait until its lease ends, then a takeover."""
    import asyncio

    from bot.domain.errors import UpstreamUnavailable
    from bot.runtime.sections import console_log

    repl = _adapter("console", "repl")
    publisher = _adapter("console", "publisher").ConsolePublisher(console, log=console_log(config))
    where, told = f"in {channel.key}", False
    while True:
        result = await app.service.post_digest(channel, day, publisher)
        if result.state != "held-elsewhere":
            break
        held = repl.post_outcome(result, where, announce_empty=False)
        if result.held_until is None or not wait:
            raise UpstreamUnavailable(f"{held[:-1]}; retry then, or use --wait")
        if not told:
            console.print(f"{held} Waiting for it to end (--wait).", markup=False)
            told = True
        # Look again when the lease ends, or sooner: a holder that stops (or dies and is released) frees it early.
        remaining = (result.held_until - app.operations.now()).total_seconds()
        await asyncio.sleep(min(max(remaining, 0) + 0.5, WAIT_POLL_SECONDS))
    settings = await app.service.settings(channel)
    said = repl.post_outcome(result, where, announce_empty=settings.announce_empty)
    if result.state == "paused":
        raise UpstreamUnavailable(said or "the channel is paused")
    if said:
        console.print(said, markup=False)


async def _ingest(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    progress = _adapter("console", "progress").RichProgress(console)
    async with await _build(config) as app:
        with progress:
            report = await app.operations.ingest(args.date, progress=progress)
    console.print(
        f"Ingested {report.announced} announced papers for {report.day}: {report.new_papers} new, "
        f"{report.updated_papers} updated, {report.requests} arXiv requests."
    )


async def _signals(args: argparse.Namespace, config: Config) -> None:
    from bot.domain.errors import UpstreamUnavailable

    console = _terminal()
    async with await _build(config) as app:
        health = await app.operations.probe_signals()
    console.print(_adapter("console", "render").health_table(health))
    failing = [row for row in health if row.enabled and row.failing]
    if failing:
        reasons = "; ".join(f"{row.name}: {row.last_error}" for row in failing)
        raise UpstreamUnavailable(
            f"{len(failing)} of {sum(r.enabled for r in health)} signal sources unreachable ({reasons})"
        )


async def _db_help(args: argparse.Namespace, config: Config) -> None:
    raise BadInput(f"usage: hotpapers {args.command} ACTION (see hotpapers {args.command} --help)")


async def _summary_report(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    parse_arxiv_id(args.ref)
    async with await _build(config) as app:
        card = await app.service.report_summary(args.ref, ChannelRef.parse(args.channel), user_id=args.user)
    console.print(f"Reported. {card.paper.id} now shows: {card.summary.provenance}.", markup=False)


async def _summary_regenerate(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    parse_arxiv_id(args.ref)
    async with await _build(config) as app:
        card = await app.service.regenerate_summary(args.ref)
    console.print(_adapter("console", "render").paper_panel(card))


async def _forget_user(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    if not args.user_id.strip() or len(args.user_id) > 100:
        raise BadInput("USER_ID must be 1 to 100 characters")
    async with await _build(config, offline=True) as app:
        removed = await app.service.forget_user(args.platform, args.user_id.strip())
    text = _adapter("console", "repl").forgotten_text(f"{args.platform}:{args.user_id.strip()}", removed)
    console.print(text, markup=False)


async def _sample_load(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    from bot.runtime.sample import SIGNAL_NOTE, load_sample_once

    async with await _build(config, offline=True) as app:
        loaded = await load_sample_once(app.uow, now=app.clock.now())
    what = "was already loaded" if loaded.already else "is loaded"
    console.print(
        f"The sample {what}: {loaded.papers} papers announced {loaded.first_day} … {loaded.last_day}, their tweet "
        f"counts and {loaded.summaries} community summaries. Try: hotpapers paper 2010.00577 --json · "
        f"hotpapers digest --date {loaded.last_day} --json",
        markup=False,
    )
    console.print(SIGNAL_NOTE, markup=False)


async def _db_upgrade(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    async with await _build(config, offline=True):
        pass
    console.print("Database is up to date.")


async def _web_export(args: argparse.Namespace, config: Config) -> None:
    console = _terminal()
    from pathlib import Path

    from bot.domain.web_settings import WebSettings
    from bot.web.archive import ChannelArchive
    from bot.web.export import export_pages

    channel = ChannelRef.parse(args.channel)
    base_url = args.base_url if args.base_url is not None else WebSettings.from_config(config).base_url
    async with await _build(config, offline=True) as app:
        written = await export_pages(ChannelArchive(app.uow), channel, Path(args.dir), base_url=base_url)
    console.print(f"Wrote {len(written)} files to {args.dir} (open index.html).", markup=False)


async def _run(args: argparse.Namespace, config: Config) -> None:
    runner = importlib.import_module("bot.runtime.runner")
    await runner.run(config, adapters=ADAPTERS)


async def _status(args: argparse.Namespace, config: Config) -> None:
    runner = importlib.import_module("bot.runtime.runner")
    await runner.print_status(config, _terminal())


if __name__ == "__main__":
    sys.exit(main())
