"""indexes for 1,000,000 papers and 5,000,000 votes (bench/RESULTS.md)

- posts(paper_id): "where was this paper posted" for a card scanned the whole posts table.
- votes(paper_id, value) replaces votes(paper_id): a paper's tally in every channel without reading the rows.
- On PostgreSQL the per-channel indexes carry the column their queries read (INCLUDE), so a channel's votes (its
  taste and its tallies) and its posted versions come from the index alone; SQLite keeps the plain indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_VOTES_UNIQUE = "uq_votes_channel_id_paper_id_user_id"
_VOTE_KEY = ["channel_id", "paper_id", "user_id"]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_index(
        "ix_posts_paper_id", "posts", ["paper_id"], postgresql_include=["channel_id", "digest_id", "message_id"]
    )
    op.drop_index("ix_posts_channel_id_paper_id", table_name="posts")
    op.create_index("ix_posts_channel_id_paper_id", "posts", ["channel_id", "paper_id"], postgresql_include=["version"])
    op.drop_index("ix_votes_paper_id", table_name="votes")
    op.create_index("ix_votes_paper_id_value", "votes", ["paper_id", "value"])
    if _postgresql():  # Alembic's constraint stub table knows only the key columns, hence the SQL
        op.drop_constraint(_VOTES_UNIQUE, "votes", type_="unique")
        op.execute(f"ALTER TABLE votes ADD CONSTRAINT {_VOTES_UNIQUE} UNIQUE ({', '.join(_VOTE_KEY)}) INCLUDE (value)")


def downgrade() -> None:
    if _postgresql():
        op.drop_constraint(_VOTES_UNIQUE, "votes", type_="unique")
        op.create_unique_constraint(_VOTES_UNIQUE, "votes", _VOTE_KEY)
    op.drop_index("ix_votes_paper_id_value", table_name="votes")
    op.create_index("ix_votes_paper_id", "votes", ["paper_id"])
    op.drop_index("ix_posts_channel_id_paper_id", table_name="posts")
    op.create_index("ix_posts_channel_id_paper_id", "posts", ["channel_id", "paper_id"])
    op.drop_index("ix_posts_paper_id", table_name="posts")
