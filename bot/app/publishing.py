"""Turning a channel's public page on and off: `publish=yes` (what becomes public, then `publish=confirm`),
`publish=no`, and `publish=rotate` (a new URL; the old one answers 404 at once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.domain.config import Config
from bot.domain.errors import BadInput
from bot.domain.model import Channel, ChannelRef, PublishAnswer
from bot.domain.ports import UnitOfWork
from bot.domain.tokens import new_token, token_hash
from bot.domain.web_settings import WebSettings

ACTIONS = ("yes", "confirm", "no", "rotate")

DISCLOSURE = (
    "Publishing makes this channel's digests a public web page and an Atom feed, for anyone who has the link: "
    "each day's papers (titles, authors, abstracts, arXiv links), the summaries shown with them and where they "
    "come from, the why-line, this channel's 👍/👎 counts, and the community summaries written here (without "
    "their authors' names). Never shown: people's names or ids, who voted, the channel's or workspace's name or "
    "id, messages, or settings. The link carries a secret token; `publish=rotate` replaces it, `publish=no` "
    "turns the page off."
)


def page_url(settings: WebSettings, token: str) -> str:
    return f"{settings.public_url()}/c/{token}/"


async def change_publishing(
    uow_factory: Callable[[], UnitOfWork],
    channel: ChannelRef,
    action: str,
    *,
    config: Config,
    now: datetime,
    ensure: Callable[[UnitOfWork, ChannelRef], Awaitable[Channel]],
    command: str,
) -> PublishAnswer:
    """Apply `publish=<action>` to the channel. `command` is how the adapter's users type the subscribe command,
    for the confirmation's instructions (e.g. `/hotpapers subscribe`)."""
    action = action.strip().lower()
    if action in ("on", "true", "1"):
        action = "yes"
    if action in ("off", "false", "0"):
        action = "no"
    if action not in ACTIONS:
        raise BadInput(f"publish: must be yes, confirm, no or rotate (got {action[:20]!r})")
    settings = WebSettings.from_config(config)
    served = "" if settings.enabled else (
        " (this bot does not serve pages yet: its operator sets [web] enabled = true, or exports them with "
        "`hotpapers web export`)"
    )  # fmt: skip
    async with uow_factory() as uow:
        row = await ensure(uow, channel)
        state = await uow.pages.state(row.id)
        published = state is not None and state.published
        if action == "yes":
            if published:
                return _already(command)
            return PublishAnswer("confirm", f"{DISCLOSURE}\nTo publish, type: {command} publish=confirm")
        if action == "confirm":
            if published:
                return _already(command)
            token = new_token()
            await uow.pages.publish(row.id, token_hash(token), now=now)
            await uow.commit()
            url = page_url(settings, token)
            text = (f"This channel's page is public at {url}{served}. Its feed: {url}feed.atom. "
                    "Keep the link: it is shown only now (`publish=rotate` gives a new one).")  # fmt: skip
            return PublishAnswer("published", text, url)
        if action == "no":
            if not await uow.pages.unpublish(row.id):
                return PublishAnswer("not-published", "This channel's page is not published.")
            await uow.commit()
            return PublishAnswer("unpublished", "This channel's page is off: its link now answers 404.")
        if not published:
            raise BadInput(f"this channel's page is not published; {command} publish=yes first")
        token = new_token()
        await uow.pages.publish(row.id, token_hash(token), now=now, rotated=True)
        await uow.commit()
        url = page_url(settings, token)
        text = (f"New link: {url}{served}. The old link answers 404 from now on. Feed readers keep their "
                "entries (the feed's ids do not contain the token) once they follow the new feed URL: "
                f"{url}feed.atom")  # fmt: skip
        return PublishAnswer("rotated", text, url)


def _already(command: str) -> PublishAnswer:
    return PublishAnswer(
        "already",
        "This channel's page is already public. Its link was shown when it was issued and is not stored (only a "
        f"hash of it is); `{command.replace('subscribe', 'settings')} publish=rotate` issues a new one.",
    )
