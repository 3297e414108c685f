"""The SQL that `hotpapers paper` runs through the stdlib `sqlite3` module (bot/storage/sqlite_sql.py, generated) is
the repositories' own statements compiled for SQLite, and the head revision it expects is the newest migration's:
change a statement or add a migration without `python -m bot.storage.sqlite_compile`, and this fails."""

from __future__ import annotations

from bot.storage import sqlite_sql
from bot.storage.database import head_revision
from bot.storage.sqlite_compile import compiled, module_text


def test_the_checked_in_sql_is_the_repositories_statements_compiled_for_sqlite() -> None:
    assert compiled() == sqlite_sql.STATEMENTS
    assert head_revision() == sqlite_sql.HEAD_REVISION


def test_the_generated_module_holds_what_the_generator_writes() -> None:
    namespace: dict[str, object] = {}
    exec(compile(module_text(), "sqlite_sql.py", "exec"), namespace)
    assert namespace["STATEMENTS"] == sqlite_sql.STATEMENTS and namespace["HEAD_REVISION"] == sqlite_sql.HEAD_REVISION


def test_each_statement_carries_its_parameters_result_columns_and_their_kinds() -> None:
    sql, _, columns, kinds = compiled()["paper_by_id"]
    assert "WHERE papers.id = :id" in sql and columns[0] == "id" and kinds[columns.index("published")] == "datetime"
    assert compiled()["visible_summaries"][1] == {"reports_1": 3}  # a constant the statement binds travels with it
