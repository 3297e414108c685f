"""The unit of work makes its session, and the repositories on it, with the first repository used: one that only
reads a `/paper` card on PostgreSQL (on the driver's connection) makes none, one that uses a repository gets them
all on one session, and none outlives its `async with`."""

from __future__ import annotations

import pytest

from bot.runtime.bootstrap import App
from bot.storage.uow import UnitOfWork


async def test_the_session_comes_with_the_first_repository_used(app: App) -> None:
    uow = app.uow()
    assert isinstance(uow, UnitOfWork)
    async with uow:
        assert uow._opened is None
        assert await uow.papers.get("2011.02519") is not None
        session = uow._opened
        assert session is not None
        assert uow.signals._session is uow.votes._session is session
        await uow.commit()
    with pytest.raises(AssertionError, match="inside `async with uow:`"):
        uow.papers  # noqa: B018 — the repositories went with the session
    async with uow:  # entered again: a new session
        assert await uow.papers.get("2011.02519") is not None
        assert uow._opened is not session


async def test_a_card_read_on_the_driver_makes_no_session(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[UnitOfWork] = []
    real = UnitOfWork._open

    def counted(uow: UnitOfWork) -> object:
        opened.append(uow)
        return real(uow)

    monkeypatch.setattr(UnitOfWork, "_open", counted)
    card = await app.service.paper("2011.02519")
    assert card.paper.id == "2011.02519"
    assert (opened == []) is (app.engine.dialect.name == "postgresql")  # SQLite reads it through the repositories


async def test_a_unit_of_work_whose_only_change_is_an_added_row_commits_it(app: App) -> None:
    """`commit` returns early when the session never began (a `/paper` card read on its own connection); an `add`
    begins it (SQLAlchemy's autobegin), so a unit of work that only adds a row still commits it."""
    from datetime import UTC, datetime

    from bot.storage.tables import ProcessedEventRow

    now = datetime(2024, 3, 15, tzinfo=UTC)
    async with app.uow() as uow:
        assert isinstance(uow, UnitOfWork)
        uow._session.add(ProcessedEventRow(platform="slack", event_id="EvAdded", seen_at=now))
        await uow.commit()
    async with app.uow() as uow:
        assert not await uow.events.first_delivery("slack", "EvAdded", now=now)  # remembered: the add was committed
