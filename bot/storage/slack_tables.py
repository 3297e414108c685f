"""Slack's installation tables (slack_sdk's installation and OAuth-state stores, the adapter's Enterprise Grid
directory), written out with SQLAlchemy only because the core imports no Slack library.

Migration 0004 creates or completes them on an existing database; a new, empty database gets them from
`bot.storage.database.upgrade` with the rest of the head schema. `tests/storage/test_slack_tables.py` checks them
against slack_sdk's own definitions; `tests/storage/test_schema_creation.py` checks that both ways make one schema.
A column slack_sdk adds later goes here and into a new migration that adds it where it is missing."""

from __future__ import annotations

import sqlalchemy as sa

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


def slack_tables() -> dict[str, tuple[list[sa.Column[object]], list[str] | None]]:
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
