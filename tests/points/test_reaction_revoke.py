"""Removing a reaction takes back what it earned: a compensating ledger entry, once."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.bootstrap import App
from bot.ports import Role
from engine.events import Event, Platform, ReactionAdded, ReactionRemoved
from engine.points import rules as R
from engine.points.projection import live_projections
from engine.points.tables import PointsEntry, PointsMember
from tests.points.fakes import (
    GROUP,
    T0,
    FakeMessenger,
    badges,
    cmd,
    ids,
    minutes,
    msg,
    points,
    react,
    sentence,
)
from tests.points.test_replay import run, scenario

REACTION = R.PointsRules().reaction_points
ACCEPTED = R.PointsRules().accepted_points


def unreact(user: str, mid: str, at: datetime, *, emoji: str = "👍") -> ReactionRemoved:
    return ReactionRemoved(platform=Platform.TELEGRAM, community_id=GROUP, chat_id=GROUP, user_id=user,
                           at=at, message_id=mid, emoji=emoji, username=user, user_name=user.capitalize())


async def ledger(app: App, user: str) -> list[tuple[str, int, str]]:
    """(rule, amount, source key) of a user's ledger rows, oldest first."""
    _, mid = await ids(app, user)
    return [tuple(r) for r in await app.store.read(lambda s: s.execute(  # type: ignore[misc]
        select(PointsEntry.rule, PointsEntry.amount, PointsEntry.source_key)
        .where(PointsEntry.member_id == mid).order_by(PointsEntry.id)).all())]


async def state(app: App, user: str) -> R.MemberState:
    cid, mid = await ids(app, user)
    raw = await app.store.read(lambda s: s.execute(select(PointsMember.state).where(
        PointsMember.community_id == cid, PointsMember.member_id == mid)).scalar_one())
    return R.MemberState.from_json(raw)


async def setup(app: App, tg: FakeMessenger) -> int:
    """ann posts ``a1``; bob and cat exist. Returns ann's points before any reaction."""
    await app.dispatch(msg("ann", sentence(1), T0, mid="a1"), tg)
    await app.dispatch(msg("bob", sentence(2), T0, mid="b1"), tg)
    await app.dispatch(msg("cat", sentence(3), T0, mid="c1"), tg)
    return await points(app, "ann")


async def test_removal_takes_the_award_back_and_keeps_both_rows(app: App, tg: FakeMessenger) -> None:
    base = await setup(app, tg)
    await app.dispatch(react("bob", "a1", T0 + minutes(1), target="ann"), tg)
    assert await points(app, "ann") == base + REACTION
    day_points = (await state(app, "ann")).day_points
    await app.dispatch(unreact("bob", "a1", T0 + minutes(2)), tg)
    assert await points(app, "ann") == base
    rows = [r for r in await ledger(app, "ann") if r[0] != "message"]
    assert rows == [("reaction", REACTION, rows[0][2]), ("reaction_revoked", -REACTION, rows[0][2])]
    # Same UTC day: the daily-cap room and bob's pair credit come back.
    after = await state(app, "ann")
    assert after.day_points == day_points - REACTION and after.pairs == {}
    assert after.stats.get("reactions", 0) == 0


async def test_removal_that_never_earned_adds_no_row(app: App, tg: FakeMessenger) -> None:
    base = await setup(app, tg)
    await app.dispatch(react("ann", "a1", T0 + minutes(1)), tg)  # self-reaction: earns nothing
    await app.dispatch(unreact("ann", "a1", T0 + minutes(2)), tg)
    await app.dispatch(unreact("bob", "a1", T0 + minutes(3)), tg)  # never added
    await app.dispatch(unreact("bob", "nope", T0 + minutes(3)), tg)  # unknown message
    await app.dispatch(react("bob", "a1", T0 + minutes(4), emoji="❤️", target="ann"), tg)
    await app.dispatch(unreact("bob", "a1", T0 + minutes(5), emoji="🔥"), tg)  # not the emoji that paid
    assert await points(app, "ann") == base + REACTION
    assert [r[0] for r in await ledger(app, "ann") if r[0] != "message"] == ["reaction"]


async def test_removal_by_another_member_does_not_revoke(app: App, tg: FakeMessenger) -> None:
    base = await setup(app, tg)
    await app.dispatch(react("bob", "a1", T0 + minutes(1), target="ann"), tg)
    await app.dispatch(unreact("cat", "a1", T0 + minutes(2)), tg)
    assert await points(app, "ann") == base + REACTION
    assert "reaction_revoked" not in {r[0] for r in await ledger(app, "ann")}


async def test_redelivered_removal_revokes_once(app: App, tg: FakeMessenger) -> None:
    base = await setup(app, tg)
    await app.dispatch(react("bob", "a1", T0 + minutes(1), target="ann"), tg)
    removal = unreact("bob", "a1", T0 + minutes(2))
    await app.dispatch(removal, tg)
    assert (await app.dispatch(removal, tg)).duplicate
    # Discord may redeliver without the original time: a new dedup key, same state.
    for late in (3, 60, 600):
        assert not (await app.dispatch(unreact("bob", "a1", T0 + minutes(late)), tg)).duplicate
    assert await points(app, "ann") == base
    assert [r[0] for r in await ledger(app, "ann")].count("reaction_revoked") == 1


async def level_one_minus_a_reaction(app: App, tg: FakeMessenger) -> int:
    """Bring ann just below level 1, so one reaction crosses it; returns her points."""
    base = await setup(app, tg)
    await app.dispatch(msg("mod", sentence(4), T0), tg)
    tg.roles["mod"] = Role.MODERATOR
    gift = R.points_for_level(1) - REACTION - base
    await app.dispatch(cmd("mod", "points", "give", "@ann", str(gift), "setup", at=T0 + minutes(1)), tg)
    assert not any("reached level 1" in s for s in tg.sent)
    return base + gift


async def forget_caches(app: App) -> None:
    """Drop the live projection's caches (as after a restart), on the writer thread."""
    def reset(session: Session) -> None:
        for projection in live_projections(session):
            projection.reset()

    await app.store.write(reset)


@pytest.mark.parametrize("cold", [False, True], ids=["warm-cache", "cold-cache"])
async def test_add_remove_cycles_leave_one_award_and_one_level_notice(app: App, tg: FakeMessenger,
                                                                      cold: bool) -> None:
    before = await level_one_minus_a_reaction(app, tg)
    emojis = ["👍", "❤️", "🔥", "🎉", "👏", "💯", "🙏", "😂", "🤔", "👀", "🚀", "⭐",
              "💡", "🙌", "😍", "🤝", "🏆", "📌", "🧠", "🌟", "🥇"]
    at = T0 + minutes(2)
    for i in range(20):
        await app.dispatch(react("bob", "a1", at, emoji=emojis[i], target="ann"), tg)
        if cold:
            await forget_caches(app)
        # A second emoji while the award stands earns nothing and its removal revokes nothing.
        await app.dispatch(react("bob", "a1", at, emoji="🆗", target="ann"), tg)
        await app.dispatch(unreact("bob", "a1", at, emoji="🆗"), tg)
        await app.dispatch(unreact("bob", "a1", at + minutes(1), emoji=emojis[i]), tg)
        if cold:
            await forget_caches(app)
        at += minutes(2)
    assert await points(app, "ann") == before
    await app.dispatch(react("bob", "a1", at, emoji=emojis[20], target="ann"), tg)
    assert await points(app, "ann") == before + REACTION
    rules = [r[0] for r in await ledger(app, "ann")]
    assert rules.count("reaction") == 21 and rules.count("reaction_revoked") == 20
    # Level 1 was crossed 21 times but is announced once; badges were never taken away.
    assert sum("reached level 1" in s for s in tg.sent) == 1
    st = await state(app, "ann")
    assert st.stats["reactions"] == 1 and st.peak_level == 1
    assert st.pairs == {str((await ids(app, "bob"))[1]): 1}


async def test_same_emoji_cycles_pay_exactly_once(app: App, tg: FakeMessenger) -> None:
    before = await level_one_minus_a_reaction(app, tg)
    at = T0 + minutes(2)
    for _ in range(20):
        await app.dispatch(react("bob", "a1", at, target="ann"), tg)
        await app.dispatch(unreact("bob", "a1", at + minutes(1)), tg)
        at += minutes(2)
    await app.dispatch(react("bob", "a1", at, target="ann"), tg)
    # Each re-add after a removal is a new event (the key carries its time): one award stands.
    assert await points(app, "ann") == before + REACTION
    rules = [r[0] for r in await ledger(app, "ann")]
    assert rules.count("reaction") - rules.count("reaction_revoked") == 1
    assert sum("reached level 1" in s for s in tg.sent) == 1
    # The same reaction delivered again with a new time (as Discord would) changes nothing.
    await app.dispatch(react("bob", "a1", at + minutes(5), target="ann"), tg)
    assert await points(app, "ann") == before + REACTION
    assert [r[0] for r in await ledger(app, "ann")] == rules


async def test_removed_tick_revokes_its_acceptance_but_keeps_the_badge(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0 + minutes(1), mid="a", reply_to="q", reply_user="ann"), tg)
    base = await points(app, "bob")
    await app.dispatch(react("ann", "a", T0 + minutes(2), emoji="✅"), tg)
    assert await points(app, "bob") == base + ACCEPTED
    await app.dispatch(unreact("cat", "a", T0 + minutes(3), emoji="✅"), tg)  # not the acceptor
    await app.dispatch(unreact("ann", "a", T0 + minutes(3), emoji="👍"), tg)  # not the emoji
    assert await points(app, "bob") == base + ACCEPTED
    await app.dispatch(unreact("ann", "a", T0 + minutes(4), emoji="✅"), tg)
    assert await points(app, "bob") == base
    assert "first_accepted" in await badges(app, "bob")  # earned badges stay
    assert (await state(app, "bob")).stats.get("accepted", 0) == 0
    # Accepting again (here with /solved) pays once more; removing a ✅ does not undo /solved.
    await app.dispatch(cmd("ann", "solved", at=T0 + minutes(5), reply_to="a", reply_user="bob"), tg)
    await app.dispatch(unreact("ann", "a", T0 + minutes(6), emoji="✅"), tg)
    assert await points(app, "bob") == base + ACCEPTED
    assert [r[0] for r in await ledger(app, "bob") if r[0].startswith("accepted")] == [
        "accepted", "accepted_revoked", "accepted"]


async def test_revoking_yesterdays_award_leaves_todays_cap_alone(app: App, tg: FakeMessenger) -> None:
    base = await setup(app, tg)
    await app.dispatch(react("bob", "a1", T0 + minutes(1), target="ann"), tg)
    tomorrow = T0 + timedelta(days=1)
    await app.dispatch(msg("ann", sentence(9), tomorrow), tg)
    today = await state(app, "ann")
    await app.dispatch(unreact("bob", "a1", tomorrow + minutes(1)), tg)
    after = await state(app, "ann")
    assert (after.day, after.day_points, after.pairs) == (today.day, today.day_points, today.pairs)
    assert await points(app, "ann") == base + 1 + R.PointsRules().milestone_bonus(2)


def with_removals(events: list[Event], seed: int = 11) -> list[Event]:
    """The replay scenario with about half its reactions removed a minute later (some
    redelivered with a later time, some re-added with another emoji)."""
    rnd = random.Random(seed)
    out: list[Event] = []
    for ev in events:
        out.append(ev)
        if not isinstance(ev, ReactionAdded) or rnd.random() < 0.5:
            continue
        gone = unreact(ev.user_id, ev.message_id or "", ev.at + minutes(1), emoji=ev.emoji)
        out.append(gone)
        if rnd.random() < 0.3:
            out.append(unreact(ev.user_id, ev.message_id or "", ev.at + minutes(30), emoji=ev.emoji))
        if rnd.random() < 0.3:
            out.append(react(ev.user_id, ev.message_id or "", ev.at + minutes(2), emoji="🎯",
                             target=ev.target_user_id))
    # And one ✅ acceptance taken back, then given again.
    at = max(e.at for e in events) + minutes(5)
    out += [msg("ann", sentence(9001), at, mid="rq"),
            msg("bob", sentence(9002), at + minutes(1), mid="ra", reply_to="rq", reply_user="ann"),
            react("ann", "ra", at + minutes(2), emoji="✅", target="bob"),
            unreact("ann", "ra", at + minutes(3), emoji="✅"),
            react("ann", "ra", at + minutes(4), emoji="✔️", target="bob")]
    return out


async def test_replay_with_revocations_rebuilds_the_same(tmp_path: Path) -> None:
    events = with_removals(scenario())
    first = await run(tmp_path / "a.db", events)
    second = await run(tmp_path / "b.db", events)
    entries, balances, _ = first
    assert {"reaction_revoked", "accepted_revoked"} <= {r[1] for r in entries}
    sums: dict[int, int] = {}
    for member, _, amount, _, _ in entries:
        sums[member] = sums.get(member, 0) + amount
    assert {b[0]: b[1] for b in balances if b[0] in sums} == sums
    assert first == second


async def test_award_without_recorded_emoji_goes_with_the_last_reaction(app: App, tg: FakeMessenger) -> None:
    """Awards stored before revocations existed have no emoji in ``reason``."""
    base = await setup(app, tg)
    await app.dispatch(react("bob", "a1", T0 + minutes(1), target="ann"), tg)

    def forget_emoji(s: object) -> None:
        s.execute(update(PointsEntry).where(PointsEntry.rule == "reaction").values(reason=""))  # type: ignore[attr-defined]

    await app.store.write(forget_emoji)
    await app.dispatch(react("bob", "a1", T0 + minutes(2), emoji="❤️", target="ann"), tg)
    await app.dispatch(unreact("bob", "a1", T0 + minutes(3)), tg)
    assert await points(app, "ann") == base + REACTION  # bob still reacts with ❤️
    await app.dispatch(unreact("bob", "a1", T0 + minutes(4), emoji="❤️"), tg)
    assert await points(app, "ann") == base
