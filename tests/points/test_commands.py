"""Commands through the router with a fake messenger: happy paths, bad input, i18n."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.store.models import AuditEntry, Community
from tests.points.fakes import T0, FakeMessenger, badges, cmd, minutes, msg, points, react, sentence


async def _audit_count(app: App) -> int:
    return await app.store.read(lambda s: s.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


@pytest.fixture
async def world(app: App, tg: FakeMessenger) -> FakeMessenger:
    """ann, bob, a moderator and a bot have all spoken in the group."""
    tg.roles["mod"] = Role.MODERATOR
    await app.dispatch(msg("ann", sentence(1), T0, mid="q"), tg)
    await app.dispatch(msg("bob", sentence(2), T0, mid="a", reply_to="q", reply_user="ann"), tg)
    await app.dispatch(msg("mod", sentence(3), T0), tg)
    await app.dispatch(msg("robot", sentence(4), T0, is_bot=True), tg)
    tg.replies.clear()
    tg.sent.clear()
    return tg


async def test_give_take_and_modlog(app: App, world: FakeMessenger) -> None:
    tg = world
    before = await points(app, "bob")
    await app.dispatch(cmd("mod", "points", "give", "@bob", "25", "great", "summary", at=T0 + minutes(1)), tg)
    assert tg.last == f"Gave 25 points to Bob (now {before + 25})."
    await app.dispatch(cmd("mod", "points", "take", "@bob", "5", "typo", at=T0 + minutes(2)), tg)
    assert await points(app, "bob") == before + 20
    # reply-to form: the target is the author of the replied-to message
    await app.dispatch(cmd("mod", "points", "give", "3", "nice", at=T0 + minutes(3), reply_to="a",
                           reply_user="bob"), tg)
    assert await points(app, "bob") == before + 23
    await app.dispatch(cmd("mod", "pointslog", at=T0 + minutes(4)), tg)
    assert "points.give" in tg.last and "points.take" in tg.last and "reason=typo" in tg.last


@pytest.mark.parametrize(("args", "expect"), [
    (("give", "@bob", "99999999999999", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "10001", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "-5", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "0", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "abc", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "1e3", "x"), "whole number from 1 to 10000"),
    (("give", "@bob", "５", "x"), "whole number from 1 to 10000"),  # full-width digit
    (("give", "@bob", "5"), "give a reason"),
    (("give", "@ghost", "5", "x"), "I don't know @ghost"),
    (("give", "@robot", "5", "x"), "Bots don't take part"),
    (("give", "@mod", "5", "x"), "can't change your own"),
    (("give",), "Tell me who"),
    (("give", "5", "x"), "I don't know 5"),
    (("gift", "@bob", "5", "x"), "Usage: /points"),
    (("take", "@bob", "500", "x"), "has only"),
])
async def test_points_bad_input_changes_nothing(app: App, world: FakeMessenger, args: tuple[str, ...],
                                               expect: str) -> None:
    before, audits = await points(app, "bob"), await _audit_count(app)
    await app.dispatch(cmd("mod", "points", *args, at=T0 + minutes(1)), world)
    assert expect in world.last
    assert await points(app, "bob") == before
    assert await _audit_count(app) == audits


async def test_bad_badge_season_config_input(app: App, world: FakeMessenger) -> None:
    tg = world
    audits = await _audit_count(app)
    cases = [
        (("badge", "grant", "@bob", "wizard"), "Unknown badge"),
        (("badge", "revoke", "@bob", "streak_30"), "doesn't have"),
        (("badge", "grant", "@mod", "streak_7"), "can't change your own"),
        (("badge",), "Usage: /badge"),
        (("season", "end"), "No season is running"),
        (("season", "start"), "Give the season a name"),
        (("season", "pause"), "Usage: /season"),
        (("config", "points.daily_cap", "abc"), "whole number"),
        (("config", "points.daily_cap", "-3"), "from 0 to 100000"),
        (("config", "points.nope", "1"), "valid keys"),
        (("config", "other.key", "1"), "Settings you can change"),  # the general /config answers
        (("config",), "Community settings"),
        (("leaderboard", "yesterday"), "week, month, season or all"),
        (("leaderboard", "season"), "no season yet"),
    ]
    for i, (args, expect) in enumerate(cases):
        await app.dispatch(cmd("mod", args[0], *args[1:], at=T0 + minutes(i + 1)), tg)
        assert expect in tg.last, (args, tg.last)
    assert await _audit_count(app) == audits
    assert "wizard" not in await badges(app, "bob")


async def test_badge_grant_revoke(app: App, world: FakeMessenger) -> None:
    tg = world
    await app.dispatch(cmd("mod", "badge", "grant", "@bob", "streak_30", at=T0 + minutes(1)), tg)
    assert "Granted" in tg.last and "streak_30" in await badges(app, "bob")
    await app.dispatch(cmd("mod", "badge", "grant", "@bob", "streak_30", at=T0 + minutes(2)), tg)
    assert "already has" in tg.last
    await app.dispatch(cmd("mod", "badge", "revoke", "@bob", "streak_30", at=T0 + minutes(3)), tg)
    assert "streak_30" not in await badges(app, "bob")
    await app.dispatch(cmd("mod", "badge", "grant", "@bob", "streak_30", at=T0 + minutes(4)), tg)
    assert "streak_30" in await badges(app, "bob")


async def test_leaderboards_and_seasons(app: App, world: FakeMessenger) -> None:
    tg = world
    # ann 1 + 3 (reply from bob) = 4; bob 1; mod 1 — bob reached 1 before mod? both at T0: member id
    await app.dispatch(cmd("ann", "leaderboard", at=T0 + minutes(1)), tg)
    lines = tg.last.splitlines()
    assert lines[1] == "1. Ann — 4" and lines[2] == "2. Bob — 1" and lines[3] == "3. Mod — 1"
    await app.dispatch(cmd("mod", "season", "start", "Spring", "2025", at=T0 + minutes(2)), tg)
    assert "Season Spring 2025 has started" in tg.last
    await app.dispatch(cmd("mod", "season", "start", "Again", at=T0 + minutes(3)), tg)
    assert "still running" in tg.last
    await app.dispatch(msg("mod", sentence(9), T0 + minutes(4)), tg)
    await app.dispatch(cmd("ann", "leaderboard", "season", at=T0 + minutes(5)), tg)
    assert tg.last.splitlines()[1:] == ["1. Mod — 1"]
    await app.dispatch(cmd("mod", "season", "end", at=T0 + minutes(6)), tg)
    assert "has ended" in tg.last
    await app.dispatch(msg("bob", sentence(10), T0 + minutes(7)), tg)  # after the season
    await app.dispatch(cmd("ann", "leaderboard", "season", at=T0 + minutes(8)), tg)
    assert tg.last.splitlines()[1:] == ["1. Mod — 1"]
    for period in ("week", "month", "all"):
        await app.dispatch(cmd("ann", "leaderboard", period, at=T0 + minutes(9)), tg)
        assert tg.last.splitlines()[1].startswith("1. Ann")


async def test_tie_break_earlier_reach_then_member_id(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("zed", sentence(1), T0), tg)  # zed registers first (lower id) ...
    await app.dispatch(msg("amy", sentence(2), T0 - minutes(5)), tg)  # ... but amy reached 1 earlier
    await app.dispatch(msg("kim", sentence(3), T0), tg)  # same time as zed, higher id
    await app.dispatch(cmd("amy", "leaderboard", "all", at=T0 + minutes(1)), tg)
    assert tg.last.splitlines()[1:] == ["1. Amy — 1", "2. Zed — 1", "3. Kim — 1"]
    await app.dispatch(cmd("amy", "leaderboard", "week", at=T0 + minutes(1)), tg)
    assert tg.last.splitlines()[1:] == ["1. Amy — 1", "2. Zed — 1", "3. Kim — 1"]


async def test_me_badges_private_and_chinese(app: App, world: FakeMessenger) -> None:
    tg = world
    await app.dispatch(cmd("ann", "me", at=T0 + minutes(1)), tg)
    me = tg.last
    assert me.startswith("Ann — 4 points") and "Level 0 ▱" in me and "Rank: #1" in me
    assert "Streak: 1 day (best 1)" in me and "First words" in me
    await app.dispatch(cmd("ann", "me", at=T0 + minutes(2), private=True), tg)
    assert tg.last == me  # a private chat resolves her most recently active community
    await app.dispatch(cmd("nobody", "me", at=T0 + minutes(2), private=True), tg)
    assert "which community" in tg.last
    await app.dispatch(cmd("ann", "badges", at=T0 + minutes(3)), tg)
    assert "✓ First words" in tg.last and "· Course finisher" in tg.last

    def chinese(s: object) -> None:
        s.execute(update(Community).where(Community.external_id == "g1").values(  # type: ignore[attr-defined]
            settings={"language": "zh"}))

    await app.store.write(chinese)
    await app.dispatch(cmd("ann", "me", at=T0 + minutes(4)), tg)
    assert "积分" in tg.last and "等级" in tg.last
    await app.dispatch(cmd("mod", "points", "give", "@bob", "abc", "x", at=T0 + minutes(5)), tg)
    assert "整数" in tg.last


async def test_config_changes_rules_and_level_roles(app: App, world: FakeMessenger) -> None:
    tg = world
    tg.capabilities = frozenset({Capability.REPLY, Capability.SEND, Capability.ROLES})
    await app.dispatch(cmd("mod", "config", "points.message_min_length", "500", at=T0 + minutes(1)), tg)
    assert "points.message_min_length is now 500" in tg.last
    before = await points(app, "ann")
    await app.dispatch(msg("ann", sentence(20), T0 + minutes(5)), tg)
    assert await points(app, "ann") == before  # too short under the new rule
    await app.dispatch(cmd("mod", "config", "points.level_roles", "1=Newbie,", "5=Regular", at=T0 + minutes(6)), tg)
    await app.dispatch(cmd("mod", "points", "give", "@ann", "60", "welcome", at=T0 + minutes(7)), tg)
    assert ("g1", "ann", "Newbie", True) in tg.role_changes
    assert ("g1", "ann", "Regular", False) in tg.role_changes
    await app.dispatch(cmd("mod", "config", "points.announce", "off", at=T0 + minutes(8)), tg)
    tg.sent.clear()
    await app.dispatch(cmd("mod", "points", "give", "@bob", "200", "big help", at=T0 + minutes(9)), tg)
    assert tg.sent == []  # level-up not announced
    await app.dispatch(cmd("mod", "pointslog", at=T0 + minutes(10)), tg)
    assert "config.points" in tg.last


async def test_reactions_by_bots_earn_nothing(app: App, world: FakeMessenger) -> None:
    before = await points(app, "ann")
    await app.dispatch(react("robot", "q", T0 + minutes(1), is_bot=True), world)
    assert await points(app, "ann") == before
