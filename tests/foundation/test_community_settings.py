"""/config: language for the whole community, points.* handed to the points module."""

from __future__ import annotations

from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Role
from engine.store.models import AuditEntry, Community
from tests.doubles.events import command, message
from tests.doubles.messenger import RecordingMessenger


async def test_config_language_points_and_errors(app: App) -> None:
    m = RecordingMessenger(roles={"mod": Role.MODERATOR})
    await app.dispatch(message("mod", "hello everyone in this course"), m)
    await app.dispatch(command("mod", "config", "language", "zh"), m)
    await app.dispatch(command("mod", "me"), m)
    assert "积分" in m.replies_to("mod")[-1]
    await app.dispatch(command("mod", "config", "points.message_points", "2"), m)
    await app.dispatch(command("mod", "config", "language", "fr"), m)
    await app.dispatch(command("mod", "config", "colour", "blue"), m)
    await app.dispatch(command("mod", "config"), m)
    replies = m.replies_to("mod")
    # The community speaks Chinese now: every reply follows, refusals included.
    assert replies[-3] == "用法：/config language en|zh"
    assert replies[-2].startswith("可修改的设置")
    assert '"message_points": 2' in replies[-1] and '"language": "zh"' in replies[-1]

    settings = app.store.read_sync(lambda s: s.execute(select(Community.settings)).scalar_one())
    assert settings == {"language": "zh", "points": {"message_points": 2}}
    actions = app.store.read_sync(lambda s: s.execute(select(AuditEntry.action)).scalars().all())
    assert "config.language" in actions and "config.points" in actions


async def test_members_cannot_change_settings(app: App) -> None:
    m = RecordingMessenger()
    await app.dispatch(command("member", "config", "language", "zh"), m)
    assert m.replies_to("member") == ["/config is for moderators and above."]


async def test_announcements_follow_a_language_change_at_once(app: App) -> None:
    m = RecordingMessenger(roles={"mod": Role.MODERATOR})
    await app.dispatch(message("mod", "hello everyone in this course", minutes=0), m)
    await app.dispatch(command("mod", "config", "language", "zh", minutes=1), m)
    await app.dispatch(message("newbie", "hi, I am new to this course", minutes=2), m)
    sent = [s.plain for s in m.said if s.kind == "send"]
    assert any("Mod" in s and "First words" in s for s in sent)  # before: English
    assert any("Newbie" in s and "获得了徽章" in s for s in sent)  # after: Chinese
