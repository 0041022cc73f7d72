"""/mute and /ban on Discord: the real handler, discord.py's Member.timeout / Guild.ban, and
dpytest's fake HTTP client, which this file extends with the two moderation routes.

dpytest 0.7 answers PATCH guild member without ``communication_disabled_until``, finds the
member for PUT ban from its caller's stack frame, and fails GET guild member for someone
who is not there with an AttributeError instead of a 404. The ``routes`` fixture replaces
those three FakeHttp methods with versions that answer as Discord does, record each call
and can be told to refuse; everything above them is discord.py's own code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend
from discord.ext.test import factories as facts
from sqlalchemy import select

from bot.adapters.discord import DiscordAdapter
from bot.bootstrap import App
from bot.ports import Capability, PlatformError
from engine.events import utcnow
from engine.store.models import AuditEntry

TEN_MINUTES = timedelta(minutes=10)
DISCORD_MAX = timedelta(days=28)


class Env(Protocol):
    """What these tests use of the ``env`` fixture (``tests/discord/conftest.py``'s Env),
    declared here so that type-checking this file does not type-check the conftest."""

    app: App
    adapter: DiscordAdapter
    guild: discord.Guild
    alice: discord.Member
    bob: discord.Member
    mod: discord.Member

    @property
    def client(self) -> discord.Client: ...

    async def settle(self) -> None: ...


class FakeResponse:
    """The two attributes discord.HTTPException reads from an aiohttp response."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


def response(status: int, reason: str) -> Any:
    return cast(Any, FakeResponse(status, reason))


def forbidden() -> discord.Forbidden:
    return discord.Forbidden(response(403, "Forbidden"), {"code": 50013, "message": "Missing Permissions"})


def not_found(code: int, message: str) -> discord.NotFound:
    return discord.NotFound(response(404, "Not Found"), {"code": code, "message": message})


@dataclass
class Call:
    """One request that reached the fake HTTP layer."""

    method: str
    path: str
    body: dict[str, Any]
    reason: str | None


@dataclass
class Routes:
    """The moderation routes' log; set ``refuse`` to make the next calls fail with it."""

    calls: list[Call] = field(default_factory=list)
    refuse: Exception | None = None

    def take(self, call: Call) -> None:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse


def member_payload(member: discord.Member, **changes: Any) -> dict[str, Any]:
    """A guild member object as Discord returns it (dpytest's lacks the timeout)."""
    data: dict[str, Any] = dict(facts.dict_from_member(member))
    data["joined_at"] = (member.joined_at or utcnow()).isoformat()
    data["flags"] = member.flags.value
    data["communication_disabled_until"] = (
        member.timed_out_until.isoformat() if member.timed_out_until else None
    )
    data.update(changes)
    return data


@pytest.fixture
def routes(env: Env, monkeypatch: pytest.MonkeyPatch) -> Routes:
    log = Routes()

    async def edit_member(http: backend.FakeHttp, guild_id: int, user_id: int, *,
                          reason: str | None = None, **fields: Any) -> dict[str, Any]:
        log.take(Call("PATCH", f"/guilds/{guild_id}/members/{user_id}", dict(fields), reason))
        guild = env.client.get_guild(int(guild_id))
        member = guild.get_member(int(user_id)) if guild else None
        if member is None:
            raise not_found(10007, "Unknown Member")
        data = member_payload(member, **fields)
        env.client._connection.parse_guild_member_update(cast(Any, data))  # the gateway echoes the change
        return data

    async def ban(http: backend.FakeHttp, user_id: int, guild_id: int, delete_message_seconds: int = 86400,
                  reason: str | None = None) -> None:
        log.take(Call("PUT", f"/guilds/{guild_id}/bans/{user_id}",
                      {"delete_message_seconds": delete_message_seconds}, reason))
        guild = env.client.get_guild(int(guild_id))
        member = guild.get_member(int(user_id)) if guild else None
        if member is not None:
            backend.delete_member(member)  # GUILD_MEMBER_REMOVE follows a ban

    async def get_member(http: backend.FakeHttp, guild_id: int, member_id: int) -> dict[str, Any]:
        guild = env.client.get_guild(int(guild_id))
        member = guild.get_member(int(member_id)) if guild else None
        if member is None:
            raise not_found(10007, "Unknown Member")
        return member_payload(member)

    monkeypatch.setattr(backend.FakeHttp, "edit_member", edit_member)
    monkeypatch.setattr(backend.FakeHttp, "ban", ban)
    monkeypatch.setattr(backend.FakeHttp, "get_member", get_member)
    return log


def drain() -> list[str]:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message().content or "")
    return out


async def say(env: Env, member: discord.Member, text: str) -> list[str]:
    await dpytest.message(text, member=member)
    await env.settle()
    return drain()


def one_with(sent: list[str], needle: str) -> str:
    found = [m for m in sent if needle in m]
    assert found, f"nothing sent contains {needle!r}: {sent}"
    return found[0]


async def audit_actions(env: Env) -> list[str]:
    return await env.app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))


async def known(env: Env, *members: discord.Member) -> None:
    """Members Cohort has seen talk (a command can only name members it knows)."""
    for member in members:
        await say(env, member, f"hello from {member.name}")


def timeout_end(call: Call) -> datetime:
    return datetime.fromisoformat(call.body["communication_disabled_until"])


def test_discord_declares_moderation(env: Env) -> None:
    assert Capability.MODERATE in env.adapter.messenger.capabilities


async def test_moderator_mutes_for_ten_minutes(env: Env, routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    before = utcnow()
    reply = one_with(await say(env, env.mod, f"!mute <@{env.bob.id}> 10m spamming links"), "is muted until")
    after = utcnow()
    assert "bob" in reply.lower()

    (call,) = routes.calls
    assert call.method == "PATCH" and call.path == f"/guilds/{env.guild.id}/members/{env.bob.id}"
    assert call.reason == "spamming links"
    assert before + TEN_MINUTES - timedelta(seconds=1) <= timeout_end(call) <= after + TEN_MINUTES
    assert f"{timeout_end(call):%Y-%m-%d %H:%M} UTC" in reply
    bob = env.guild.get_member(env.bob.id)
    assert bob is not None and bob.is_timed_out()

    log = one_with(await say(env, env.mod, "!audit"), "Audit log")
    assert "mute" in log and "bob" in log and "spamming links" in log
    assert await audit_actions(env) == ["mute"]


async def test_mute_without_duration_or_beyond_28_days_is_capped(env: Env, routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    replies = [one_with(await say(env, env.mod, f"!mute <@{env.bob.id}>"), "is muted until"),
               one_with(await say(env, env.mod, f"!mute <@{env.bob.id}> 60d raid"), "is muted until")]
    now = utcnow()
    indefinite, sixty_days = routes.calls
    for call in (indefinite, sixty_days):
        assert now + DISCORD_MAX - timedelta(minutes=2) <= timeout_end(call) <= now + DISCORD_MAX
    assert indefinite.reason is None and sixty_days.reason == "raid"
    # the reply and the audit log tell the capped end, not "until a moderator lifts it"
    for reply, call in zip(replies, routes.calls, strict=True):
        assert f"{timeout_end(call):%Y-%m-%d %H:%M} UTC" in reply
    audited = await env.app.store.read(
        lambda s: list(s.scalars(select(AuditEntry.details).order_by(AuditEntry.id))))
    assert [datetime.fromisoformat(d["until"]) for d in audited] == [timeout_end(c) for c in routes.calls]


async def test_moderator_bans_by_mention(env: Env, routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    reply = one_with(await say(env, env.mod, f"!ban <@{env.bob.id}> trolling"), "is banned")
    assert "bob" in reply.lower()
    (call,) = routes.calls
    assert call.method == "PUT" and call.path == f"/guilds/{env.guild.id}/bans/{env.bob.id}"
    assert call.body == {"delete_message_seconds": 0} and call.reason == "trolling"
    assert env.guild.get_member(env.bob.id) is None
    log = one_with(await say(env, env.mod, "!audit"), "Audit log")
    assert "ban" in log and "trolling" in log


async def test_plain_member_is_refused_without_a_call(env: Env, routes: Routes) -> None:
    await known(env, env.alice, env.bob)
    one_with(await say(env, env.alice, f"!mute <@{env.bob.id}> 10m"), "moderators and above")
    one_with(await say(env, env.alice, f"!ban <@{env.bob.id}> because"), "moderators and above")
    assert routes.calls == []
    assert await audit_actions(env) == []
    assert env.guild.get_member(env.bob.id) is not None


@pytest.mark.parametrize(("command", "needle", "done"), [
    ("mute", "Timeout Members", "is muted until"),
    ("ban", "Ban Members", "is banned"),
])
async def test_forbidden_is_a_clear_reply_and_not_audited(env: Env, routes: Routes, command: str,
                                                          needle: str, done: str) -> None:
    await known(env, env.bob, env.mod)
    routes.refuse = forbidden()
    reply = one_with(await say(env, env.mod, f"!{command} <@{env.bob.id}> rude"), "The platform refused")
    assert needle in reply and f"may not {command}" in reply
    assert "Traceback" not in reply and "50013" not in reply
    assert len(routes.calls) == 1
    assert await audit_actions(env) == []
    # the bot carries on: the same command works once Discord allows it
    routes.refuse = None
    one_with(await say(env, env.mod, f"!{command} <@{env.bob.id}> rude"), done)
    assert await audit_actions(env) == [command]


async def test_member_gone_and_http_failures_become_platform_errors(env: Env, routes: Routes) -> None:
    m = env.adapter.messenger
    gid = str(env.guild.id)
    with pytest.raises(PlatformError, match="not a member"):
        await m.mute(gid, "1200000000000000999", until=None, reason="")  # fetched: 404 Unknown Member
    assert routes.calls == []

    routes.refuse = not_found(10007, "Unknown Member")  # left between the lookup and the PATCH
    with pytest.raises(PlatformError, match="any more"):
        await m.mute(gid, str(env.bob.id), until=None, reason="")
    routes.refuse = not_found(10013, "Unknown User")
    with pytest.raises(PlatformError, match="no Discord user"):
        await m.ban(gid, "1200000000000000999", reason="")
    routes.refuse = discord.DiscordServerError(response(503, "Service Unavailable"), "upstream")
    with pytest.raises(PlatformError, match="HTTP 503"):
        await m.ban(gid, str(env.bob.id), reason="")


async def test_bad_arguments_are_platform_errors_without_a_call(env: Env, routes: Routes) -> None:
    m = env.adapter.messenger
    gid = str(env.guild.id)
    with pytest.raises(PlatformError, match="future"):
        await m.mute(gid, str(env.bob.id), until=utcnow() - TEN_MINUTES, reason="")
    with pytest.raises(PlatformError, match="not a server"):
        await m.mute("", str(env.bob.id), until=None, reason="")  # a DM has no community
    with pytest.raises(PlatformError, match="not a Discord user id"):
        await m.ban(gid, "@bob", reason="")
    assert routes.calls == []


async def test_naive_until_is_utc(env: Env, routes: Routes) -> None:
    end = (utcnow() + TEN_MINUTES).replace(tzinfo=None)
    effective = await env.adapter.messenger.mute(str(env.guild.id), str(env.bob.id), until=end, reason="")
    (call,) = routes.calls
    assert timeout_end(call) == effective
    assert effective.replace(tzinfo=None) == end and effective.utcoffset() == timedelta(0)
