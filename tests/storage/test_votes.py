"""Votes through the engine, on SQLite and PostgreSQL: deduplicated, removable, bots and strangers ignored."""

from __future__ import annotations

import asyncio
import io
import random
from datetime import UTC, datetime

import pytest
from rich.console import Console
from sqlalchemy import text

from adapters.console.publisher import ConsolePublisher
from bot.domain.model import ChannelRef, VoteEvent, VoteTally
from bot.runtime.bootstrap import App
from tests.conftest import MakeApp

HERE = ChannelRef("slack", "T1", "C1")
THERE = ChannelRef("slack", "T1", "C2")


async def _posted(app: App, channel: ChannelRef) -> dict[int, str]:
    publisher = ConsolePublisher(Console(file=io.StringIO()))
    await app.service.post_digest(channel, None, publisher)
    return {entry.rank: message.message_id for message, entry in publisher.posted if entry is not None}


async def test_a_users_vote_counts_once_whatever_the_number_of_reactions(app: App) -> None:
    messages = await _posted(app, HERE)
    vote = app.service.record_vote
    assert await vote(VoteEvent(HERE, "u1", messages[2], 1, reaction="👍")) == VoteTally(1, 0)
    assert await vote(VoteEvent(HERE, "u1", messages[2], 1, reaction="🔥")) == VoteTally(1, 0)
    assert await vote(VoteEvent(HERE, "u1", messages[2], 1, reaction="🔥")) == VoteTally(1, 0)  # delivered twice
    assert await vote(VoteEvent(HERE, "u2", messages[2], 1, reaction="👍")) == VoteTally(2, 0)
    assert await vote(VoteEvent(HERE, "u1", messages[2], 1, reaction="🔥", removed=True)) == VoteTally(2, 0)
    assert await vote(VoteEvent(HERE, "u1", messages[2], 1, reaction="👍", removed=True)) == VoteTally(1, 0)


async def test_removing_a_reaction_removes_the_vote_and_an_opposite_reaction_replaces_it(app: App) -> None:
    messages = await _posted(app, HERE)
    vote = app.service.record_vote
    assert await vote(VoteEvent(HERE, "u1", messages[1], 1)) == VoteTally(1, 0)
    assert await vote(VoteEvent(HERE, "u1", messages[1], -1)) == VoteTally(0, 1)
    assert await vote(VoteEvent(HERE, "u1", messages[1], 1, removed=True)) == VoteTally(0, 1)
    assert await vote(VoteEvent(HERE, "u1", messages[1], -1, removed=True)) == VoteTally(0, 0)


async def test_bot_votes_retried_events_and_unknown_messages_are_ignored(app: App) -> None:
    messages = await _posted(app, HERE)
    vote = app.service.record_vote
    assert await vote(VoteEvent(HERE, "bot", messages[1], 1, by_bot=True)) is None
    assert await vote(VoteEvent(HERE, "u1", "not-ours", 1)) is None
    assert await vote(VoteEvent(ChannelRef("slack", "T9", "C9"), "u1", messages[1], 1)) is None
    assert await vote(VoteEvent(HERE, "u1", messages[1], 1, event_id="Ev1")) == VoteTally(1, 0)
    assert await vote(VoteEvent(HERE, "u2", messages[1], 1, event_id="Ev1")) is None  # a retried delivery
    assert (await app.service.top(HERE, 7))[0].votes == VoteTally(1, 0)


async def test_a_reaction_recorded_without_its_tally_counts_as_a_vote_does(app: App) -> None:
    """`record_reaction` (what the adapters call for reactions) applies the same rules and only leaves out the count;
    in a group with `record_vote`s, those still get their tallies."""
    papers = await _posted_papers(app)
    first, second, *_ = papers
    react, vote = app.service.record_reaction, app.service.record_vote
    assert await react(VoteEvent(HERE, "u1", first, 1, reaction="👍")) is True  # a group of its own: no count at all
    assert (await app.service.paper(papers[first], HERE)).votes == VoteTally(1, 0)  # but written
    assert await react(VoteEvent(HERE, "u1", "not-ours", 1)) is False
    assert await react(VoteEvent(HERE, "bot", first, 1, by_bot=True)) is False
    assert await react(VoteEvent(HERE, "u1", first, 1, event_id="Ev1", reaction="🔥")) is True
    assert await react(VoteEvent(HERE, "u1", first, 1, event_id="Ev1", reaction="🔥")) is False  # a retry
    assert await vote(VoteEvent(HERE, "u2", first, 1, reaction="👍")) == VoteTally(2, 0)
    together = await asyncio.gather(  # one group
        react(VoteEvent(HERE, "u3", first, -1, reaction="👎")),
        vote(VoteEvent(HERE, "u3", second, 1, reaction="👍")),
        react(VoteEvent(HERE, "u1", first, 1, reaction="🔥", removed=True)),
    )
    assert together == [True, VoteTally(1, 0), True]
    assert await react(VoteEvent(HERE, "u1", first, 1, reaction="👍", removed=True)) is True
    assert (await app.service.paper(papers[first], HERE)).votes == VoteTally(1, 1)
    assert (await app.service.paper(papers[second], HERE)).votes == VoteTally(1, 0)


async def test_a_group_counts_only_the_tallies_asked_for_and_writes_every_vote(app: App) -> None:
    from bot.domain.vote_rules import Reaction

    (_, first), (_, second), *_ = (await _posted_papers(app)).items()
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(HERE)
    assert channel_id is not None
    now = datetime(2024, 3, 15, tzinfo=UTC)
    reactions = [Reaction(channel_id, first, "u1", 1, "👍", False), Reaction(channel_id, second, "u1", -1, "👎", False)]
    async with app.uow() as uow:
        _, before, _ = await uow.vote_batch.remember_and_lock([], [r.key for r in reactions], now=now)
        changed, tallies = await uow.vote_batch.apply_many(
            reactions, now=now, before=before, counted={(channel_id, first)}
        )
        await uow.commit()
    assert changed == [True, True] and tallies == {(channel_id, first): VoteTally(1, 0)}
    assert (await app.service.paper(second, HERE)).votes == VoteTally(0, 1)


async def test_votes_belong_to_their_channel(app: App) -> None:
    here = await _posted(app, HERE)
    await app.service.record_vote(VoteEvent(HERE, "u1", here[3], 1))
    card = (await app.service.top(HERE, 7))[0]
    assert card.votes == VoteTally(1, 0)
    assert await app.service.top(THERE, 7) == []
    assert (await app.service.paper(card.paper.id, THERE)).votes == VoteTally(0, 0)
    assert (await app.service.paper(card.paper.id, HERE)).votes == VoteTally(1, 0)


async def test_button_votes_name_the_paper_directly(app: App) -> None:
    tally = await app.service.record_vote(VoteEvent(THERE, "u1", "", -1, paper_id="2010.00577"))
    assert tally == VoteTally(0, 1)
    assert await app.service.record_vote(VoteEvent(THERE, "u1", "", 1, paper_id="9999.99999")) is None


async def test_net_votes_reorder_the_next_digest_in_that_channel_only(app: App) -> None:
    before = [e.card.paper.id for e in (await app.service.digest(HERE)).entries]
    for user in ("a", "b", "c"):
        await app.service.record_vote(VoteEvent(HERE, user, "", 1, paper_id=before[4]))
    after = [e.card.paper.id for e in (await app.service.digest(HERE)).entries]
    assert after[0] == before[4]
    assert "👍3 👎0 here" in (await app.service.digest(HERE)).entries[0].card.why
    assert [e.card.paper.id for e in (await app.service.digest(THERE)).entries] == before


async def test_forget_user_deletes_their_votes(app: App) -> None:
    await app.service.record_vote(VoteEvent(HERE, "u1", "", 1, paper_id="2011.02519"))
    await app.service.record_vote(VoteEvent(HERE, "u2", "", 1, paper_id="2011.02519"))
    assert await app.service.forget_user("slack", "u1") == 1
    assert (await app.service.paper("2011.02519", HERE)).votes == VoteTally(1, 0)


@pytest.mark.parametrize("user", ["<@U123>", "x" * 500, "'; DROP TABLE votes; --"])
async def test_hostile_user_ids_are_stored_safely(app: App, user: str) -> None:
    assert await app.service.record_vote(VoteEvent(HERE, user, "", 1, paper_id="2011.02519")) == VoteTally(1, 0)


async def test_a_moderator_clearing_reactions_removes_the_votes_they_made(app: App) -> None:
    messages = await _posted(app, HERE)
    vote, clear = app.service.record_vote, app.service.clear_reactions
    await vote(VoteEvent(HERE, "u1", messages[1], 1, reaction="👍"))
    await vote(VoteEvent(HERE, "u1", messages[1], 1, reaction="🔥"))
    await vote(VoteEvent(HERE, "u2", messages[1], 1, reaction="🔥"))
    assert await vote(VoteEvent(HERE, "u3", messages[1], -1, reaction="👎")) == VoteTally(2, 1)
    assert await clear(HERE, messages[1], "🔥") == VoteTally(1, 1)  # u1 keeps the vote their 👍 still holds
    assert await clear(HERE, messages[1]) == VoteTally(0, 0)
    assert await clear(HERE, "not-ours") is None
    assert await clear(ChannelRef("slack", "T9", "C9"), messages[1]) is None


async def test_pausing_a_workspace_pauses_only_its_channels(app: App) -> None:
    other = ChannelRef("slack", "T2", "C1")
    for channel in (HERE, THERE, other):
        await app.service.subscribe(channel)
    assert await app.service.pause_workspace("slack", "T1", reason="uninstalled", fix="reinstall") == 2
    assert [(await app.service.settings(c)).paused is not None for c in (HERE, THERE, other)] == [True, True, False]


def _reactions(messages: list[str], users: int, seed: int) -> tuple[list[list[VoteEvent]], dict[str, VoteTally]]:
    """Each (message, user)'s reactions in order — adds, second same-sign reactions, removes, opposite reactions —
    and the tallies the rules give per message once all are applied (the model here is the rules written out)."""
    rng = random.Random(seed)
    sequences: list[list[VoteEvent]] = []
    final: dict[str, VoteTally] = {message: VoteTally() for message in messages}
    for message in messages:
        for n in range(users):
            user, events = f"u{n}", []
            value, names = 0, set()  # the user's vote on the message and the reactions holding it
            for _ in range(rng.randint(1, 6)):
                roll = rng.random()
                if value and roll < 0.35:
                    name = rng.choice(sorted(names))
                    events.append(VoteEvent(HERE, user, message, value, removed=True, reaction=name))  # type: ignore[arg-type]
                    names.discard(name)
                    value = value if names else 0
                    continue
                wanted = rng.choice((1, -1)) if not value or roll > 0.7 else value
                name = rng.choice(("👍", "🔥")) if wanted > 0 else "👎"
                events.append(VoteEvent(HERE, user, message, wanted, reaction=name))  # type: ignore[arg-type]
                names = names | {name} if wanted == value else {name}
                value = wanted
            sequences.append(events)
            before = final[message]
            final[message] = VoteTally(before.up + (value > 0), before.down + (value < 0))
    return sequences, final


async def _deliver(apps: list[App], sequences: list[list[VoteEvent]]) -> None:
    """Every (message, user) sequence in its own task, as the adapters run them; sequences alternate between apps."""

    async def one(app: App, events: list[VoteEvent]) -> None:
        for event in events:
            await app.service.record_vote(event)

    await asyncio.gather(*(one(apps[n % len(apps)], events) for n, events in enumerate(sequences)))


async def _tallies(app: App, messages: dict[str, str]) -> dict[str, VoteTally]:
    return {message: (await app.service.paper(paper, HERE)).votes for message, paper in messages.items()}


async def _posted_papers(app: App) -> dict[str, str]:
    publisher = ConsolePublisher(Console(file=io.StringIO()))
    await app.service.post_digest(HERE, None, publisher)
    return {message.message_id: entry.card.paper.id for message, entry in publisher.posted if entry is not None}


async def test_concurrent_reactions_on_several_messages_through_lanes_end_exactly_as_the_rules_say(
    make_app: MakeApp,
) -> None:
    app = await make_app(sample=True, config={"database": {"vote_lanes": 3}})
    messages = await _posted_papers(app)
    sequences, final = _reactions(list(messages), users=12, seed=7)
    await _deliver([app], sequences)
    assert await _tallies(app, messages) == final
    assert sum(tally.up + tally.down for tally in final.values()) > 10  # the walk leaves votes to count


async def test_two_replicas_with_lanes_and_relaxed_commits_count_every_vote_once(make_app: MakeApp, database) -> None:  # type: ignore[no-untyped-def]
    if database.kind != "postgresql":
        pytest.skip("replicas share PostgreSQL")
    config = {"database": {"vote_lanes": 4, "vote_sync_commit": False}}
    first = await make_app(sample=True, config=config)
    second = await make_app(config=config)
    messages = await _posted_papers(first)
    sequences, final = _reactions(list(messages), users=16, seed=11)
    doubled = [[*events, *events[-1:]] for events in sequences]  # the last reaction delivered twice: no change
    await _deliver([first, second], doubled)
    assert await _tallies(first, messages) == final == await _tallies(second, messages)


async def test_relaxed_commits_turn_off_synchronous_commit_in_the_vote_write_only(make_app: MakeApp, database) -> None:  # type: ignore[no-untyped-def]
    if database.kind != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    app = await make_app(config={"database": {"pool_size": 1}})
    now = datetime(2024, 3, 15, tzinfo=UTC)
    for relaxed in (False, True):
        async with app.uow() as uow:  # a unit of work already in a transaction: the write runs in it
            await uow._session.scalar(text("SELECT 1"))  # type: ignore[union-attr]
            await uow.vote_batch.remember_and_lock([("slack", f"Ev{relaxed}")], [], now=now, sync_commit=not relaxed)
            await uow.vote_batch.apply_many([], now=now, before={})  # remembers the event id: the group's write
            inside = await uow._session.scalar(text("SHOW synchronous_commit"))  # type: ignore[union-attr]
            await uow.commit()
        async with app.uow() as uow:  # on its own (no transaction around it), as a group is written
            await uow.vote_batch.remember_and_lock([("slack", f"Ev{relaxed}+")], [], now=now, sync_commit=not relaxed)
            await uow.vote_batch.apply_many([], now=now, before={})
        async with app.uow() as uow:  # the pool's one connection again, in its next transaction
            after = await uow._session.scalar(text("SHOW synchronous_commit"))  # type: ignore[union-attr]
            remembered = await uow._session.scalar(text("SELECT count(*) FROM processed_events"))  # type: ignore[union-attr]
        assert (inside, after, remembered) == ("off" if relaxed else "on", "on", 2 + 2 * relaxed)


async def test_a_group_whose_votes_another_writer_changed_first_writes_nothing_and_is_read_again(
    make_app: MakeApp,
    database,  # type: ignore[no-untyped-def]
) -> None:
    """Between a group's read and its write another writer (a lane, a replica) changes a vote the group changes:
    the write leaves everything as it was, its event ids too, and the next read sees the other writer's vote."""
    if database.kind != "postgresql":
        pytest.skip("SQLite locks the votes in the group's transaction instead")
    from bot.domain.vote_rules import Reaction, VotesChanged

    app = await make_app(sample=True)
    messages = await _posted_papers(app)
    message, paper = next(iter(messages.items()))
    async with app.uow() as uow:
        channel_id = await uow.channels.id_of(HERE)
    assert channel_id is not None
    key, now = (channel_id, paper, "u1"), datetime(2024, 3, 15, tzinfo=UTC)
    add = Reaction(channel_id, paper, "u1", 1, "👍", False)
    async with app.uow() as uow:
        fresh, before, _ = await uow.vote_batch.remember_and_lock([("slack", "Ev1")], [key], now=now)
        assert (fresh, before) == ({("slack", "Ev1")}, {})
        assert await app.service.record_vote(VoteEvent(HERE, "u1", message, -1, reaction="👎")) == VoteTally(0, 1)
        with pytest.raises(VotesChanged):
            await uow.vote_batch.apply_many([add], now=now, before=before)
        fresh, before, _ = await uow.vote_batch.remember_and_lock([("slack", "Ev1")], [key], now=now)
        assert fresh == {("slack", "Ev1")} and before[key].value == -1  # nothing of the failed write stayed
        _, tallies = await uow.vote_batch.apply_many([add], now=now, before=before)
        assert tallies == {(channel_id, paper): VoteTally(1, 0)}
    assert await app.service.record_vote(VoteEvent(HERE, "u2", message, 1, event_id="Ev1")) is None  # remembered
    assert (await app.service.paper(paper, HERE)).votes == VoteTally(1, 0)
