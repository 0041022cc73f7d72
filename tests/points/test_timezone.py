"""A community's timezone: days (streaks, daily caps) and weeks begin at local midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import App, build_app
from bot.ports import Role
from bot.settings import load_settings
from engine.events import Event
from engine.points import days as D
from engine.points import rules as R
from engine.points import service
from engine.points.tables import PointsBadge, PointsMember
from engine.store.models import Community
from tests.points.fakes import GROUP, T0, FakeMessenger, cmd, ids, minutes, msg, points, react, sentence
from tests.points.test_replay import scenario, snapshot

SHANGHAI = "Asia/Shanghai"  # UTC+8, no daylight saving time


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


async def _settings(app: App) -> dict[str, Any]:
    return await app.store.read(lambda s: dict(s.execute(
        select(Community.settings).where(Community.external_id == GROUP)).scalar_one() or {}))


async def _state(app: App, user: str) -> R.MemberState:
    cid, mid = await ids(app, user)
    raw = await app.store.read(lambda s: s.execute(select(PointsMember.state).where(
        PointsMember.community_id == cid, PointsMember.member_id == mid)).scalar_one())
    return R.MemberState.from_json(raw)


async def _community(app: App, tg: FakeMessenger, zone: str) -> None:
    """The group exists (its admin spoke at T0) and uses ``zone``."""
    tg.roles["boss"] = Role.ADMIN
    tg.roles["mod"] = Role.MODERATOR
    await app.dispatch(msg("boss", sentence(900), T0), tg)
    if zone != "UTC":
        await app.dispatch(cmd("boss", "config", "timezone", zone, at=T0 + minutes(1)), tg)
        assert tg.last.startswith(f"Timezone set to {zone}"), tg.last
    assert (await _settings(app)).get("timezone", "UTC") == zone


# -- streaks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "streak"), [("UTC", 2), (SHANGHAI, 3)])
async def test_streak_counts_local_days(app: App, tg: FakeMessenger, zone: str, streak: int) -> None:
    await _community(app, tg, zone)
    # 23:30, 00:30 (next day) and 00:30 (the day after) in Shanghai: three local days,
    # but only two UTC days (Mar 3, Mar 3, Mar 4).
    for i, at in enumerate([utc(3, 15, 30), utc(3, 16, 30), utc(4, 16, 30)]):
        await app.dispatch(msg("ann", sentence(i), at), tg)
    state = await _state(app, "ann")
    assert state.streak == streak
    cid, mid = await ids(app, "ann")
    # /me's streak is alive through local yesterday: the next day it is still shown...
    assert await app.store.read(lambda s: service.summary(s, cid, mid, utc(5, 15)).streak) == streak
    if zone == SHANGHAI:
        # ...but Mar 6 16:30 UTC is Mar 7 in Shanghai (last counted: Mar 5): it is over,
        # though the UTC date (Mar 6) would still show it.
        assert await app.store.read(lambda s: service.summary(s, cid, mid, utc(6, 16, 30)).streak) == 0
        assert await app.store.read(lambda s: service.summary(s, cid, mid, utc(6, 16, 30).date()).streak) == 3
    # the 3-day milestone bonus was paid only where three days were counted
    assert await points(app, "ann") == 3 + (5 if streak == 3 else 0)


# -- daily cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "paid"), [
    ("UTC", [1, 1, 0, 1, 1]),
    # Shanghai: 23:50 UTC is 07:50 local, so UTC midnight changes nothing; 16:05 UTC is 00:05.
    (SHANGHAI, [1, 1, 0, 0, 1]),
])
async def test_daily_cap_resets_at_local_midnight(app: App, tg: FakeMessenger, zone: str, paid: list[int]) -> None:
    await _community(app, tg, zone)
    await app.dispatch(cmd("mod", "config", "points.daily_cap", "2", at=T0 + minutes(2)), tg)
    got = []
    times = [utc(3, 23, 50), utc(3, 23, 52), utc(3, 23, 54), utc(4, 0, 5), utc(4, 16, 5)]
    for i, at in enumerate(times):
        before = await points(app, "ann") if i else 0
        await app.dispatch(msg("ann", sentence(i), at), tg)
        got.append(await points(app, "ann") - before)
    assert got == paid


def test_pair_cap_and_daily_cap_follow_the_zone() -> None:
    tz = D.load_zone(SHANGHAI)
    rules = R.PointsRules(pair_daily_cap=1, daily_cap=4)
    st = R.MemberState()
    assert R.pair_allows(rules, st, 7, utc(3, 15, 59), tz)  # 23:59 local
    assert not R.pair_allows(rules, st, 7, utc(3, 15, 59), tz)
    assert R.pair_allows(rules, st, 7, utc(3, 16, 0), tz)  # 00:00 local: a new day
    assert st.day == "2025-03-04"
    assert R.apply_daily_cap(rules, st, 4, utc(3, 16, 1), tz) == 4
    assert R.apply_daily_cap(rules, st, 4, utc(3, 23, 59), tz) == 0  # still Mar 4 locally
    assert R.apply_daily_cap(rules, st, 4, utc(4, 16, 0), tz) == 4


def test_zone_change_applies_from_then_on() -> None:
    """Switching zones neither freezes the day, nor gives free room, nor breaks a streak."""
    rules = R.PointsRules(daily_cap=8)
    st = R.MemberState()
    assert R.apply_daily_cap(rules, st, 4, utc(4, 1), UTC) == 4  # UTC day Mar 4
    ny = D.load_zone("America/New_York")  # 02:00 UTC on Mar 4 is still Mar 3 there
    assert [R.apply_daily_cap(rules, st, 4, utc(4, 2), ny) for _ in range(2)] == [4, 0]
    assert (st.zone, st.day) == ("America/New_York", "2025-03-03")
    assert R.apply_daily_cap(rules, st, 4, utc(4, 6), ny) == 4  # Mar 4 in New York

    st = R.MemberState()
    for i, at in enumerate([utc(2, 20), utc(3, 20)]):  # two UTC days
        assert R.message_award(rules, st, at, 40, f"fp{i}", UTC)
        R.advance_streak(st, at, UTC)
    assert st.streak == 2
    tz = D.load_zone(SHANGHAI)
    # Mar 3 20:00 UTC was Mar 4 in Shanghai; Mar 4 17:00 UTC is Mar 5 there: consecutive.
    assert R.message_award(rules, st, utc(4, 17), 40, "fp2", tz)
    assert R.advance_streak(st, utc(4, 17), tz)
    assert (st.streak, st.streak_day, st.zone) == (3, "2025-03-05", SHANGHAI)


# -- weeks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "instances", "label"), [
    ("UTC", {"2025-W10"}, "2025-W11"),
    (SHANGHAI, {"2025-W11"}, "2025-W12"),
])
async def test_weekly_top_helper_uses_local_weeks(app: App, tg: FakeMessenger, zone: str,
                                                  instances: set[str], label: str) -> None:
    await _community(app, tg, zone)
    await app.dispatch(msg("bob", sentence(1), T0 + minutes(5), mid="q"), tg)
    # Sunday 17:00 UTC is Monday 01:00 in Shanghai: a different week.
    await app.dispatch(react("ann", "q", utc(9, 17), target="bob"), tg)
    await app.dispatch(msg("cat", sentence(2), utc(10, 16, 30)), tg)  # Tue 00:30 local
    await app.dispatch(msg("cat", sentence(3), utc(16, 16, 30)), tg)  # Mon 00:30 local
    cid, bob = await ids(app, "bob")
    got = await app.store.read(lambda s: set(s.execute(select(PointsBadge.instance).where(
        PointsBadge.member_id == bob, PointsBadge.badge == "weekly_top_helper")).scalars()))
    assert got == instances
    week, _ = await app.store.read(lambda s: service.leaderboard(s, cid, "week", utc(16, 16, 30)))
    assert week == label


def test_local_week_and_month_bounds() -> None:
    tz = D.load_zone(SHANGHAI)
    at = utc(16, 16, 30)  # Monday Mar 17, 00:30 in Shanghai
    assert D.week_start(at, tz) == utc(16, 16)
    assert D.previous_week(at, tz) == (utc(9, 16), utc(16, 16), "2025-W11")
    assert D.month_start(utc(31, 17), tz) == datetime(2025, 3, 31, 16, tzinfo=UTC)  # Apr 1 local
    assert D.month_key(utc(31, 17), tz) == "2025-04"
    berlin = D.load_zone("Europe/Berlin")  # DST begins Sunday Mar 30: that week is 167 hours
    start, end, _ = D.previous_week(datetime(2025, 4, 1, tzinfo=UTC), berlin)
    assert (start, end - start) == (utc(23, 23), timedelta(hours=167))


# -- /config timezone --------------------------------------------------------------------


async def test_config_timezone_validates(app: App, tg: FakeMessenger) -> None:
    await _community(app, tg, "UTC")
    await app.dispatch(cmd("boss", "config", at=T0 + minutes(2)), tg)
    assert "timezone = UTC" in tg.last and "/config timezone Asia/Shanghai" in tg.last
    for i, bad in enumerate(["Nowhere/Land", "UTC+8", "Asia"]):
        await app.dispatch(cmd("boss", "config", "timezone", bad, at=T0 + minutes(3 + i)), tg)
        assert tg.last.startswith("Timezone not changed:") and "Asia/Shanghai" in tg.last, tg.last
        assert bad in tg.last and "UTC+8 are not accepted" in tg.last
    await app.dispatch(cmd("boss", "config", "timezone", at=T0 + minutes(7)), tg)
    assert tg.last.startswith("Usage: /config timezone ZONE")
    assert "timezone" not in await _settings(app)
    # names are matched case-insensitively and stored in their canonical spelling
    await app.dispatch(cmd("boss", "config", "timezone", "asia/shanghai", at=T0 + minutes(8)), tg)
    assert (await _settings(app))["timezone"] == SHANGHAI
    await app.dispatch(cmd("boss", "config", at=T0 + minutes(9)), tg)
    assert f"✎ timezone = {SHANGHAI} (default UTC)" in tg.last
    await app.dispatch(cmd("boss", "pointslog", at=T0 + minutes(10)), tg)
    assert "config.timezone" in tg.last and "value=Asia/Shanghai" in tg.last
    await app.dispatch(cmd("boss", "config", "timezone", "utc", at=T0 + minutes(11)), tg)
    assert (await _settings(app))["timezone"] == "UTC"


@pytest.mark.parametrize(("role", "refusal"), [
    (Role.MEMBER, "/config is for moderators and above."),
    (Role.MODERATOR, "/config timezone is for admins and above."),
])
async def test_config_timezone_needs_an_admin(app: App, tg: FakeMessenger, role: Role, refusal: str) -> None:
    await _community(app, tg, "UTC")
    tg.roles["someone"] = role
    await app.dispatch(msg("someone", sentence(1), T0 + minutes(2)), tg)
    await app.dispatch(cmd("someone", "config", "timezone", SHANGHAI, at=T0 + minutes(3)), tg)
    assert tg.last == refusal
    assert "timezone" not in await _settings(app)


# -- replay ------------------------------------------------------------------------------


def zoned_scenario() -> list[Event]:
    """The replay scenario in a Shanghai community that moves to New York halfway."""
    events = scenario()
    events.insert(1, cmd("boss", "config", "timezone", SHANGHAI, at=events[0].at))
    half = len(events) // 2
    events.insert(half, cmd("boss", "config", "timezone", "America/New_York", at=events[half].at))
    return events


async def _run(path: Path, events: list[Event]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    app = build_app(load_settings(storage={"url": f"sqlite:///{path}"}))
    app.store.create_schema()
    app.start()
    try:
        tg = FakeMessenger(roles={"mod": Role.MODERATOR, "boss": Role.ADMIN})
        for ev in events:
            await app.dispatch(ev, tg)
        assert not any("Timezone not changed" in r or "is for" in r for r in tg.replies)
        return await snapshot(app)
    finally:
        app.stop()


async def test_replay_with_a_timezone_rebuilds_the_same_ledger(tmp_path: Path) -> None:
    events = zoned_scenario()
    first = await _run(tmp_path / "a.db", events)
    second = await _run(tmp_path / "b.db", events)
    assert first == second
    ledger, balances, _ = first
    assert len(ledger) > 100
    zones = {b[4].get("zone") for b in balances}
    assert "America/New_York" in zones
    # the zone made a difference: the same events in UTC pay different streaks/caps
    in_utc = await _run(tmp_path / "c.db", scenario())
    assert in_utc[0] != ledger
