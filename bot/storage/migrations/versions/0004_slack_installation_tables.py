"""Slack's installation tables, created by a migration on the app's own engine (and schema)

Until now the Slack adapter created `slack_installations`, `slack_bots`, `slack_oauth_states` (slack_sdk's
`AsyncSQLAlchemyInstallationStore` / `AsyncSQLAlchemyOAuthStateStore`) and `slack_workspaces` (its Enterprise Grid
directory) with `create_all` on a second engine at start-up. This migration adopts them: on a database that already
has a table it creates nothing for it, only what is missing (a table, its index, or a column slack_sdk added later,
such as the v3.8.0 token-rotation columns). The columns are written out here because the core imports no Slack
library; `tests/storage/test_slack_tables.py` checks them against slack_sdk's own table definitions and runs the
stores on the migrated tables. The tables are not in `bot.storage.tables` (ORM code never touches them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = 32
_NAME = 200
_SCOPES = 1000


def _bot_columns() -> list[sa.Column[object]]:
    """What slack_sdk's bots table and installations table both start with (up to the bot's token expiry)."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(_ID), nullable=False),
        sa.Column("app_id", sa.String(_ID), nullable=False),
        sa.Column("enterprise_id", sa.String(_ID)),
        sa.Column("enterprise_name", sa.String(_NAME)),
    ]


def _token_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("bot_token", sa.String(_NAME)),
        sa.Column("bot_id", sa.String(_ID)),
        sa.Column("bot_user_id", sa.String(_ID)),
        sa.Column("bot_scopes", sa.String(_SCOPES)),
        sa.Column("bot_refresh_token", sa.String(_NAME)),
        sa.Column("bot_token_expires_at", sa.DateTime()),
    ]


def _enterprise_install() -> sa.Column[object]:
    return sa.Column("is_enterprise_install", sa.Boolean(), nullable=False)


def _installed_at() -> sa.Column[object]:
    return sa.Column("installed_at", sa.DateTime(), nullable=False)


def _tables() -> dict[str, tuple[list[sa.Column[object]], list[str] | None]]:
    """Each table: its columns in slack_sdk's order, and the columns of its `<table>_idx` index (None: no index).

    DateTime without a time zone, as slack_sdk writes them (naive UTC)."""
    return {
        "slack_installations": (
            [
                *_bot_columns(),
                sa.Column("enterprise_url", sa.String(_NAME)),
                sa.Column("team_id", sa.String(_ID)),
                sa.Column("team_name", sa.String(_NAME)),
                *_token_columns(),
                sa.Column("user_id", sa.String(_ID), nullable=False),
                sa.Column("user_token", sa.String(_NAME)),
                sa.Column("user_scopes", sa.String(_SCOPES)),
                sa.Column("user_refresh_token", sa.String(_NAME)),
                sa.Column("user_token_expires_at", sa.DateTime()),
                sa.Column("incoming_webhook_url", sa.String(_NAME)),
                sa.Column("incoming_webhook_channel", sa.String(_NAME)),
                sa.Column("incoming_webhook_channel_id", sa.String(_NAME)),
                sa.Column("incoming_webhook_configuration_url", sa.String(_NAME)),
                _enterprise_install(),
                sa.Column("token_type", sa.String(_ID)),
                _installed_at(),
            ],
            ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
        ),
        "slack_bots": (
            [
                *_bot_columns(),
                sa.Column("team_id", sa.String(_ID)),
                sa.Column("team_name", sa.String(_NAME)),
                *_token_columns(),
                _enterprise_install(),
                _installed_at(),
            ],
            ["client_id", "enterprise_id", "team_id", "installed_at"],
        ),
        "slack_oauth_states": (
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("state", sa.String(_NAME), nullable=False),
                sa.Column("expire_at", sa.DateTime(), nullable=False),
            ],
            None,
        ),
        "slack_workspaces": (  # the adapter's Enterprise Grid directory (adapters/slack/installs.py)
            [
                sa.Column("client_id", sa.String(_ID), primary_key=True),
                sa.Column("team_id", sa.String(_ID), primary_key=True),
                sa.Column("enterprise_id", sa.String(_ID), nullable=False),
                _enterprise_install(),
            ],
            None,
        ),
    }


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, (columns, indexed) in _tables().items():
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
