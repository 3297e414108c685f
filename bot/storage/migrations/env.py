"""Alembic environment: always run on a connection handed in by `bot.storage.database.upgrade`."""

from __future__ import annotations

from alembic import context

from bot.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hotpapers db upgrade`, which supplies the connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    # The Slack adapter's tables (slack_sdk's installation and OAuth-state stores, its Grid directory) are made by
    # migration 0004 without ORM classes; autogenerate must not offer to drop them.
    include_object=lambda obj, name, type_, reflected, compare_to: (
        not (type_ == "table" and (name or "").startswith("slack_"))
    ),
)
with context.begin_transaction():
    context.run_migrations()
