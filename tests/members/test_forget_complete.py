"""/forget leaves nothing: after a member who did everything (group messages, replies,
reactions, a join, points, catalog, moderation, DMs with the bot, a link code) confirms
/forget, EVERY table in ``Base.metadata`` is scanned and no row references them by member
id, platform user id, username or name.

The scan is generic on purpose: a table a later module adds is covered without touching
this test (columns that point at members — a foreign key to ``members.id`` or a name such as
``member_id``, ``user_id``, ``*_member_id``, ``actor_id``, ``author_id``, ``created_by`` — are
compared with the member id; every text and JSON value is searched for the platform id,
username and display name). Events are shaped as the real adapters shape them: a DM is a
private chat whose id is the user's id, in the platform's shared ``""`` community.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

import engine.store.all_tables  # noqa: F401  (every module's tables in Base.metadata)
from bot.bootstrap import App
from bot.ports import Role
from engine.events import (
    ButtonClicked,
    CommandInvoked,
    Event,
    MemberJoined,
    MessagePosted,
    Platform,
    ReactionAdded,
    ThreadOpened,
)
from engine.members.lookup import member_of_account
from engine.store.base import Base
from tests.members.fakes import T0, Clock, FakeMessenger

GROUP = "-1007770000"
# (platform user id, username, display name): distinctive so a match is never a coincidence.
FORGOTTEN = ("7770001", "forget_me_user", "Forgetta Memberson")
BOB = ("5550002", "bob_helper", "Bob Helper")
MOD = ("5550003", "mod_person", "Mod Person")
MEMBER_COLUMNS = re.compile(r"^(member_id|user_id|actor_id|author_id|created_by|.*_member_id|.*_by)$")
_TOKENS = re.compile(r"[^0-9A-Za-z_@]+")
_n = iter(range(100, 10_000))


def event(cls: type[Event], who: tuple[str, str, str], *, dm: bool = False, minutes: float = 0,
          **kw: Any) -> Any:
    uid, username, name = who
    fields: dict[str, Any] = {
        "platform": Platform.TELEGRAM, "community_id": "" if dm else GROUP, "chat_id": uid if dm else GROUP,
        "user_id": uid, "user_name": name, "username": username, "is_private": dm,
        "chat_title": "" if dm else "Python Cohort", "at": T0 + timedelta(minutes=minutes)}
    if cls is not MemberJoined:
        fields["message_id"] = kw.pop("message_id", str(next(_n)))
    return cls(**fields, **kw)


def command(who: tuple[str, str, str], name: str, *args: str, dm: bool = False, minutes: float = 0,
            **kw: Any) -> CommandInvoked:
    return event(CommandInvoked, who, dm=dm, minutes=minutes, name=name, args=args,
                 raw_text="/" + " ".join((name, *args)), **kw)


def references(session: Session, member_id: int, who: tuple[str, str, str]) -> list[str]:
    """Every row of every table that still points at the member, as ``table.column = value``."""
    uid, username, name = who
    handles = {uid, username.lower(), f"@{username.lower()}"}
    found = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)).mappings():
            for column in table.columns:
                value = row[column.key]
                if value is None:
                    continue
                points_at_members = MEMBER_COLUMNS.match(column.name) or any(
                    fk.column.table.name == "members" for fk in column.foreign_keys)
                if points_at_members and str(value) in (str(member_id), uid):
                    found.append(f"{table.name}.{column.name} = {value!r}")
                    continue
                if isinstance(column.type, String | Text | JSON):
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                    tokens = {t.lower() for t in _TOKENS.split(text) if t}
                    if tokens & handles or name.lower() in text.lower():
                        found.append(f"{table.name}.{column.name} = {text[:120]!r}")
    return found


async def _everything(app: App, tg: FakeMessenger) -> None:
    """The member does everything Cohort records, in the group and in a DM."""
    t = iter(range(1, 1000))
    for who in (MOD, BOB):
        await app.dispatch(event(MessagePosted, who, minutes=next(t), text=f"hello everyone, I am {who[2]}"), tg)
    await app.dispatch(event(MemberJoined, FORGOTTEN, minutes=next(t)), tg)
    question = event(MessagePosted, FORGOTTEN, minutes=next(t), message_id="q1",
                     text="How do I cancel an asyncio task cleanly? I tried task.cancel() already")
    await app.dispatch(question, tg)
    answer = event(MessagePosted, BOB, minutes=next(t), message_id="a1", reply_to_message_id="q1",
                   reply_to_user_id=FORGOTTEN[0],
                   text="Call task.cancel() and then await it inside try/except CancelledError, that's it")
    await app.dispatch(answer, tg)
    await app.dispatch(event(MessagePosted, FORGOTTEN, minutes=next(t), reply_to_message_id="a1",
                             reply_to_user_id=BOB[0], text="Thank you Bob, that worked perfectly for me!"), tg)
    await app.dispatch(event(ReactionAdded, FORGOTTEN, minutes=next(t), message_id="a1", emoji="🙏",
                             target_user_id=BOB[0]), tg)
    await app.dispatch(event(ReactionAdded, BOB, minutes=next(t), message_id="q1", emoji="👍",
                             target_user_id=FORGOTTEN[0]), tg)
    await app.dispatch(event(ThreadOpened, FORGOTTEN, minutes=next(t), thread_id="77", title="My asyncio notes"),
                       tg)
    await app.dispatch(command(FORGOTTEN, "solved", minutes=next(t), reply_to_message_id="a1",
                               reply_to_user_id=BOB[0]), tg)
    await app.dispatch(command(MOD, "item", "add", "https://example.org/asyncio", "Asyncio", "basics",
                               minutes=next(t)), tg)
    await app.dispatch(command(FORGOTTEN, "done", "asyncio-basics", minutes=next(t)), tg)
    await app.dispatch(command(FORGOTTEN, "rate", "asyncio-basics", "5", minutes=next(t)), tg)
    await app.dispatch(command(FORGOTTEN, "recommend", minutes=next(t)), tg)
    await app.dispatch(command(MOD, "points", "give", f"@{FORGOTTEN[1]}", "10", "great", "question",
                               minutes=next(t)), tg)
    await app.dispatch(command(MOD, "warn", f"@{FORGOTTEN[1]}", "calm", "down", minutes=next(t)), tg)
    await app.dispatch(command(FORGOTTEN, "leaderboard", minutes=next(t)), tg)
    # In the DM with the bot: chat id == user id.
    for name, args in (("start", ()), ("help", ()), ("mydata", ()), ("optout", ()), ("link", ())):
        await app.dispatch(command(FORGOTTEN, name, *args, dm=True, minutes=next(t)), tg)
    await app.dispatch(event(MessagePosted, FORGOTTEN, dm=True, minutes=next(t), text="is anyone there?"), tg)


async def test_forget_leaves_no_row_referencing_the_member(app: App) -> None:
    clock = Clock(T0 + timedelta(hours=2))
    app.clock = clock
    tg = FakeMessenger(Platform.TELEGRAM, roles={MOD[0]: Role.MODERATOR})
    await _everything(app, tg)
    member_id = await app.store.read(lambda s: member_of_account(s, "telegram", FORGOTTEN[0]))
    assert member_id is not None
    before = await app.store.read(lambda s: references(s, member_id, FORGOTTEN))
    # The scan sees the member in the tables of every capability (it can find what it looks for).
    tables = {ref.split(".")[0] for ref in before}
    assert {"accounts", "messages", "chats", "processed_events", "community_members", "reactions",
            "catalog_completions"} <= tables, tables

    await app.dispatch(command(FORGOTTEN, "forget", dm=True, minutes=200), tg)
    confirm = next(b for b in tg.of("reply", FORGOTTEN[0])[-1].buttons if b.label == "Yes, forget me")
    await app.dispatch(event(ButtonClicked, FORGOTTEN, dm=True, minutes=200, data=confirm.data,
                             click_id="click-1"), tg)
    assert "deleted your data" in tg.last_reply(FORGOTTEN[0])

    after = await app.store.read(lambda s: references(s, member_id, FORGOTTEN))
    assert after == []
    # Other members keep their data.
    still = await app.store.read(lambda s: references(s, -1, BOB))
    assert any(ref.startswith("accounts.") for ref in still)
