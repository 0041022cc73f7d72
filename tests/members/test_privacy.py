"""/optout, /optin, /mydata and /forget through the real router and store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from bot.ports import Role
from engine.events import Platform
from engine.members.lookup import member_of_account
from engine.members.privacy import export_member, forget_member
from engine.store.base import Base
from engine.store.models import Account, AuditEntry, Community, CommunityMember, Member, Message
from tests.members.fakes import Clock, FakeMessenger, click, cmd, joined, msg, react


async def member(app: App, user: str, platform: str = "telegram") -> int | None:
    return await app.store.read(lambda s: member_of_account(s, platform, user))


def references(session: Session, member_id: int) -> dict[str, int]:
    """Rows in any table whose FK column to members.id holds ``member_id``."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "members" for fk in column.foreign_keys):
                n = len(session.execute(select(table).where(column == member_id)).all())
                if n:
                    found[f"{table.name}.{column.name}"] = n
    return found


async def test_optout_and_optin_cover_every_community(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("alice", "hi group one", community="g1"), tg)
    await app.dispatch(msg("alice", "hi group two", community="g2"), tg)
    await app.dispatch(cmd("alice", "optout", community="g1"), tg)
    assert "won't send you" in tg.last_reply("alice")

    def flags(s: Session) -> list[bool]:
        return list(s.execute(select(CommunityMember.dm_opt_out)).scalars())

    assert await app.store.read(flags) == [True, True]
    await app.dispatch(cmd("alice", "optin", private=True), tg)
    assert await app.store.read(flags) == [False, False]


async def test_mydata_sends_own_data_by_dm_only(app: App, tg: FakeMessenger) -> None:
    first = msg("alice", "alice's secret recipe")
    await app.dispatch(first, tg)
    await app.dispatch(msg("bob", "bob's private thought", reply_to=first), tg)
    await app.dispatch(react("bob", first), tg)
    await app.dispatch(cmd("alice", "mydata"), tg)

    docs = tg.of("document")
    assert [d.to for d in docs] == ["alice"]
    blob = docs[0].data.decode()
    data = docs[0].json()
    assert [m["text"] for m in data["core"]["messages"]] == ["alice's secret recipe"]
    assert "bob's private thought" not in blob
    assert data["core"]["accounts"][0]["user_id"] == "alice"
    assert "linking" in data
    # The group only hears that it was sent, never the data.
    group_replies = [o.plain for o in tg.of("reply")]
    assert group_replies == ["I've sent you your data in a private message."]


async def test_mydata_when_dm_unreachable_asks_to_open_a_private_chat(app: App, tg: FakeMessenger) -> None:
    tg.unreachable.add("alice")
    await app.dispatch(msg("alice", "my words"), tg)
    await app.dispatch(cmd("alice", "mydata"), tg)
    assert tg.of("document") == []
    reply = tg.last_reply("alice")
    assert "private chat" in reply and "my words" not in reply
    reachable = await app.store.read(
        lambda s: s.execute(select(Account.dm_reachable).where(Account.external_id == "alice")).scalar_one()
    )
    assert reachable is False


async def _rich_history(app: App, tg: FakeMessenger) -> None:
    """Alice everywhere: messages, replies both ways, reactions, a join, moderation, a code."""
    tg.roles["mod"] = Role.MODERATOR
    await app.dispatch(joined("alice"), tg)
    a1 = msg("alice", "question from alice", minutes=1)
    await app.dispatch(a1, tg)
    b1 = msg("bob", "answer from bob", reply_to=a1, minutes=2)
    await app.dispatch(b1, tg)
    await app.dispatch(msg("alice", "thanks bob!", reply_to=b1, minutes=3), tg)
    await app.dispatch(react("alice", b1, "🙏", minutes=4), tg)
    await app.dispatch(react("bob", a1, "👍", minutes=5), tg)
    await app.dispatch(msg("mod", "hello", minutes=5), tg)
    await app.dispatch(cmd("mod", "warn", "@alice", "be nice", minutes=6), tg)
    await app.dispatch(cmd("alice", "link", private=True, minutes=7), tg)
    await app.dispatch(cmd("alice", "link", "WRONGCOD", private=True, minutes=7), tg)


async def test_forget_needs_a_confirmation_click_by_the_same_member(app: App, tg: FakeMessenger,
                                                                  clock: Clock) -> None:
    await _rich_history(app, tg)
    alice = await member(app, "alice")
    assert alice is not None
    await app.dispatch(cmd("alice", "forget"), tg)
    buttons = tg.of("reply", "alice")[-1].buttons
    confirm = next(b for b in buttons if b.label == "Yes, forget me")
    assert confirm.data.startswith(f"forget:confirm:{alice}:")

    # Bob clicking Alice's button does nothing.
    await app.dispatch(click("bob", confirm.data), tg)
    assert "Only the person who asked" in tg.last_reply("bob")
    assert await member(app, "alice") == alice

    # Ten minutes later the button has expired.
    clock.advance(minutes=11)
    await app.dispatch(click("alice", confirm.data), tg)
    assert "expired" in tg.last_reply("alice")
    assert await member(app, "alice") == alice

    await app.dispatch(cmd("alice", "forget"), tg)
    confirm = next(b for b in tg.of("reply", "alice")[-1].buttons if b.label == "Yes, forget me")
    await app.dispatch(click("alice", confirm.data), tg)
    assert "deleted your data" in tg.last_reply("alice")

    # The same button cannot be used twice.
    await app.dispatch(click("alice", confirm.data), tg)

    def check(s: Session) -> dict[str, Any]:
        return {
            "refs": references(s, alice),
            "member": s.get(Member, alice),
            "accounts": s.execute(select(Account.external_id)).scalars().all(),
            "texts": s.execute(select(Message.text)).scalars().all(),
            "audit": [(a.action, a.actor_id, a.target_member_id, a.details)
                      for a in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()],
        }

    state = await app.store.read(check)
    assert state["refs"] == {}
    assert state["member"] is None
    # The second click above re-created a fresh, empty account for alice: a new member.
    assert (await member(app, "alice")) != alice
    assert "question from alice" not in state["texts"] and "thanks bob!" not in state["texts"]
    assert "answer from bob" in state["texts"]
    warn = next(a for a in state["audit"] if a[0] == "warn")
    assert warn[2] is None and "be nice" not in str(warn[3])
    forgotten = next(a for a in state["audit"] if a[0] == "member_forgotten")
    assert forgotten[1] is None and forgotten[2] is None
    assert "alice" not in str(forgotten[3]).lower()
    # Bob's data is intact and exportable.
    bob = await member(app, "bob")
    assert bob is not None
    bob_data = await app.store.read(lambda s: export_member(s, bob, app.privacy_hooks))
    assert [m["text"] for m in bob_data["core"]["messages"]] == ["answer from bob"]


async def test_forget_cancel_keeps_everything(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("alice", "keep me"), tg)
    alice = await member(app, "alice")
    await app.dispatch(cmd("alice", "forget"), tg)
    cancel = next(b for b in tg.of("reply", "alice")[-1].buttons if b.label == "Cancel")
    await app.dispatch(click("alice", cancel.data), tg)
    assert "nothing was deleted" in tg.last_reply("alice")
    assert await member(app, "alice") == alice


async def test_forget_removes_private_chat_community(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("alice", "group hello"), tg)
    await app.dispatch(cmd("alice", "mydata", private=True), tg)
    alice = await member(app, "alice")
    assert alice is not None
    await app.store.write(lambda s: forget_member(s, alice, app.privacy_hooks))
    ids = await app.store.read(lambda s: s.execute(select(Community.external_id)).scalars().all())
    assert ids == ["tg-group"]


def test_privacy_hooks_come_from_the_capability_list(app: App) -> None:
    names = [h.name for h in app.privacy_hooks]
    assert [m.privacy.name for m in app.modules if m.privacy is not None] == names
    assert {"linking", "points", "catalog", "digest", "nudges", "dead_letters"} <= set(names)


async def test_optout_on_other_platform_messenger(app: App, dc: FakeMessenger) -> None:
    await app.dispatch(msg("dave", "hey", platform=Platform.DISCORD, community="guild"), dc)
    await app.dispatch(cmd("dave", "optout", platform=Platform.DISCORD, community="guild"), dc)
    flags = await app.store.read(lambda s: s.execute(select(CommunityMember.dm_opt_out)).scalars().all())
    assert flags == [True]



async def test_forgotten_member_leaves_the_leaderboard(app: App, tg: FakeMessenger, clock: Clock) -> None:
    points = pytest.importorskip("engine.points.service")
    tg.roles["bob"] = Role.MEMBER
    for i in range(3):
        q = msg("bob", f"how do I solve exercise {i}? I have tried several things already", minutes=10 * i)
        await app.dispatch(q, tg)
        a = msg("alice", f"for exercise {i} you can split the problem into two smaller parts and then "
                "combine the partial results, here is the idea in detail", reply_to=q, minutes=10 * i + 1)
        await app.dispatch(a, tg)
        await app.dispatch(react("bob", a, "🙏", minutes=10 * i + 2), tg)
        await app.dispatch(msg("bob", "thanks, that helped a lot!", reply_to=a, minutes=10 * i + 3), tg)
    alice = await member(app, "alice")
    community = await app.store.read(lambda s: s.execute(select(Community.id)).scalar_one())
    now = clock()

    def board(s: Session) -> list[int]:
        return [row.member_id for row in points.leaderboard(s, community, "all", now)[1]]

    before = await app.store.read(board)
    assert alice in before
    await app.dispatch(cmd("alice", "forget"), tg)
    confirm = next(b for b in tg.of("reply", "alice")[-1].buttons if b.label == "Yes, forget me")
    await app.dispatch(click("alice", confirm.data), tg)
    assert alice not in await app.store.read(board)
