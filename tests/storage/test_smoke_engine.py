from __future__ import annotations

from bot.bootstrap import App
from bot.model import ChannelRef


async def test_sample_digest_ranks_by_tweets_on_both_databases(app: App) -> None:
    digest = await app.service.digest(ChannelRef("console", "local", "demo"))
    assert [e.card.paper.id for e in digest.entries][:2] == ["2011.02519", "2011.02803"]
