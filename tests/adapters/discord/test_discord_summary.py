"""Reporting a card's summary and regenerating an LLM summary: real discord.py, fake Discord, real engine."""

from __future__ import annotations

from typing import Any

from adapters.discord.errors import REGENERATE_DENIED
from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, PaperCard
from tests.adapters.discord.support import (
    StartBot,
    WatchedService,
    button_press,
    command,
)
from tests.adapters.discord.test_discord_commands import ask, fields
from tests.fakes.discord_server import ALICE, BOB, EPHEMERAL, FakeDiscord
from tests.fakes.llm_server import FakeLLM

COMMUNITY, PLAIN = "1611.03530", "2010.00577"  # a sample paper with a ShortScience summary, and one without
CAROL, DAVE = "4000000000000000003", "4000000000000000004"
REPORTED = "Thanks — reported. The card now shows: "


async def show(fake: FakeDiscord, ref: str) -> dict[str, Any]:
    """`/paper ref`, and the card message as people in the channel see it."""
    payload = command(fake, "paper", {"ref": ref})
    await ask(fake, payload)
    (card,) = fake.replies(payload["token"])
    return card


def buttons(message: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    rows = message["components"]
    assert all(row["type"] == 1 and len(row["components"]) <= 5 for row in rows)  # Discord: five to an action row
    return [(b.get("label"), b.get("custom_id")) for row in rows for b in row["components"]]


async def press_report(fake: FakeDiscord, card: dict[str, Any], paper_id: str, user_id: str) -> dict[str, Any]:
    """Press "Report summary" as `user_id`; return the one private message that answered it."""
    press = button_press(fake, card, f"hp:report:{paper_id}", user_id=user_id)
    callback, _ = await ask(fake, press)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}  # deferred privately: a fallback may be slow
    (answer,) = fake.replies(press["token"])
    assert answer["flags"] == EPHEMERAL
    return answer


async def test_the_report_button_is_under_a_card_only_when_its_summary_can_be_reported(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    community, plain = await show(fake, COMMUNITY), await show(fake, PLAIN)
    assert community["embeds"][0]["footer"]["text"].startswith("Community summary by ShortScience ·")
    assert buttons(community) == [
        ("PDF", None),
        (None, f"hp:vote:+1:{COMMUNITY}"),
        (None, f"hp:vote:-1:{COMMUNITY}"),
        ("Report summary", f"hp:report:{COMMUNITY}"),
    ]
    assert plain["embeds"][0]["footer"]["text"].startswith("Key sentences from the abstract ·")
    assert buttons(plain) == [("PDF", None), (None, f"hp:vote:+1:{PLAIN}"), (None, f"hp:vote:-1:{PLAIN}")]


async def test_three_people_reporting_a_summary_hide_it_and_the_card_falls_back_to_the_next_source(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    card = await show(fake, COMMUNITY)
    answers = [(await press_report(fake, card, COMMUNITY, user))["content"] for user in (ALICE, ALICE, BOB, CAROL)]
    before, after = REPORTED + "Community summary by ShortScience", REPORTED + "Key sentences from the abstract"
    assert answers == [before, before, before, after]  # Alice's second press is not a second report
    again = await show(fake, COMMUNITY)
    assert again["embeds"][0]["footer"]["text"].startswith("Key sentences from the abstract ·")
    assert fields(again["embeds"][0])["Summary"] != fields(card["embeds"][0])["Summary"]
    assert ("Report summary", f"hp:report:{COMMUNITY}") not in buttons(again)
    stale = await press_report(fake, card, COMMUNITY, DAVE)  # the old card's button, after the fallback
    assert stale["content"] == "The summary shown is computed from the abstract; there is nothing to report"


class Regenerations(WatchedService):
    """Counts regenerate_summary calls, to show a refused command never reaches the engine."""

    def __init__(self, service: HotPapers) -> None:
        super().__init__(service)
        self.regenerated = 0

    async def regenerate_summary(self, ref: str, channel: ChannelRef | None = None) -> PaperCard:
        self.regenerated += 1
        return await self._service.regenerate_summary(ref, channel)


async def test_regenerate_without_an_llm_answers_the_admin_privately_that_none_is_configured(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    await start_bot(hotpapers)
    payload = command(fake, "regenerate", {"ref": PLAIN}, group="hotpapers", admin=True)
    callback, _ = await ask(fake, payload)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == EPHEMERAL and not shown["embeds"]
    assert shown["content"] == r"No LLM is configured (\[llm\] enabled = true); there is nothing to regenerate"


async def test_regenerate_needs_manage_channels_and_is_hidden_from_members_by_default(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers
) -> None:
    service = Regenerations(hotpapers)
    await start_bot(service)
    (group,) = [c for scope in fake.commands.values() for c in scope if c["name"] == "hotpapers"]
    assert int(group["default_member_permissions"]) == 1 << 4  # Manage Channels
    assert "regenerate" in [option["name"] for option in group["options"]]
    callback, _ = await ask(fake, command(fake, "regenerate", {"ref": PLAIN}, group="hotpapers"), followups=0)
    assert callback.json["type"] == 4
    assert (callback.json["data"]["content"], callback.json["data"]["flags"]) == (REGENERATE_DENIED, EPHEMERAL)
    assert service.regenerated == 0


async def test_regenerate_asks_the_llm_again_and_shows_the_admin_the_new_card_privately(
    fake: FakeDiscord, start_bot: StartBot, llm_hotpapers: tuple[HotPapers, FakeLLM]
) -> None:
    service, llm = llm_hotpapers
    await start_bot(service)
    first = await show(fake, PLAIN)
    assert first["embeds"][0]["footer"]["text"].startswith("LLM summary (tiny-1, 2020-11-07) ·")
    assert ("Report summary", f"hp:report:{PLAIN}") in buttons(first)  # a stored LLM summary can be reported
    llm.reply = "A better summary: edge masks **explain** GNNs."
    payload = command(fake, "regenerate", {"ref": PLAIN}, group="hotpapers", admin=True)
    await ask(fake, payload)
    (shown,) = fake.replies(payload["token"])
    assert shown["flags"] == EPHEMERAL
    assert shown["content"] == "Asked the LLM again. The card now shows: LLM summary (tiny-1, 2020-11-07)"
    assert fields(shown["embeds"][0])["Summary"] == r"A better summary: edge masks \*\*explain\*\* GNNs."
    assert len(llm.requests) == 2
