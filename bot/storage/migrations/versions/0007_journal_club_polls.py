"""journal-club polls (issue 19): a poll per claim, and the votes the core records (Slack buttons, the console)

- polls.open_channel_id: the channel's id while the poll is not closed, unique (one open poll per channel); NULL
  once closed (NULLs never collide).
- polls (channel_id, scheduled_week): unique, so the weekly schedule starts one poll a week across replicas.
- polls.fence / holder / lease_until: the start and the close are claimed like a digest, with a fence token.
- poll_votes: one row per person and poll (a changed vote replaces it); removed by forget_user.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("open_channel_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_week", sa.String(length=10), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("lease_until", _TIMESTAMP, nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("closes_at", _TIMESTAMP, nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("start_intent_at", _TIMESTAMP, nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("winner_paper_id", sa.String(length=64), nullable=True),
        sa.Column("tie_note", sa.Text(), nullable=True),
        sa.Column("announce_intent_at", _TIMESTAMP, nullable=True),
        sa.Column("announce_message_id", sa.String(length=64), nullable=True),
        sa.Column("thread_id", sa.String(length=64), nullable=True),
        sa.Column("closed_at", _TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name="fk_polls_channel_id_channels", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_polls"),
        sa.UniqueConstraint("open_channel_id", name="uq_polls_open_channel_id"),
        sa.UniqueConstraint("channel_id", "scheduled_week", name="uq_polls_channel_id_scheduled_week"),
    )
    op.create_index("ix_polls_channel_id", "polls", ["channel_id"])
    op.create_index("ix_polls_closes_at", "polls", ["closes_at"])
    op.create_table(
        "poll_votes",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("choice", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], name="fk_poll_votes_poll_id_polls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id", "user_id", name="pk_poll_votes"),
    )


def downgrade() -> None:
    op.drop_table("poll_votes")
    op.drop_index("ix_polls_closes_at", table_name="polls")
    op.drop_index("ix_polls_channel_id", table_name="polls")
    op.drop_table("polls")
