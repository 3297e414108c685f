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
    # slack_sdk's installation and OAuth-state stores own their tables; autogenerate must leave them alone.
    include_object=lambda obj, name, type_, reflected, compare_to: (
        not (type_ == "table" and (name or "").startswith("slack_"))
    ),
)
with context.begin_transaction():
    context.run_migrations()
