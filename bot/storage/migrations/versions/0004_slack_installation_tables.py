"""Slack's installation tables, created by a migration on the app's own engine (and schema)

Until now the Slack adapter created `slack_installations`, `slack_bots`, `slack_oauth_states` (slack_sdk's
`AsyncSQLAlchemyInstallationStore` / `AsyncSQLAlchemyOAuthStateStore`) and `slack_workspaces` (its Enterprise Grid
directory) with `create_all` on a second engine at start-up. This migration adopts them: on a database that already
has a table it creates nothing for it, only what is missing (a table, its index, or a column slack_sdk added later,
such as the v3.8.0 token-rotation columns). The columns are written out in `bot.storage.slack_tables` (which a new
database's schema is created from too) because the core imports no Slack library; `tests/storage/test_slack_tables.py`
checks them against slack_sdk's own table definitions and runs the stores on the migrated tables. The tables are not
in `bot.storage.tables` (ORM code never touches them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.slack_tables import slack_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, (columns, indexed) in slack_tables().items():
        if not inspector.has_table(name):
            op.create_table(name, *columns)
        else:
            have = {column["name"] for column in inspector.get_columns(name)}
            missing = [column for column in columns if column.name not in have]
            if missing:  # an older slack_sdk made the table: only nullable columns were added since
                with op.batch_alter_table(name) as batch:
                    for column in missing:
                        batch.add_column(column)
        index = f"{name}_idx"
        if indexed and not any(found["name"] == index for found in inspector.get_indexes(name)):
            op.create_index(index, name, indexed)


def downgrade() -> None:
    """Leave the tables: they hold every workspace's bot token, and the adapter before 0004 creates what it misses
    itself (`create_all` skips existing tables) and uses them as they are. Dropping them would uninstall the app."""
