"""Paused channels: a platform refused a channel (or a whole workspace) for good, so its digest stops until a person
acts — subscribing again — or the once-a-day retry (its scheduled run) finds the platform takes it again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.errors import HotPapersError
from bot.domain.model import ChannelRef, Pause
from bot.domain.ports import Clock, Publisher, UnitOfWork

log = logging.getLogger(__name__)

PAUSED_RETRY = timedelta(hours=20)
"""A paused channel is tried again at its first scheduled run this long after the pause: once a day."""


def pause_notice(channel: ChannelRef, pause: Pause) -> str:
    """What the people of a paused channel are told (in the channel where the bot can still post, else by DM)."""
    where = channel.name or channel.channel
    return (
        f"hotpapers paused the daily digest for {where}: {pause.reason}. To fix it: {pause.fix}. "
        "Subscribe the channel again to resume at once; hotpapers also tries once a day by itself."
    )


def resting(pause: Pause | None, now: datetime) -> bool:
    """The channel is paused and its daily retry is not due yet: its digest costs no request today."""
    return pause is not None and now - pause.since < PAUSED_RETRY


class Pauses:
    """Pausing channels and workspaces, telling their people once, and lifting a pause that is no longer needed."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def pause(self, channel: ChannelRef, pause: Pause) -> None:
        """Stop posting to one channel until someone subscribes it again (or the daily retry succeeds)."""
        async with self._uow() as uow:
            await uow.channels.pause([channel], pause)
            await uow.commit()

    async def pause_workspace(self, platform: str, workspace: str, *, reason: str, fix: str) -> int:
        """Pause every subscribed channel of a workspace (a revoked token, an uninstalled app). Returns how many."""
        pause = Pause(reason, fix, "workspace", self._clock.now())
        async with self._uow() as uow:
            channels = [
                ref
                for ref, _ in await uow.channels.subscribed()
                if ref.platform == platform and ref.workspace == workspace
            ]
            await uow.channels.pause(channels, pause)
            await uow.commit()
        if channels:
            log.warning("paused %d channel(s) of %s workspace %s: %s", len(channels), platform, workspace, reason)
        return len(channels)

    async def paused(self, channel: ChannelRef, pause: Pause, publisher: Publisher, *, already: bool) -> None:
        """A digest found the channel (or its workspace) refused: pause it, and tell its people unless `already`
        paused (the daily retry found it still refused: nobody is told twice)."""
        if pause.scope == "workspace":
            await self.pause_workspace(channel.platform, channel.workspace, reason=pause.reason, fix=pause.fix)
        else:
            await self.pause(channel, pause)
        if already:
            return
        log.warning("paused the digest in %s: %s (fix: %s)", channel.key, pause.reason, pause.fix)
        text = pause_notice(channel, pause)
        if pause.scope == "channel":
            try:
                await publisher.say(channel, text)
                return
            except HotPapersError as error:
                log.info("could not tell %s about its pause in the channel: %s", channel.key, error)
        async with self._uow() as uow:
            admin = await uow.channels.subscriber(channel)
        if admin and not await publisher.tell_admin(channel, admin, text):
            log.info("could not tell the admin of %s about its pause", channel.key)

    async def unpause(self, channel: ChannelRef) -> None:
        async with self._uow() as uow:
            await uow.channels.unpause(channel)
            await uow.commit()
