"""Every answer the Discord fake gives has the shape Discord's published OpenAPI spec gives it (tests/fakes/spec)."""

from __future__ import annotations

import re
from datetime import date

import discord
import pytest
from discord.http import Route

from bot.app.service import HotPapers
from bot.domain.model import ChannelRef, DigestEntry
from tests.adapters.discord.support import StartBot, button_press, card, command
from tests.fakes.discord_server import APP_ID, GUILD_ID, PAPERS_CHANNEL, FakeDiscord
from tests.fakes.spec import discord_errors, discord_unknown_fields

HERE = ChannelRef("discord", GUILD_ID, PAPERS_CHANNEL, "#papers")
# (method, route regex) -> (schema, is a list); 204s have no body.
SCHEMAS: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", r"/users/@me"): ("UserPIIResponse", False),
    ("GET", r"/oauth2/applications/@me"): ("PrivateApplicationResponse", False),
    ("GET", r"/gateway/bot"): ("GatewayBotResponse", False),
    ("PUT", rf"/applications/{APP_ID}(/guilds/\d+)?/commands"): ("ApplicationCommandResponse", True),
    ("GET", r"/channels/\d+"): ("GuildChannelResponse", False),
    ("POST", r"/channels/\d+/messages"): ("MessageResponse", False),
    ("GET", r"/channels/\d+/messages"): ("MessageResponse", True),
    ("GET", r"/channels/\d+/messages/\d+"): ("MessageResponse", False),
    ("POST", r"/interactions/\d+/[^/]+/callback"): ("InteractionCallbackResponse", False),
    ("POST", rf"/webhooks/{APP_ID}/[^/]+"): ("MessageResponse", False),
}


def schema_for(method: str, route: str, status: int) -> tuple[str, bool] | None:
    if status == 429:
        return "RatelimitedResponse", False
    if status >= 400:
        return "ErrorResponse", False
    return next((s for (m, p), s in SCHEMAS.items() if m == method and re.fullmatch(p, route)), None)


async def test_every_answer_the_fake_gives_fits_discords_published_spec(
    fake: FakeDiscord, start_bot: StartBot, hotpapers: HotPapers, sample_day: date
) -> None:
    fake.faults.inject(r"GET /channels/\d+", "429", retry_after=0.01)  # discord.py waits and asks again
    bot = await start_bot(hotpapers, shards=0)
    posted = await bot.publisher.publish(HERE, DigestEntry(rank=1, card=card()))
    http = bot.http
    nonce = {"content": "again", "nonce": "n-1", "enforce_nonce": True}
    for _ in range(2):
        await http.request(Route("POST", "/channels/{channel_id}/messages", channel_id=PAPERS_CHANNEL), json=nonce)
    await http.get_channel(int(PAPERS_CHANNEL))
    await http.logs_from(int(PAPERS_CHANNEL), 10)
    await http.get_message(int(PAPERS_CHANNEL), int(posted.message_id))
    with pytest.raises(discord.NotFound):
        await http.get_channel(1)
    with pytest.raises(discord.NotFound):
        await http.get_message(int(PAPERS_CHANNEL), 1)
    await fake.interact(command(fake, "top"))  # a deferral, then a follow-up
    await fake.wait_for("POST", rf"/webhooks/{APP_ID}/.+")
    paper = await fake.interact(command(fake, "paper", {"ref": "2010.00577"}))
    await fake.wait_for("POST", rf"/webhooks/{APP_ID}/{paper['token']}")
    (shown,) = fake.replies(paper["token"])
    press = await fake.interact(button_press(fake, shown, "hp:vote:+1:2010.00577"))  # answered with a message (4)
    await fake.wait_for("POST", rf"/interactions/{press['id']}/.+/callback")
    answered = [r for r in fake.requests if r.answer is not None]
    problems: list[str] = []
    for seen in answered:
        schema = schema_for(seen.method, seen.route, seen.status)
        assert schema is not None, f"no schema for {seen.method} {seen.route}"
        problems += [f"{seen.method} {seen.route} {seen.status}: {p}" for p in discord_errors(*schema, seen.answer)]
        if seen.status < 300:
            unknown = discord_unknown_fields(*schema, seen.answer)
            problems += [f"{seen.method} {seen.route} {seen.status}: {p}" for p in unknown]
    assert not problems, "\n".join(problems)
    covered = {(m, p) for (m, p) in SCHEMAS for r in answered if r.method == m and re.fullmatch(p, r.route)}
    assert covered == set(SCHEMAS)
    assert {r.status for r in answered} >= {200, 404, 429}
    assert {r.json["type"] for r in fake.sent("POST", r"/interactions/.+")} == {5}  # everything touching the DB defers
