"""the posting's day on the post: a popular paper's most recent postings read from an index (issue 17)

- posts.day: the day of the post's digest, copied when the entry is planned (NULL only for a post without a digest,
  as the look-up gave before); filled here from the digests.
- ix_posts_paper_id_day_channel_id (paper_id, day, channel_id), covering message_id on PostgreSQL, replaces
  ix_posts_paper_id (paper_id, covering channel_id, digest_id, message_id): a paper's postings come out in (day,
  channel) order, and a `/paper` card's 10 most recent are 10 entries read backwards instead of a digest look-up
  for every posting (765 for the most-posted paper of the benchmark corpus).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("day", sa.Date(), nullable=True))
    op.execute(
        "UPDATE posts SET day = (SELECT digests.day FROM digests WHERE digests.id = posts.digest_id) "
        "WHERE digest_id IS NOT NULL"
    )
    op.drop_index("ix_posts_paper_id", table_name="posts")
    op.create_index(
        "ix_posts_paper_id_day_channel_id",
        "posts",
        ["paper_id", "day", "channel_id"],
        postgresql_include=["message_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_posts_paper_id_day_channel_id", table_name="posts")
    op.create_index(
        "ix_posts_paper_id", "posts", ["paper_id"], postgresql_include=["channel_id", "digest_id", "message_id"]
    )
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("day")
