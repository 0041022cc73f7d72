"""Farming attempts earn (almost) nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.bootstrap import App
from engine.points.rules import PointsRules
from tests.points.fakes import T0, FakeMessenger, msg, points, react, sentence

RULES = PointsRules()


async def test_message_flood_earns_at_most_the_cap(app: App, tg: FakeMessenger) -> None:
    # 1,000 distinct long messages in 10 minutes: one pays per cooldown.
    # Dispatched concurrently, as a busy chat would: the writer group-commits them in order.
    await asyncio.gather(*(app.dispatch(msg("spam", sentence(i), T0 + timedelta(seconds=i * 0.6)), tg)
                           for i in range(1000)))
    earned = await points(app, "spam")
    assert earned <= 600 // RULES.message_cooldown_seconds + 1
    assert earned <= RULES.daily_cap


async def test_flood_over_a_day_hits_the_daily_cap(app: App, tg: FakeMessenger) -> None:
    rules_cap = RULES.daily_cap
    await asyncio.gather(*(app.dispatch(msg("spam", sentence(i), T0 + timedelta(seconds=i * 61)), tg)
                           for i in range(400)))  # one message every cooldown for ~6.7 hours
    # 1-point messages round up past the soft cap, so the hard cap is what stops them
    assert await points(app, "spam") == rules_cap


async def test_copy_paste_earns_once(app: App, tg: FakeMessenger) -> None:
    text = "Here is my detailed answer about recursion and base cases."
    for i in range(20):
        variant = text.upper() if i % 2 else text.replace(" ", "  ") + "!!"
        await app.dispatch(msg("cp", variant, T0 + timedelta(minutes=2 * i)), tg)
    assert await points(app, "cp") == 1


async def test_fifty_reactions_from_one_member_count_once(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(1), T0, mid="a1"), tg)
    await app.dispatch(msg("bob", sentence(2), T0), tg)
    emojis = [chr(0x1F600 + i) for i in range(50)]
    for i, e in enumerate(emojis):
        await app.dispatch(react("bob", "a1", T0 + timedelta(seconds=i), emoji=e), tg)
    assert await points(app, "ann") == 1 + RULES.reaction_points


async def test_reaction_loop_between_two_members_is_capped(app: App, tg: FakeMessenger) -> None:
    # ann and bob each post 30 messages and react to every one of the other's.
    for i in range(30):
        at = T0 + timedelta(minutes=2 * i)
        await app.dispatch(msg("ann", sentence(i), at, mid=f"a{i}"), tg)
        await app.dispatch(msg("bob", sentence(100 + i), at, mid=f"b{i}"), tg)
        await app.dispatch(react("bob", f"a{i}", at + timedelta(seconds=30)), tg)
        await app.dispatch(react("ann", f"b{i}", at + timedelta(seconds=30)), tg)
    for who in ("ann", "bob"):
        assert await points(app, who) <= 30 + RULES.pair_daily_cap * RULES.reaction_points


async def test_reply_ping_pong_is_capped(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("ann", sentence(0), T0, mid="x0"), tg)
    prev = "x0"
    for i in range(1, 40):
        who, other = ("bob", "ann") if i % 2 else ("ann", "bob")
        mid = f"x{i}"
        await app.dispatch(msg(who, sentence(i), T0 + timedelta(minutes=i), mid=mid, reply_to=prev,
                               reply_user=other), tg)
        prev = mid
    for who in ("ann", "bob"):
        assert await points(app, who) <= 20 + RULES.pair_daily_cap * RULES.reply_points
