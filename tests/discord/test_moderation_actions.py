"""/kick, /unmute, /unban, a timed /ban (lifted by Cohort: Discord has no timed bans) and
/purge on Discord through discord.py and dpytest. dpytest 0.7 has no unban, kick that
answers as Discord does, or bulk delete; the ``more_routes`` fixture adds them (recorded)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord
import pytest
from discord.ext.test import backend
from sqlalchemy import select

from bot.handlers.moderation import lift_due
from bot.ports import ChatRef
from engine.events import Platform, utcnow
from engine.moderation.tables import Restriction
from engine.store.models import AuditEntry
from tests.discord.test_moderation_platform import Call, Env, Routes, forbidden, known, one_with, routes, say

__all__ = ["routes"]  # the fixture, re-used


@pytest.fixture
def more_routes(env: Env, routes: Routes, monkeypatch: pytest.MonkeyPatch) -> Routes:
    async def kick(http: backend.FakeHttp, user_id: int, guild_id: int, reason: str | None = None) -> None:
        routes.take(Call("DELETE", f"/guilds/{guild_id}/members/{user_id}", {}, reason))
        guild = env.client.get_guild(int(guild_id))
        member = guild.get_member(int(user_id)) if guild else None
        if member is not None:
            backend.delete_member(member)

    async def unban(http: backend.FakeHttp, user_id: int, guild_id: int, *, reason: str | None = None) -> None:
        routes.take(Call("DELETE", f"/guilds/{guild_id}/bans/{user_id}", {}, reason))

    async def delete_messages(http: backend.FakeHttp, channel_id: int, message_ids: list[Any], *,
                              reason: str | None = None) -> None:
        routes.take(Call("POST", f"/channels/{channel_id}/messages/bulk-delete",
                         {"messages": [int(m) for m in message_ids]}, reason))

    async def delete_message(http: backend.FakeHttp, channel_id: int, message_id: int, *,
                             reason: str | None = None) -> None:
        routes.take(Call("DELETE", f"/channels/{channel_id}/messages/{message_id}", {}, reason))

    monkeypatch.setattr(backend.FakeHttp, "kick", kick)
    monkeypatch.setattr(backend.FakeHttp, "unban", unban, raising=False)
    monkeypatch.setattr(backend.FakeHttp, "delete_messages", delete_messages, raising=False)
    monkeypatch.setattr(backend.FakeHttp, "delete_message", delete_message)
    return routes


async def actions(env: Env) -> list[str]:
    return await env.app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))


async def test_kick_unmute_and_unban(env: Env, more_routes: Routes) -> None:
    await known(env, env.alice, env.bob, env.mod)
    one_with(await say(env, env.mod, f"!kick <@{env.bob.id}> rude"), "was removed")
    assert more_routes.calls[-1].path == f"/guilds/{env.guild.id}/members/{env.bob.id}"
    assert more_routes.calls[-1].method == "DELETE" and more_routes.calls[-1].reason == "rude"
    assert env.guild.get_member(env.bob.id) is None

    one_with(await say(env, env.mod, f"!mute <@{env.alice.id}> 10m"), "is muted until")
    one_with(await say(env, env.mod, f"!unmute <@{env.alice.id}>"), "can speak again")
    assert more_routes.calls[-1].body == {"communication_disabled_until": None}
    alice = env.guild.get_member(env.alice.id)
    assert alice is not None and not alice.is_timed_out()

    one_with(await say(env, env.mod, f"!unban {env.bob.id}"), "no longer banned")  # gone: no mention
    assert more_routes.calls[-1].path == f"/guilds/{env.guild.id}/bans/{env.bob.id}"
    assert await actions(env) == ["kick", "mute", "unmute", "unban"]


async def test_a_timed_ban_is_lifted_by_cohort_when_due(env: Env, more_routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    reply = one_with(await say(env, env.mod, f"!ban <@{env.bob.id}> 1h spam"), "is banned until")
    assert "UTC" in reply
    row = await env.app.store.read(lambda s: s.scalars(select(Restriction)).one())
    assert row.cohort_lifts and row.until is not None
    messenger = env.adapter.messenger
    assert await lift_due(env.app.store, messenger, utcnow()) == 0  # not yet
    assert await lift_due(env.app.store, messenger, utcnow() + timedelta(hours=1, minutes=1)) == 1
    assert more_routes.calls[-1].method == "DELETE" and more_routes.calls[-1].path.endswith(f"/bans/{env.bob.id}")
    assert await lift_due(env.app.store, messenger, utcnow() + timedelta(hours=2)) == 0  # once
    assert (await actions(env))[-1] == "unban"


async def test_kick_without_the_right_is_a_clear_refusal(env: Env, more_routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    more_routes.refuse = forbidden()
    reply = one_with(await say(env, env.mod, f"!kick <@{env.bob.id}>"), "The platform refused")
    assert "Kick Members" in reply and "50013" not in reply
    assert await actions(env) == []


async def test_purge_bulk_deletes_recent_messages(env: Env, more_routes: Routes) -> None:
    await known(env, env.bob, env.mod)
    for i in range(4):
        await say(env, env.bob, f"spam {i}")
    sent = await say(env, env.mod, "!purge 3")
    assert any("Deleted 4 messages" in m for m in sent), sent
    bulk = [c for c in more_routes.calls if c.path.endswith("/bulk-delete")]
    assert len(bulk) == 1 and len(bulk[0].body["messages"]) == 4
    one_with(await say(env, env.mod, "!purge 0"), "from 1 to 100")
    one_with(await say(env, env.mod, "!purge 100000"), "from 1 to 100")
    assert len([c for c in more_routes.calls if c.path.endswith("/bulk-delete")]) == 1


async def test_messages_older_than_14_days_are_left_and_said(env: Env, more_routes: Routes) -> None:
    old = discord.utils.time_snowflake(utcnow() - timedelta(days=20))
    young = discord.utils.time_snowflake(utcnow() - timedelta(minutes=5))
    channel = env.guild.text_channels[0]
    chat = ChatRef(Platform.DISCORD, str(env.guild.id), str(channel.id))
    done = await env.adapter.messenger.delete_messages(chat, [(str(young), utcnow()), (str(old), utcnow())])
    assert (done.deleted, done.too_old) == (1, 1)
    assert more_routes.calls[-1].path.endswith(f"/messages/{young}")  # one message: a single delete
