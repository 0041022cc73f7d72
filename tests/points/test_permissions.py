"""Every moderator command x every role: members are refused by the router, the rest run."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from bot.ports import Role
from tests.points.fakes import T0, FakeMessenger, cmd, minutes, msg, points, sentence

MOD_COMMANDS: list[tuple[str, ...]] = [
    ("points", "give", "@bob", "5", "thanks"),
    ("badge", "grant", "@bob", "streak_7"),
    ("season", "start", "Spring"),
    ("config", "points.daily_cap", "50"),
    ("modlog",),
]
MEMBER_COMMANDS: list[tuple[str, ...]] = [("me",), ("leaderboard",), ("badges",)]


@pytest.mark.parametrize("role", list(Role))
async def test_permission_matrix(app: App, tg: FakeMessenger, role: Role) -> None:
    tg.roles["actor"] = role
    await app.dispatch(msg("actor", sentence(1), T0), tg)
    await app.dispatch(msg("bob", sentence(2), T0), tg)
    before = await points(app, "bob")
    for i, (name, *args) in enumerate(MOD_COMMANDS):
        await app.dispatch(cmd("actor", name, *args, at=T0 + minutes(i + 1)), tg)
        refused = "is for moderators and above" in tg.last
        assert refused == (role < Role.MODERATOR), (name, role, tg.last)
    assert await points(app, "bob") == (before if role < Role.MODERATOR else before + 5)
    for i, (name, *args) in enumerate(MEMBER_COMMANDS):
        await app.dispatch(cmd("actor", name, *args, at=T0 + minutes(10 + i)), tg)
        assert "is for" not in tg.last and "went wrong" not in tg.last
