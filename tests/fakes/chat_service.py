"""`ForwardingService`: a typed `bot.domain.ports.ChatService` that hands every use case to another one, so a test can
watch, hold or replace one of them (override `_forward`, or the use case itself) without a `__getattr__` proxy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from bot.domain.model import (
    ChannelRef,
    ChannelSettings,
    Digest,
    DigestResult,
    Discussion,
    PaperCard,
    PastWinner,
    PollClose,
    PollDraft,
    PollStart,
    ReplyEvent,
    Roundup,
    RoundupResult,
    Summary,
    ThreadOpened,
    VoteEvent,
    VoteTally,
)
from bot.domain.ports import ChatService, Publisher

if TYPE_CHECKING:
    from bot.domain.channel_settings import SettingsChange
    from bot.domain.model import PublishAnswer

T = TypeVar("T")


class ForwardingService:
    def __init__(self, service: ChatService) -> None:
        self._service = service

    async def _forward(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """Every use case goes through here with its name: the place to watch or hold them all."""
        return await call()

    async def paper(self, ref: str, channel: ChannelRef | None = None, *, user: str | None = None) -> PaperCard:
        return await self._forward("paper", lambda: self._service.paper(ref, channel, user=user))

    async def top(self, channel: ChannelRef, days: int = 7, *, limit: int = 10) -> list[PaperCard]:
        return await self._forward("top", lambda: self._service.top(channel, days, limit=limit))

    async def add_summary(
        self, ref: str, channel: ChannelRef, *, author: str, text: str, author_id: str | None = None
    ) -> Summary:
        return await self._forward(
            "add_summary",
            lambda: self._service.add_summary(ref, channel, author=author, text=text, author_id=author_id),
        )

    async def vote_summary(self, channel: ChannelRef, user_id: str, summary_id: int, value: int) -> Summary:
        return await self._forward(
            "vote_summary", lambda: self._service.vote_summary(channel, user_id, summary_id, value)
        )

    async def report_summary(self, ref: str, channel: ChannelRef, *, user_id: str) -> PaperCard:
        return await self._forward(
            "report_summary", lambda: self._service.report_summary(ref, channel, user_id=user_id)
        )

    async def regenerate_summary(self, ref: str, channel: ChannelRef | None = None) -> PaperCard:
        return await self._forward("regenerate_summary", lambda: self._service.regenerate_summary(ref, channel))

    async def record_vote(self, event: VoteEvent) -> VoteTally | None:
        return await self._forward("record_vote", lambda: self._service.record_vote(event))

    async def record_reaction(self, event: VoteEvent) -> bool:
        return await self._forward("record_reaction", lambda: self._service.record_reaction(event))

    async def clear_reactions(
        self, channel: ChannelRef, message_id: str, reaction: str | None = None
    ) -> VoteTally | None:
        return await self._forward(
            "clear_reactions", lambda: self._service.clear_reactions(channel, message_id, reaction)
        )

    async def forget_user(self, platform: str, user_id: str) -> int:
        return await self._forward("forget_user", lambda: self._service.forget_user(platform, user_id))

    async def digest(self, channel: ChannelRef, day: date | None = None) -> Digest:
        return await self._forward("digest", lambda: self._service.digest(channel, day))

    async def post_digest(self, channel: ChannelRef, day: date | None, publisher: Publisher) -> DigestResult:
        return await self._forward("post_digest", lambda: self._service.post_digest(channel, day, publisher))

    async def pause_workspace(self, platform: str, workspace: str, *, reason: str, fix: str) -> int:
        return await self._forward(
            "pause_workspace", lambda: self._service.pause_workspace(platform, workspace, reason=reason, fix=fix)
        )

    async def subscribe(
        self, channel: ChannelRef, options: Mapping[str, str] | SettingsChange | None = None, *, by: str | None = None
    ) -> ChannelSettings:
        return await self._forward("subscribe", lambda: self._service.subscribe(channel, options, by=by))

    async def unsubscribe(self, channel: ChannelRef) -> None:
        return await self._forward("unsubscribe", lambda: self._service.unsubscribe(channel))

    async def settings(self, channel: ChannelRef) -> ChannelSettings:
        return await self._forward("settings", lambda: self._service.settings(channel))

    async def publish(self, channel: ChannelRef, action: str, *, command: str | None = None) -> PublishAnswer:
        if command is None:  # the engine's own default
            return await self._forward("publish", lambda: self._service.publish(channel, action))
        return await self._forward("publish", lambda: self._service.publish(channel, action, command=command))

    async def discuss(self, channel: ChannelRef, target: str, publisher: Publisher) -> ThreadOpened:
        return await self._forward("discuss", lambda: self._service.discuss(channel, target, publisher))

    async def record_reply(self, event: ReplyEvent) -> Discussion | None:
        return await self._forward("record_reply", lambda: self._service.record_reply(event))

    async def remove_reply(self, channel: ChannelRef, message_id: str) -> Discussion | None:
        return await self._forward("remove_reply", lambda: self._service.remove_reply(channel, message_id))

    async def roundup(self, channel: ChannelRef, day: date | None = None) -> Roundup:
        return await self._forward("roundup", lambda: self._service.roundup(channel, day))

    async def post_roundup(self, channel: ChannelRef, publisher: Publisher, day: date | None = None) -> RoundupResult:
        return await self._forward("post_roundup", lambda: self._service.post_roundup(channel, publisher, day))

    async def journal_club_start(
        self,
        channel: ChannelRef,
        publisher: Publisher,
        *,
        candidates: int | str | None = None,
        closes: str | None = None,
        by: str | None = None,
    ) -> PollStart:
        return await self._forward(
            "journal_club_start",
            lambda: self._service.journal_club_start(channel, publisher, candidates=candidates, closes=closes, by=by),
        )

    async def journal_club_weekly(self, channel: ChannelRef, publisher: Publisher) -> PollStart | None:
        return await self._forward("journal_club_weekly", lambda: self._service.journal_club_weekly(channel, publisher))

    async def journal_club_close(self, channel: ChannelRef, publisher: Publisher) -> PollClose:
        return await self._forward("journal_club_close", lambda: self._service.journal_club_close(channel, publisher))

    async def journal_club_history(self, channel: ChannelRef, *, limit: int = 10) -> list[PastWinner]:
        return await self._forward(
            "journal_club_history", lambda: self._service.journal_club_history(channel, limit=limit)
        )

    async def journal_club_poll(self, channel: ChannelRef) -> PollDraft | None:
        return await self._forward("journal_club_poll", lambda: self._service.journal_club_poll(channel))

    async def poll_vote(
        self, channel: ChannelRef, message_id: str, user_id: str, choice: int
    ) -> tuple[PollDraft, int | None]:
        return await self._forward("poll_vote", lambda: self._service.poll_vote(channel, message_id, user_id, choice))

    async def poll_unvote(self, channel: ChannelRef, message_id: str, user_id: str, choice: int) -> PollDraft:
        return await self._forward(
            "poll_unvote", lambda: self._service.poll_unvote(channel, message_id, user_id, choice)
        )

    async def close_due_polls(self, publisher_for: Callable[[str], Publisher | None]) -> list[PollClose]:
        return await self._forward("close_due_polls", lambda: self._service.close_due_polls(publisher_for))


def _implements(service: ForwardingService) -> ChatService:
    return service  # mypy: the forwarder is a ChatService
