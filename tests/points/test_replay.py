"""Replaying the same events into a fresh database rebuilds the same ledger and badges."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.bootstrap import App, build_app
from bot.ports import Role
from bot.settings import load_settings
from engine.events import Event
from engine.points.tables import PointsBadge, PointsEntry, PointsMember
from tests.points.fakes import T0, FakeMessenger, cmd, msg, react, sentence


def scenario(seed: int = 7) -> list[Event]:
    """Two weeks of a small community: questions, answers, reactions, acceptances,
    manual changes, a season and a config change."""
    rnd = random.Random(seed)
    users = ["ann", "bob", "cat", "dan", "eve", "mod"]
    events: list[Event] = []
    posted: list[tuple[str, str]] = []
    at = T0
    for i in range(400):
        at += timedelta(minutes=rnd.randint(1, 90))
        who = rnd.choice(users)
        kind = rnd.random()
        if kind < 0.45 or not posted:
            mid = f"m{i}"
            text = sentence(i) if rnd.random() > 0.1 else "copy paste spam message again and again"
            events.append(msg(who, text, at, mid=mid))
            posted.append((mid, who))
        elif kind < 0.7:
            target, author = rnd.choice(posted)
            mid = f"m{i}"
            events.append(msg(who, sentence(i), at, mid=mid, reply_to=target, reply_user=author))
            posted.append((mid, who))
        elif kind < 0.95:
            target, author = rnd.choice(posted)
            events.append(react(who, target, at, emoji=rnd.choice(["👍", "❤️", "✅", "🔥"]), target=author))
        else:
            target, author = rnd.choice(posted)
            events.append(cmd(who, "solved", at=at, reply_to=target, reply_user=author))
        if i == 100:
            events.append(cmd("mod", "points", "give", "@bob", "30", "wrote the FAQ", at=at))
            events.append(cmd("mod", "season", "start", "S1", at=at))
        if i == 200:
            events.append(cmd("mod", "config", "points.reply_points", "5", at=at))
            events.append(cmd("mod", "badge", "grant", "@cat", "streak_30", at=at))
    return events


async def snapshot(app: App) -> tuple[list[tuple], list[tuple], list[tuple]]:
    def read(s: object) -> tuple[list[tuple], list[tuple], list[tuple]]:
        ledger = [tuple(r) for r in s.execute(select(  # type: ignore[attr-defined]
            PointsEntry.member_id, PointsEntry.rule, PointsEntry.amount, PointsEntry.source_key, PointsEntry.at)
            .order_by(PointsEntry.id))]
        balances = [tuple(r) for r in s.execute(select(  # type: ignore[attr-defined]
            PointsMember.member_id, PointsMember.total, PointsMember.level, PointsMember.reached_at,
            PointsMember.state).order_by(PointsMember.member_id))]
        badges = [tuple(r) for r in s.execute(select(  # type: ignore[attr-defined]
            PointsBadge.member_id, PointsBadge.badge, PointsBadge.instance, PointsBadge.at)
            .order_by(PointsBadge.member_id, PointsBadge.badge, PointsBadge.instance))]
        return ledger, balances, badges

    return await app.store.read(read)


async def run(path: Path, events: list[Event]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    app = build_app(load_settings(storage={"url": f"sqlite:///{path}"}))
    app.store.create_schema()
    app.start()
    try:
        tg = FakeMessenger(roles={"mod": Role.MODERATOR})
        for ev in events:
            await app.dispatch(ev, tg)
        return await snapshot(app)
    finally:
        app.stop()


async def test_replay_rebuilds_same_balances_and_badges(tmp_path: Path) -> None:
    events = scenario()
    first = await run(tmp_path / "a.db", events)
    second = await run(tmp_path / "b.db", events)
    ledger, balances, badges = first
    assert len(ledger) > 100 and len(balances) >= 6 and len(badges) >= 6
    assert {r[1] for r in ledger} >= {"message", "reply", "reaction", "accepted", "manual"}
    assert first == second
