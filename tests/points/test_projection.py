"""The projection through the real store: events in, ledger / balances / badges out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Role
from engine.points import service
from engine.points.tables import PointsEntry
from tests.points.fakes import T0, FakeMessenger, badges, cmd, ids, minutes, msg, points, react, sentence


async def test_message_earns_and_first_message_badge(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0), tg)
    assert await points(app, "ann") == 1
    assert await badges(app, "ann") == {"first_message"}
    assert any("First words" in s for s in tg.sent)


async def test_short_bot_and_forwarded_messages_earn_nothing(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", "ok", T0), tg)
    await app.dispatch(msg("ann", sentence(2), T0 + minutes(2), forwarded=True), tg)
    await app.dispatch(msg("robot", sentence(3), T0, is_bot=True), tg)
    assert await points(app, "ann") == 0
    assert await points(app, "robot") == 0


async def test_redelivery_pays_once(app: App, tg: FakeMessenger) -> None:
    ev = msg("ann", sentence(1), T0)
    await app.dispatch(ev, tg)
    out = await app.dispatch(ev, tg)
    assert out.duplicate
    assert await points(app, "ann") == 1


async def test_reply_from_distinct_member_pays_author(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q1"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), reply_to="q1", reply_user="ann"), tg)
    await app.dispatch(msg("bob", sentence(3), T0 + minutes(3), reply_to="q1", reply_user="ann"), tg)
    await app.dispatch(msg("ann", sentence(4), T0 + minutes(5), reply_to="q1", reply_user="ann"), tg)
    # ann: her own two messages (1 + 1) + one reply credit from bob (3); her self-reply pays no credit
    assert await points(app, "ann") == 1 + 3 + 1
    assert await points(app, "bob") == 2


async def test_reply_to_bot_pays_nobody(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("robot", sentence(1), T0, mid="b1", is_bot=True), tg)
    await app.dispatch(msg("ann", sentence(2), T0 + minutes(1), reply_to="b1", reply_user="robot"), tg)
    assert await points(app, "robot") == 0
    assert await points(app, "ann") == 1


async def test_reactions_distinct_capped_no_self(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="a1"), tg)
    await app.dispatch(react("ann", "a1", T0 + minutes(1)), tg)  # self-reaction
    for i, who in enumerate(["b", "c", "d", "e", "f", "g", "h"]):
        await app.dispatch(msg(who, sentence(10 + i), T0), tg)  # they exist as members
        await app.dispatch(react(who, "a1", T0 + minutes(2 + i)), tg)
    # 1 for the message + at most 5 reactions x 2
    assert await points(app, "ann") == 1 + 5 * 2


async def test_accept_by_checkmark_from_asker(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="a", reply_to="q", reply_user="ann"), tg)
    await app.dispatch(msg("eve", sentence(3), T0 + minutes(1)), tg)
    await app.dispatch(react("eve", "a", T0 + minutes(2), emoji="✅"), tg)  # not the asker: a reaction
    await app.dispatch(react("ann", "a", T0 + minutes(3), emoji="✅"), tg)
    await app.dispatch(react("ann", "a", T0 + minutes(4), emoji="✔️"), tg)  # accepted once only
    assert await points(app, "bob") == 1 + 2 + 15
    assert "first_accepted" in await badges(app, "bob")
    cid, bob = await ids(app, "bob")
    summ = await app.store.read(lambda s: service.summary(s, cid, bob, T0.date()))
    assert summ.stats["accepted"] == 1 and summ.helped == 1


async def test_accept_in_thread_by_starter(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="t0", thread="th", topic_start=True), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="t1", thread="th"), tg)
    await app.dispatch(react("ann", "t1", T0 + minutes(2), emoji="✅"), tg)
    assert await points(app, "bob") == 1 + 15


async def test_solved_command(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="a", reply_to="q", reply_user="ann"), tg)
    await app.dispatch(msg("eve", sentence(3), T0 + minutes(1)), tg)
    await app.dispatch(cmd("eve", "solved", at=T0 + minutes(2), reply_to="a", reply_user="bob"), tg)
    assert "Only the person who asked" in tg.last
    await app.dispatch(cmd("ann", "solved", at=T0 + minutes(3), reply_to="a", reply_user="bob"), tg)
    assert await points(app, "bob") == 1 + 15
    assert any("accepted (+15)" in s for s in tg.sent)
    await app.dispatch(cmd("ann", "solved", at=T0 + minutes(4), reply_to="a", reply_user="bob"), tg)
    assert "can't earn points" in tg.last
    await app.dispatch(cmd("bob", "solved", at=T0 + minutes(5), reply_to="q", reply_user="ann"), tg)
    assert "Only the person who asked" in tg.last
    # A moderator may accept for someone else.
    tg.roles["eve"] = Role.MODERATOR
    await app.dispatch(msg("cat", sentence(4), T0 + minutes(6), mid="a2", reply_to="q", reply_user="ann"), tg)
    await app.dispatch(cmd("eve", "solved", at=T0 + minutes(7), reply_to="a2", reply_user="cat"), tg)
    assert await points(app, "cat") == 1 + 15


async def test_streak_milestone_and_badge(app: App, tg: FakeMessenger) -> None:
    for d in range(7):
        await app.dispatch(msg("ann", sentence(d), T0 + timedelta(days=d)), tg)
    # 7 messages + milestones 3 (5) and 7 (15)
    assert await points(app, "ann") == 7 + 5 + 15
    assert "streak_7" in await badges(app, "ann")


async def test_level_up_notice(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0), tg)
    await app.dispatch(msg("mod", sentence(2), T0), tg)
    tg.roles["mod"] = Role.MODERATOR
    await app.dispatch(cmd("mod", "points", "give", "@ann", "60", "great", "notes", at=T0 + minutes(1)), tg)
    assert any("reached level 1" in s for s in tg.sent)


async def test_completion_api(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0), tg)
    cid, ann = await ids(app, "ann")
    n1 = await app.store.write(lambda s: service.award_completion(s, cid, ann, "intro/1", 20, T0, "cat:intro/1:ann"))
    n2 = await app.store.write(lambda s: service.award_completion(s, cid, ann, "intro/1", 20, T0, "cat:intro/1:ann"))
    assert [n.data.get("badge") for n in n1 if n.kind == "badge"] == ["first_completion"]
    assert n2 == []
    # the live projection's cache was invalidated: the next message adds on top
    await app.dispatch(msg("ann", sentence(2), T0 + minutes(2)), tg)
    assert await points(app, "ann") == 1 + 20 + 1
    await app.store.write(lambda s: service.award_course_finished(s, cid, ann, "intro", T0))
    assert "course_finisher" in await badges(app, "ann")


async def test_weekly_top_helper(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="a", reply_to="q", reply_user="ann"), tg)
    await app.dispatch(react("ann", "a", T0 + minutes(2), emoji="✅"), tg)
    await app.dispatch(msg("ann", sentence(3), T0 + timedelta(days=7)), tg)  # next Monday
    assert "weekly_top_helper" in await badges(app, "bob")


async def test_forget_and_export(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="a", reply_to="q", reply_user="ann"), tg)
    _, ann = await ids(app, "ann")
    data = await app.store.read(lambda s: service.export_member(s, ann))
    assert data["balances"][0]["total"] == 4 and {e["rule"] for e in data["ledger"]} == {"message", "reply"}
    assert data["badges"][0]["badge"] == "first_message"
    assert await app.store.write(lambda s: service.forget_member(s, ann)) == 2
    assert await app.store.read(lambda s: service.export_member(s, ann)) == {
        "balances": [], "ledger": [], "badges": [], "seasons_started": []}
    rows = await app.store.read(lambda s: s.execute(select(PointsEntry.member_id)).scalars().all())
    assert ann not in rows


async def test_rebuild_balances_matches(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), reply_to="q", reply_user="ann"), tg)
    before = await points(app, "ann")
    assert await app.store.write(lambda s: service.rebuild_balances(s)) == 2
    assert await points(app, "ann") == before
