"""The rank rule: no moderator action on a member who ranks at or above the actor, nor on
a bot — for points and badges as for warnings, mutes and bans — and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.bootstrap import App, build_app
from bot.ports import Capability, PlatformError, Role
from bot.settings import load_settings
from engine.events import Platform
from engine.points.tables import PointsBadge, PointsEntry
from engine.store.models import AuditEntry
from tests.members.fakes import FakeMessenger, ModeratingMessenger, cmd, msg


@pytest.fixture
def owned_app(tmp_path: Path) -> Iterator[App]:
    """An app whose operator named ``boss`` an owner everywhere (``owner_ids``)."""
    settings = load_settings(storage={"url": f"sqlite:///{tmp_path / 'rank.db'}"},
                             recsys={"artifact_dir": str(tmp_path / "models")},
                             owner_ids=["telegram:boss"])
    app = build_app(settings)
    app.store.create_schema()
    app.start()
    try:
        yield app
    finally:
        app.stop()


def moderating() -> ModeratingMessenger:
    m = ModeratingMessenger(Platform.TELEGRAM)
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def seed(app: App, m: FakeMessenger) -> None:
    for i, user in enumerate(("boss", "lin", "mia", "max", "bob")):
        await app.dispatch(msg(user, f"hello, I'm {user}", minutes=i), m)
    await app.dispatch(msg("helperbot", "beep", name="helperbot", is_bot=True, minutes=6), m)


async def written(app: App) -> tuple[int, int, int]:
    """(points ledger rows, badges, audit entries)."""
    def count(s: Session) -> tuple[int, int, int]:
        a, b, c = (int(s.execute(select(func.count()).select_from(t)).scalar_one())
                   for t in (PointsEntry, PointsBadge, AuditEntry))
        return a, b, c
    return await app.store.read(count)


async def test_a_moderator_taking_100_points_from_the_owner_is_refused_and_nothing_is_written(
        owned_app: App) -> None:
    m = moderating()
    m.roles.update({"mia": Role.MODERATOR})
    await seed(owned_app, m)
    before = await written(owned_app)
    await owned_app.dispatch(cmd("mia", "points", "take", "@boss", "100", "revenge"), m)
    reply = m.last_reply("mia")
    assert "Boss is an owner here" in reply and "Nothing was changed" in reply
    assert await written(owned_app) == before


@pytest.mark.parametrize("command", [
    ("points", "take", "@lin", "10", "because"),
    ("points", "give", "@lin", "10", "because"),
    ("badge", "grant", "@lin", "streak_7"),
    ("badge", "revoke", "@lin", "streak_7"),
    ("warn", "@lin", "behave"),
    ("mute", "@lin", "10m", "flood"),
    ("ban", "@lin", "spam"),
])
@pytest.mark.parametrize(("actor", "actor_role", "target_role", "allowed"), [
    ("mia", Role.MODERATOR, Role.ADMIN, False),      # a platform admin outranks a Cohort moderator
    ("mia", Role.MODERATOR, Role.MODERATOR, False),  # equal rank
    ("mia", Role.MODERATOR, Role.OWNER, False),
    ("max", Role.ADMIN, Role.ADMIN, False),
    ("max", Role.ADMIN, Role.MODERATOR, True),
    ("max", Role.ADMIN, Role.MEMBER, True),
])
async def test_rank_matrix(app: App, command: tuple[str, ...], actor: str, actor_role: Role,
                           target_role: Role, allowed: bool) -> None:
    m = moderating()
    m.roles.update({actor: actor_role, "lin": target_role})
    await seed(app, m)
    before = await written(app)
    name, *args = command
    await app.dispatch(cmd(actor, name, *args), m)
    reply = m.last_reply(actor)
    refused = "can't act on members who rank at or above them" in reply
    assert refused == (not allowed), reply
    if not allowed:
        assert await written(app) == before and m.actions == [] and m.of("dm") == []


async def test_cohort_moderator_list_counts_for_the_target_too(app: App) -> None:
    m = moderating()
    m.roles.update({"max": Role.ADMIN})
    await seed(app, m)
    await app.dispatch(cmd("max", "mod", "add", "@mia"), m)  # mia: a moderator on Cohort's list only
    await app.dispatch(cmd("max", "mod", "add", "@lin"), m)
    before = await written(app)
    await app.dispatch(cmd("mia", "warn", "@lin", "x"), m)
    assert "rank at or above" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "mod", "remove", "@lin"), m)  # /mod is for admins anyway
    assert "for admins and above" in m.last_reply("mia")
    assert await written(app) == before
    await app.dispatch(cmd("mia", "warn", "@bob", "x"), m)  # a plain member: allowed
    assert "Warning recorded" in m.last_reply("mia")


async def test_bots_and_oneself_are_refused(app: App) -> None:
    m = moderating()
    m.roles.update({"max": Role.ADMIN})
    await seed(app, m)
    before = await written(app)
    for command in (("points", "give", "@helperbot", "5", "x"), ("warn", "@helperbot", "x"),
                    ("ban", "@helperbot"), ("warn", "@max", "x"), ("points", "take", "@max", "5", "x")):
        await app.dispatch(cmd("max", *command), m)
        reply = m.last_reply("max").lower()
        assert "bot" in reply or "yourself" in reply or "your own" in reply, (command, reply)
    assert await written(app) == before and m.actions == []


async def test_when_the_platform_cannot_say_the_targets_role_nothing_is_done(app: App) -> None:
    class Failing(ModeratingMessenger):
        async def role_of(self, community_id: str, user_id: str) -> Role:
            if user_id == "bob":
                raise PlatformError("discord: role_of: HTTP 503")
            return await super().role_of(community_id, user_id)

    m = Failing(Platform.TELEGRAM, roles={"max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    await seed(app, m)
    before = await written(app)
    await app.dispatch(cmd("max", "ban", "@bob", "spam"), m)
    assert "couldn't check Bob's role" in m.last_reply("max")
    assert await written(app) == before and m.actions == []


async def test_commands_posted_as_a_chat_or_by_a_bot_get_no_moderator_rights(app: App) -> None:
    m = moderating()
    m.roles.update({"": Role.ADMIN, "otherbot": Role.ADMIN})
    await seed(app, m)
    before = await written(app)
    await app.dispatch(cmd("", "ban", "@bob"), m)
    assert "posting as a chat" in m.last_reply("")
    await app.dispatch(replace(cmd("otherbot", "ban", "@bob"), is_bot=True), m)
    assert "Bots can't use it" in m.last_reply("otherbot")
    assert await written(app) == before and m.actions == []
