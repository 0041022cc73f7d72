"""Every event type delivered twice is stored once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.bootstrap import App
from engine.events import (
    ButtonClicked,
    CommandInvoked,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionCountChanged,
    ReactionRemoved,
    ThreadOpened,
)
from engine.store.base import Base
from tests.doubles.events import at, base
from tests.doubles.messenger import RecordingMessenger


def every_kind_of_event() -> list:
    return [
        MemberJoined(**base("alice", minutes=0)),
        ThreadOpened(**base("alice", minutes=1, thread_id="t1"), title="How do I await?"),
        MessagePosted(**base("alice", minutes=2, thread_id="t1"), message_id="1", text="How do I await a task?",
                      is_topic_start=True),
        MessagePosted(**base("bob", minutes=3, thread_id="t1"), message_id="2", text="Use asyncio.gather",
                      reply_to_message_id="1", reply_to_user_id="alice", links=("https://docs.python.org/3/",)),
        MessageEdited(**base("bob", minutes=4, thread_id="t1"), message_id="2", text="Use asyncio.gather()"),
        ReactionAdded(**base("alice", minutes=5), message_id="2", emoji="✅", target_user_id="bob"),
        ReactionRemoved(**base("alice", minutes=6), message_id="2", emoji="✅", target_user_id="bob"),
        ReactionCountChanged(**base("", minutes=7), message_id="2", emoji="👍", count=3),
        CommandInvoked(**base("carol", minutes=8), message_id="3", name="help", raw_text="/help"),
        ButtonClicked(**base("carol", minutes=9), message_id="bot-1", data="noop", click_id="cb1"),
        MessageDeleted(**base("bob", minutes=10), message_id="2"),
        MemberLeft(**base("carol", minutes=11)),
    ]


def row_counts(app: App) -> dict[str, int]:
    def count(session):
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}
    return app.store.read_sync(count)


async def test_every_event_delivered_twice_is_stored_once(app: App) -> None:
    messenger = RecordingMessenger()
    events = every_kind_of_event()
    first = [await app.dispatch(e, messenger) for e in events]
    counts_once = row_counts(app)
    said_once = len(messenger.said)
    second = [await app.dispatch(e, messenger) for e in events]

    assert not any(o.duplicate for o in first)
    assert all(o.duplicate for o in second)
    assert row_counts(app) == counts_once
    assert len(messenger.said) == said_once  # a redelivered /help is not answered twice
    assert counts_once["messages"] == 2
    assert counts_once["processed_events"] == len(events)


async def test_concurrent_duplicates_are_stored_once(app: App) -> None:
    import asyncio

    messenger = RecordingMessenger()
    msgs = [MessagePosted(**base(f"u{i % 7}", minutes=i), message_id=str(i), text=f"message {i}") for i in range(200)]
    outcomes = await asyncio.gather(*(app.dispatch(m, messenger) for m in msgs + msgs))
    assert sum(not o.duplicate for o in outcomes) == 200
    counts = row_counts(app)
    assert counts["messages"] == 200
    assert counts["members"] == 7
    assert counts["accounts"] == 7


async def test_same_message_id_in_two_chats_is_two_messages(app: App) -> None:
    m = RecordingMessenger()
    await app.dispatch(MessagePosted(**base("a", chat="c1"), message_id="1", text="x"), m)
    await app.dispatch(MessagePosted(**base("a", chat="c2"), message_id="1", text="y"), m)
    assert row_counts(app)["messages"] == 2


def test_time_helper_is_utc() -> None:
    assert at(0).tzinfo is not None


async def test_dm_opt_out_follows_member_to_a_new_community(app: App) -> None:
    from sqlalchemy import update

    from engine.store.models import CommunityMember
    from tests.doubles.events import message

    m = RecordingMessenger()
    await app.dispatch(message("dana", community="g1"), m)
    await app.store.write(lambda s: s.execute(update(CommunityMember).values(dm_opt_out=True)))
    await app.dispatch(message("dana", community="g2"), m)
    flags = app.store.read_sync(lambda s: s.execute(select(CommunityMember.dm_opt_out)).scalars().all())
    assert flags == [True, True]


async def test_a_reaction_re_added_after_removal_counts_but_a_retimed_redelivery_does_not(app: App) -> None:
    from engine.store.models import Interaction, Reaction

    messenger = RecordingMessenger()
    await app.dispatch(MessagePosted(**base("bob", minutes=0), message_id="9", text="answer"), messenger)
    react: dict[str, Any] = {"message_id": "9", "emoji": "👍", "target_user_id": "bob"}
    assert not (await app.dispatch(ReactionAdded(**base("alice", minutes=1), **react), messenger)).duplicate
    await app.dispatch(ReactionRemoved(**base("alice", minutes=2), **react), messenger)
    readd = await app.dispatch(ReactionAdded(**base("alice", minutes=3), **react), messenger)
    # Discord redelivers without a timestamp, so the same reaction can arrive with a new time.
    again = await app.dispatch(ReactionAdded(**base("alice", minutes=4), **react), messenger)
    assert not readd.duplicate and again.duplicate

    def state(session):
        removed = session.execute(select(Reaction.removed_at)).scalars().all()
        logged = session.execute(select(func.count()).select_from(Interaction)
                                 .where(Interaction.kind == "reaction")).scalar_one()
        return removed, logged

    assert app.store.read_sync(state) == ([None], 2)  # standing again; two real adds logged
