"""/mod, /warn, /audit, /mute, /ban and the member resolver, through router and store."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.events import Platform
from engine.members.lookup import community_id_of, home_community, member_of_account, resolve_member
from engine.store.models import AuditEntry, CommunityMember
from tests.members.fakes import T0, Clock, FakeMessenger, ModeratingMessenger, cmd, msg


async def seed(app: App, m: FakeMessenger) -> None:
    m.roles.update({"boss": Role.ADMIN, "mia": Role.MODERATOR})
    app.notifier.attach(m)  # warnings go out by DM through the Notifier
    for i, user in enumerate(("boss", "mia", "bob", "carol")):
        await app.dispatch(msg(user, f"hello from {user}", minutes=i), m)
    await app.dispatch(msg("helperbot", "beep", name="helperbot", is_bot=True, minutes=5), m)


async def role_of(app: App, user: str) -> int:
    def fn(s: Session) -> int:
        mid = member_of_account(s, "telegram", user)
        return int(s.execute(select(CommunityMember.role).where(CommunityMember.member_id == mid)).scalar_one())

    return await app.store.read(fn)


async def test_mod_add_by_admin_and_the_new_moderator_can_warn(app: App, tg: FakeMessenger,
                                                               clock: Clock) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("boss", "mod", "add", "@Bob"), tg)
    assert "now a Cohort moderator" in tg.last_reply("boss")
    assert await role_of(app, "bob") == Role.MODERATOR
    await app.dispatch(cmd("boss", "mod", "add", "@bob"), tg)
    assert "already a moderator" in tg.last_reply("boss")
    # Cohort's own list now gives bob MODERATOR, although the platform says member.
    await app.dispatch(cmd("bob", "warn", "@carol", "spam links"), tg)
    assert "Warning recorded" in tg.last_reply("bob")
    await app.dispatch(cmd("boss", "mod", "list"), tg)
    assert "Bob" in tg.last_reply("boss")
    await app.dispatch(cmd("boss", "mod", "remove", "bob"), tg)  # by platform user id
    assert await role_of(app, "bob") == Role.MEMBER


async def test_mod_add_by_moderator_is_refused_by_the_router(app: App, tg: FakeMessenger) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("mia", "mod", "add", "@bob"), tg)
    assert "for admins and above" in tg.last_reply("mia")
    assert await role_of(app, "bob") == Role.MEMBER


async def test_mod_refuses_self_bots_and_strangers(app: App, tg: FakeMessenger) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("boss", "mod", "add", "@boss"), tg)
    assert "yourself" in tg.last_reply("boss")
    await app.dispatch(cmd("boss", "mod", "add", "@helperbot"), tg)
    assert "bot" in tg.last_reply("boss")
    await app.dispatch(cmd("boss", "mod", "add", "@nobody"), tg)
    assert "don't know @nobody" in tg.last_reply("boss")
    await app.dispatch(cmd("boss", "mod", "add"), tg)
    assert "Who?" in tg.last_reply("boss")
    audit = await app.store.read(lambda s: s.execute(select(AuditEntry)).scalars().all())
    assert audit == []


async def test_warn_by_reply_writes_audit_and_dms_the_member(app: App, tg: FakeMessenger, clock: Clock) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("mia", "warn", "please", "stay", "on", "topic", reply_to_user="carol"), tg)
    assert "told them privately" in tg.last_reply("mia")
    dms = tg.of("dm", "carol")
    assert len(dms) == 1 and "stay on topic" in dms[0].plain
    entry = await app.store.read(lambda s: s.execute(select(AuditEntry)).scalar_one())
    assert entry.action == "warn" and entry.details["reason"] == "please stay on topic"
    assert entry.actor_id is not None and entry.target_member_id is not None

    tg.unreachable.add("bob")
    await app.dispatch(cmd("mia", "warn", "@bob", "no spam"), tg)
    assert "couldn't message them" in tg.last_reply("mia")
    await app.dispatch(cmd("mia", "warn", "@bob"), tg)
    assert "Add a reason" in tg.last_reply("mia")


async def test_warn_respects_dm_opt_out(app: App, tg: FakeMessenger) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("carol", "optout"), tg)
    await app.dispatch(cmd("mia", "warn", "@carol", "calm down"), tg)
    assert "opted out" in tg.last_reply("mia")
    assert tg.of("dm", "carol") == []


async def test_audit_lists_newest_first(app: App, tg: FakeMessenger, clock: Clock) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("mia", "warn", "@bob", "first"), tg)
    clock.advance(minutes=1)
    await app.dispatch(cmd("boss", "mod", "add", "@carol"), tg)
    clock.advance(minutes=1)
    await app.dispatch(cmd("mia", "warn", "@bob", "third"), tg)
    await app.dispatch(cmd("mia", "audit"), tg)
    lines = tg.last_reply("mia").splitlines()[1:]
    assert len(lines) == 3
    assert "warn → Bob — “third”" in lines[0]
    assert "Boss: moderator_added → Carol" in lines[1]
    assert "“first”" in lines[2]
    await app.dispatch(cmd("mia", "audit", "1"), tg)
    assert len(tg.last_reply("mia").splitlines()) == 2
    await app.dispatch(cmd("bob", "audit"), tg)
    assert "for moderators and above" in tg.last_reply("bob")


async def test_mute_and_ban_need_a_capable_adapter(app: App, tg: FakeMessenger, clock: Clock) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("mia", "mute", "@bob", "10m"), tg)
    assert "can't mute members on" in tg.last_reply("mia")
    await app.dispatch(cmd("mia", "ban", "@bob"), tg)
    assert "can't ban members on" in tg.last_reply("mia")
    assert tg.actions == []

    able = ModeratingMessenger(Platform.TELEGRAM, roles=dict(tg.roles),
                               capabilities=tg.capabilities | {Capability.MODERATE})
    await app.dispatch(cmd("mia", "mute", "@bob", "2h", "flooding"), able)
    assert able.actions[0][:3] == ("mute", "tg-group", "bob")
    assert able.actions[0][3]["reason"] == "flooding" and able.actions[0][3]["until"] is not None
    actions = await app.store.read(lambda s: s.execute(select(AuditEntry.action)).scalars().all())
    assert actions == ["mute"]


async def test_mute_and_ban_from_a_private_chat_act_in_the_home_community(
        app: App, tg: FakeMessenger, clock: Clock) -> None:
    await seed(app, tg)
    able = ModeratingMessenger(Platform.TELEGRAM, roles=dict(tg.roles),
                               capabilities=tg.capabilities | {Capability.MODERATE})
    await app.dispatch(cmd("mia", "ban", "@bob", "spam", private=True), able)
    assert able.actions == [("ban", "tg-group", "bob", {"reason": "spam"})]
    assert "is banned" in able.last_reply("mia")


async def test_a_mute_the_platform_shortens_is_reported_as_it_really_ends(
        app: App, tg: FakeMessenger, clock: Clock) -> None:
    await seed(app, tg)
    able = ModeratingMessenger(Platform.TELEGRAM, roles=dict(tg.roles),
                               capabilities=tg.capabilities | {Capability.MODERATE})
    able.cap = timedelta(days=28)
    await app.dispatch(cmd("mia", "mute", "@bob"), able)
    assert able.actions[0][3]["until"] is None  # asked for "until lifted"
    ends = T0 + timedelta(days=28)
    assert f"muted until {ends:%Y-%m-%d %H:%M} UTC" in able.last_reply("mia")
    details = await app.store.read(lambda s: s.execute(select(AuditEntry.details)).scalars().all())
    assert details == [{"until": ends.isoformat()}]
    await app.dispatch(cmd("mia", "mute", "@carol", "1h"), tg)  # an adapter without the capability
    assert "can't mute members on" in tg.last_reply("mia")


async def test_resolver_and_home_community(app: App, tg: FakeMessenger) -> None:
    await app.dispatch(msg("bob", "in one", community="one", minutes=0), tg)
    await app.dispatch(msg("bob", "in two", community="two", minutes=5), tg)
    await app.dispatch(msg("carol", "only in two", community="two", minutes=6), tg)
    dc = FakeMessenger(Platform.DISCORD)
    await app.dispatch(msg("42", "discord", platform=Platform.DISCORD, community="guild"), dc)

    def check(s: Session) -> None:
        bob = member_of_account(s, "telegram", "bob")
        assert resolve_member(s, "telegram", "one", "@BOB") == bob
        assert resolve_member(s, "telegram", "one", "bob") == bob
        assert resolve_member(s, "telegram", "one", "@carol") is None  # not in that community
        assert resolve_member(s, "telegram", "nowhere", "@bob") is None
        assert resolve_member(s, "telegram", "one", "@") is None
        assert resolve_member(s, "discord", "guild", "<@!42>") == member_of_account(s, "discord", "42")
        assert home_community(s, "telegram", "bob") == community_id_of(s, "telegram", "two")
        assert home_community(s, "telegram", "stranger") is None

    await app.store.read(check)


async def test_audit_in_private_uses_home_community(app: App, tg: FakeMessenger) -> None:
    await seed(app, tg)
    await app.dispatch(cmd("mia", "warn", "@bob", "x"), tg)
    tg.roles["mia"] = Role.MODERATOR  # the fake gives the same role in the DM
    await app.dispatch(cmd("mia", "audit", private=True), tg)
    assert "warn → Bob" in tg.last_reply("mia")
