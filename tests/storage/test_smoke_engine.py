from __future__ import annotations

from sqlalchemy import text

from bot.domain.model import ChannelRef
from bot.runtime.bootstrap import App
from bot.storage.database import MIGRATIONS, _schema_state, head_revision, upgrade


async def test_sample_digest_ranks_by_tweets_on_both_databases(app: App) -> None:
    digest = await app.service.digest(ChannelRef("console", "local", "demo"))
    assert [e.card.paper.id for e in digest.entries][:2] == ["2011.02519", "2011.02803"]


def test_the_head_revision_read_from_the_files_is_alembics_head() -> None:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


async def test_a_database_at_head_is_recognised_and_an_older_one_is_not(app: App) -> None:
    async with app.engine.begin() as connection:
        assert await connection.run_sync(_schema_state) == "head"
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        assert await connection.run_sync(_schema_state) == "behind"
        await connection.execute(text(f"UPDATE alembic_version SET version_num = '{head_revision()}'"))
    await upgrade(app.engine)  # at head: nothing to do, and nothing fails
