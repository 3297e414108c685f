"""the channel's public page (issue 20): one row per channel that ever published its archive

- channel_pages.token_hash: SHA-256 of the URL token (the token itself is shown once, when issued); NULL while the
  page is off. Unique, so a request finds its channel by the hash of the token it carries.
- channel_pages.feed_id: a random id fixed at the first publication; the Atom feed and entry ids derive from it,
  never from the token, so rotating the token does not duplicate entries in feed readers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_pages",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("published_at", _TIMESTAMP, nullable=True),
        sa.Column("rotated_at", _TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name="fk_channel_pages_channel_id_channels", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("channel_id", name="pk_channel_pages"),
        sa.UniqueConstraint("token_hash", name="uq_channel_pages_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("channel_pages")
