"""Warnings expire after the community's N days, K active warnings mute for D automatically,
/warns lists them, /unwarn revokes one; settings via /config moderation.KEY VALUE."""

from __future__ import annotations

from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.events import Platform
from engine.store.models import AuditEntry
from tests.members.fakes import T0, Clock, ModeratingMessenger, cmd, msg


def messenger() -> ModeratingMessenger:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"mia": Role.MODERATOR, "max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def seed(app: App, m: ModeratingMessenger) -> None:
    app.notifier.attach(m)  # warnings go out by DM through the Notifier
    for i, user in enumerate(("max", "mia", "bob", "carol")):
        await app.dispatch(msg(user, f"hello from {user}", minutes=i), m)


async def actions(app: App) -> list[str]:
    return await app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))


async def test_three_active_warnings_mute_and_expired_ones_do_not_count(app: App, clock: Clock) -> None:
    m = messenger()
    await seed(app, m)
    await app.dispatch(cmd("max", "config", "moderation.warn_expiry_days", "7"), m)
    assert "moderation.warn_expiry_days is now 7" in m.last_reply("max")
    await app.dispatch(cmd("mia", "warn", "@bob", "one"), m)
    assert "(1 active)" in m.last_reply("mia")
    clock.advance(days=8)  # the first has expired
    await app.dispatch(cmd("mia", "warn", "@bob", "two"), m)
    await app.dispatch(cmd("mia", "warn", "@bob", "three"), m)
    assert "(2 active)" in m.last_reply("mia") and m.actions == []
    await app.dispatch(cmd("mia", "warn", "@bob", "four"), m)
    reply = m.last_reply("mia")
    assert "(3 active)" in reply and "muted until" in reply
    [(kind, _, user, details)] = m.actions
    assert (kind, user) == ("mute", "bob")
    assert (details["until"] - clock.now).total_seconds() == 24 * 3600  # warn_mute_minutes = 1440
    dm = m.of("dm", "bob")[-1].plain
    assert "four" in dm and "Active warnings: 3" in dm and "muted until" in dm
    assert (await actions(app))[-2:] == ["warn", "mute"]

    await app.dispatch(cmd("bob", "warns"), m)  # a member sees their own
    own = m.last_reply("bob")
    assert "Active warnings of Bob: 3" in own and "one" not in own.split(":", 1)[1]
    await app.dispatch(cmd("bob", "warns", "@carol"), m)
    assert "Only moderators" in m.last_reply("bob")


async def test_unwarn_revokes_one_and_says_when_there_is_none(app: App, clock: Clock) -> None:
    m = messenger()
    await seed(app, m)
    await app.dispatch(cmd("mia", "warn", "@carol", "first"), m)
    await app.dispatch(cmd("mia", "warn", "@carol", "second"), m)
    await app.dispatch(cmd("mia", "warns", "@carol"), m)
    listing = m.last_reply("mia")
    first_id = listing.split("#", 1)[1].split(" ", 1)[0]
    await app.dispatch(cmd("mia", "unwarn", "@carol", first_id), m)
    assert f"Warning #{first_id} of Carol revoked" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "unwarn", "@carol", first_id), m)
    assert "no active warning" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "unwarn", "@carol"), m)  # the latest
    await app.dispatch(cmd("mia", "unwarn", "@carol"), m)
    assert "no active warnings" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "unwarn", "@carol", "abc"), m)
    assert "whole number" in m.last_reply("mia")
    await app.dispatch(cmd("carol", "warns"), m)
    assert "no active warnings" in m.last_reply("carol")
    assert (await actions(app)).count("unwarn") == 2


async def test_bad_settings_are_refused_and_not_written(app: App, clock: Clock) -> None:
    m = messenger()
    await seed(app, m)
    before = await actions(app)
    for key, value in (("warn_mute_at", "-1"), ("warn_mute_at", "²"), ("flood_seconds", "0"),
                       ("nonsense", "3"), ("warn_expiry_days", "99999999999")):
        await app.dispatch(cmd("max", "config", f"moderation.{key}", value), m)
        assert "Not changed" in m.last_reply("max"), (key, value)
    assert await actions(app) == before
    await app.dispatch(cmd("max", "config", "moderation.warn_mute_at", "0"), m)  # 0: never mute
    for i in range(4):
        await app.dispatch(cmd("mia", "warn", "@bob", f"w{i}"), m)
    assert m.actions == []
    assert clock.now == T0


async def test_a_chinese_community_is_warned_and_muted_in_chinese(app: App, clock: Clock) -> None:
    m = messenger()
    await seed(app, m)
    await app.dispatch(cmd("max", "config", "language", "zh"), m)
    await app.dispatch(cmd("max", "config", "moderation.warn_mute_at", "2"), m)
    assert m.last_reply("max") == "moderation.warn_mute_at 已设为 2。"
    await app.dispatch(cmd("mia", "warn", "@bob", "one"), m)
    assert m.last_reply("mia") == "已记录对 Bob 的警告（有效 1 次）。我已私信告知对方。"
    assert "有效警告：1 次" in m.of("dm", "bob")[-1].plain and "达到 2 次将被自动禁言" in m.of("dm", "bob")[-1].plain
    await app.dispatch(cmd("mia", "warn", "@bob", "two"), m)
    assert "已有 2 次有效警告：禁言至" in m.last_reply("mia")
    assert "已有 2 次有效警告：禁言至" in m.of("dm", "bob")[-1].plain
    await app.dispatch(cmd("mia", "unmute", "@bob"), m)
    assert m.last_reply("mia") == "Bob 可以再次发言了。"
