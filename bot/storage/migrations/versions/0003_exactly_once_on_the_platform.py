"""exactly once on the platform: fencing tokens, per-message intents, paused channels

- digests.fence: bumped by every claim; a record needs the current value, so a replica that lost its claim records
  nothing. digests.header_intent_at: the header was (perhaps) sent.
- posts.intent_at: the entry was (perhaps) sent; a resumed digest looks the message up on the platform by its key.
  posts.skipped: the platform refused that one entry for good. posts.score / posts.why: what the plan showed.
- channels.paused_*: the platform refuses the channel (or its workspace) until a person acts; subscribed_by: who
  to tell.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("header_intent_at", _TIMESTAMP, nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("intent_at", _TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("skipped", sa.Text(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("why", sa.JSON(), nullable=True))
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("subscribed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("paused_at", _TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("paused_scope", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("paused_fix", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        for column in ("paused_fix", "paused_reason", "paused_scope", "paused_at", "subscribed_by"):
            batch.drop_column(column)
    with op.batch_alter_table("posts") as batch:
        for column in ("why", "score", "skipped", "intent_at"):
            batch.drop_column(column)
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("header_intent_at")
        batch.drop_column("fence")
