"""discussion threads and the weekly roundup (issue 18)

- discussion_threads: the thread opened on a posted message (channel, message, paper, the platform's thread id).
- thread_replies: who replied in which thread (the reply's message id is unique per channel, so a retried event
  counts once, and a deletion, which carries no author on Discord, finds its person); never the text.
- digests.kind: "daily" or "roundup"; a roundup is a digest keyed by the week's last day, with the same claim, so
  the claim is unique per (channel, kind, day).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="daily"))
        batch.drop_constraint("uq_digests_channel_id_day", type_="unique")
        batch.create_unique_constraint("uq_digests_channel_id_kind_day", ["channel_id", "kind", "day"])
    op.create_table(
        "discussion_threads",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name="fk_discussion_threads_channel_id_channels", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name="fk_discussion_threads_paper_id_papers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_discussion_threads"),
        sa.UniqueConstraint("channel_id", "message_id", name="uq_discussion_threads_channel_id_message_id"),
        sa.UniqueConstraint("channel_id", "thread_id", name="uq_discussion_threads_channel_id_thread_id"),
    )
    op.create_table(
        "thread_replies",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", _BIG_ID, nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name="fk_thread_replies_channel_id_channels", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["discussion_threads.id"],
            name="fk_thread_replies_thread_id_discussion_threads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_thread_replies"),
        sa.UniqueConstraint("channel_id", "message_id", name="uq_thread_replies_channel_id_message_id"),
    )
    op.create_index(
        "ix_thread_replies_channel_id_paper_id_user_id", "thread_replies", ["channel_id", "paper_id", "user_id"]
    )
    op.create_index("ix_thread_replies_user_id", "thread_replies", ["user_id"])
    op.create_index("ix_thread_replies_at", "thread_replies", ["at"])


def downgrade() -> None:
    op.drop_table("thread_replies")
    op.drop_table("discussion_threads")
    op.execute("DELETE FROM digests WHERE kind <> 'daily'")
    with op.batch_alter_table("digests") as batch:
        batch.drop_constraint("uq_digests_channel_id_kind_day", type_="unique")
        batch.create_unique_constraint("uq_digests_channel_id_day", ["channel_id", "day"])
        batch.drop_column("kind")
