"""Scenarios through the real discord.py client (dpytest) into Cohort's real app and DB."""

from __future__ import annotations

from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend
from discord.ext.test import factories as facts
from sqlalchemy import func, select

from bot.ports import NotReachable, PlatformError, Role
from engine.store.models import Account, Interaction, MembershipEvent, Message, ProcessedEvent, Reaction
from tests.discord.conftest import Env


class FakeResponse:
    """The two attributes discord.HTTPException reads from an aiohttp response."""

    def __init__(self, status: int, reason: str = "") -> None:
        self.status = status
        self.reason = reason


def forbidden(code: int) -> discord.Forbidden:
    return discord.Forbidden(FakeResponse(403, "Forbidden"), {"code": code, "message": "Cannot send messages to this user"})


def message_dict(env: Env, member: discord.Member, content: str, **extra: Any) -> dict[str, Any]:
    data = facts.make_message_dict(env.channel, member, content=content, guild_id=env.guild.id)
    data.update(extra)
    return data


def post(env: Env, data: dict[str, Any]) -> discord.Message | None:
    """Deliver a MESSAGE_CREATE dict and keep it in dpytest's backend (for later reactions)."""
    env.client._connection.parse_message_create(data)
    backend._cur_config.messages.setdefault(int(data["channel_id"]), []).append(data)  # type: ignore[union-attr]
    return env.client._connection._get_message(data["id"])


def raw_of(env: Env, message: discord.Message) -> dict[str, Any]:
    """The MESSAGE_CREATE dict dpytest delivered for ``message`` (a copy)."""
    sent = backend._cur_config.messages[message.channel.id]  # type: ignore[union-attr]
    return dict(next(d for d in sent if int(d["id"]) == message.id))


async def rows(env: Env, stmt: Any) -> list[Any]:
    return await env.app.store.read(lambda s: list(s.execute(stmt).all()))


async def account_id(env: Env, member: discord.abc.Snowflake) -> int:
    found = await rows(env, select(Account.member_id).where(Account.external_id == str(member.id)))
    return int(found[0][0])


async def test_member_chats_replies_and_reacts(env: Env) -> None:
    first = await dpytest.message("pandas question: https://pandas.pydata.org/docs/ thanks", member=env.alice)
    reply = message_dict(env, env.bob, "use read_csv with chunksize", type=19,
                         message_reference={"message_id": first.id, "channel_id": env.channel.id},
                         referenced_message=raw_of(env, first))
    replied = post(env, reply)
    await env.settle()
    await dpytest.add_reaction(env.alice, replied, "👍")
    await env.settle()

    messages = await rows(env, select(Message.external_id, Message.text, Message.links,
                                      Message.reply_to_external_id, Message.reply_to_author_id))
    assert len(messages) == 2
    by_id = {m[0]: m for m in messages}
    assert by_id[str(first.id)][2] == ["https://pandas.pydata.org/docs/"]
    assert by_id[str(reply["id"])][3] == str(first.id)
    assert by_id[str(reply["id"])][4] == await account_id(env, env.alice)
    reactions = await rows(env, select(Reaction.emoji, Reaction.member_id, Reaction.target_member_id))
    assert reactions == [("👍", await account_id(env, env.alice), await account_id(env, env.bob))]
    kinds = sorted(k for (k,) in await rows(env, select(Interaction.kind)))
    assert kinds == ["message", "message", "reaction", "reply", "share"]  # share: the link became a catalog item


async def test_redelivered_message_and_reaction_are_recorded_once(env: Env) -> None:
    data = message_dict(env, env.alice, "hello again")
    message = post(env, data)
    env.client._connection.parsers["MESSAGE_CREATE"](data)  # the gateway's path: a resume replays it
    await env.settle()
    await dpytest.add_reaction(env.bob, message, "🔥")
    await dpytest.add_reaction(env.bob, message, "🔥")
    await env.settle()
    assert len(await rows(env, select(Message.id))) == 1
    assert len(await rows(env, select(Reaction.id))) == 1
    assert len(await rows(env, select(Interaction.id).where(Interaction.kind == "reaction"))) == 1


async def test_reaction_removed_and_message_edited_and_deleted(env: Env) -> None:
    msg = await dpytest.message("typo", member=env.alice)
    await dpytest.add_reaction(env.bob, msg, "👍")
    await dpytest.remove_reaction(env.bob, msg, "👍")
    state = env.client._connection
    edited = raw_of(env, msg)  # MESSAGE_UPDATE carries the whole message
    edited.update(content="fixed", edited_timestamp="2024-05-01T10:05:00+00:00", guild_id=env.guild.id)
    edited.pop("member", None)  # dpytest stores a user dict there; Discord's has roles
    state.parse_message_update(edited)
    backend.delete_message(msg)
    await env.settle()
    (removed,) = await rows(env, select(Reaction.removed_at))
    assert removed[0] is not None
    ((text, edited, deleted),) = await rows(env, select(Message.text, Message.edited_at, Message.deleted_at))
    assert text == "fixed" and edited is not None and deleted is not None


async def test_member_joins_and_leaves(env: Env) -> None:
    carol = await dpytest.member_join(env.guild, name="carol")
    await env.settle()
    backend.delete_member(carol)
    await env.settle()
    kinds = [k for (k,) in await rows(env, select(MembershipEvent.kind).order_by(MembershipEvent.id))]
    assert kinds == ["joined", "left"]


async def test_prefix_help_shows_more_to_moderators(env: Env) -> None:
    await dpytest.message("!help", member=env.alice)
    await env.settle()
    for_member = dpytest.get_message().content
    await dpytest.message("!help", member=env.mod)
    await env.settle()
    for_mod = dpytest.get_message().content
    assert "Commands you can use" in for_member
    assert len(for_mod.splitlines()) > len(for_member.splitlines())
    assert len(await rows(env, select(Message.id))) == 0  # commands are not chat messages
    assert len(await rows(env, select(Interaction.id).where(Interaction.kind == "command:help"))) == 2


async def test_slash_help_defers_and_answers_by_followup(env: Env) -> None:
    from tests.discord.conftest import slash_payload

    state = env.client._connection
    by_member, by_owner = slash_payload(env, env.alice, "help"), slash_payload(env, env.owner, "help")
    state.parse_interaction_create(by_member)
    state.parse_interaction_create(by_owner)
    await settle_tree(env)
    callbacks = [c for c in env.webhook_calls if c.url.endswith("/callback")]
    assert len(callbacks) == 2 and all(c.payload and c.payload["type"] == 5 for c in callbacks)  # deferred

    def followup(payload: dict[str, Any]) -> str:
        # A long answer (the owner's /help) comes as several follow-ups under Discord's 2,000 characters.
        calls = [c for c in env.webhook_calls if c.method == "POST" and payload["token"] in c.url
                 and "/webhooks/" in c.url]
        assert calls and all(len(str((c.payload or {})["content"])) <= 2000 for c in calls)
        return "\n".join(str((c.payload or {})["content"]) for c in calls)

    member_text, owner_text = followup(by_member), followup(by_owner)
    assert "Commands you can use" in member_text
    assert len(owner_text.splitlines()) > len(member_text.splitlines())
    assert len(await rows(env, select(Interaction.id).where(Interaction.kind == "command:help"))) == 2


async def settle_tree(env: Env) -> None:
    """Wait for discord.py's CommandTree invoker tasks, then for Cohort's dispatches."""
    import asyncio

    for _ in range(3):
        pending = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker" and not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await env.settle()


async def test_dm_refused_records_unreachable(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    await dpytest.message("hi", member=env.alice)  # creates alice's account
    await env.settle()

    async def refuse(*_: Any, **__: Any) -> Any:
        raise forbidden(50007)

    monkeypatch.setattr(backend.FakeHttp, "send_message", refuse)
    with pytest.raises(NotReachable):
        await env.adapter.messenger.dm(str(env.alice.id), "your weekly digest")
    ((reachable, checked),) = await rows(env, select(Account.dm_reachable, Account.dm_checked_at)
                                         .where(Account.external_id == str(env.alice.id)))
    assert reachable is False and checked is not None


async def test_dm_delivered_records_reachable(env: Env) -> None:
    await dpytest.message("hi", member=env.bob)
    await env.settle()
    sent = await env.adapter.messenger.dm(str(env.bob.id), "<b>hello</b> there")
    out = dpytest.get_message()
    assert out.content == "**hello** there" and isinstance(out.channel, discord.DMChannel)
    assert sent.chat.community_id == "" and sent.message_id == str(out.id)
    ((reachable,),) = await rows(env, select(Account.dm_reachable).where(Account.external_id == str(env.bob.id)))
    assert reachable is True


@pytest.mark.parametrize("error", [
    discord.HTTPException(FakeResponse(429, "Too Many Requests"), {"code": 0, "message": "You are being rate limited."}),
    discord.DiscordServerError(FakeResponse(503, "Service Unavailable"), "upstream"),
    discord.RateLimited(120.0),
    forbidden(50013),
])
async def test_http_failures_become_platform_errors(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                    error: Exception) -> None:
    async def fail(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr(backend.FakeHttp, "send_message", fail)
    with pytest.raises(PlatformError):
        await env.adapter.messenger.send(chat_of(env), "hello")
    # a command whose reply fails does not crash the adapter; the event is still stored
    await dpytest.message("!help", member=env.alice)
    await env.settle()
    assert len(await rows(env, select(Interaction.id).where(Interaction.kind == "command:help"))) == 1


def chat_of(env: Env) -> Any:
    from bot.ports import ChatRef
    from engine.events import Platform

    return ChatRef(Platform.DISCORD, str(env.guild.id), str(env.channel.id))


async def test_roles_from_permissions(env: Env) -> None:
    m = env.adapter.messenger
    gid = str(env.guild.id)
    assert await m.role_of(gid, str(env.alice.id)) == Role.MEMBER
    assert await m.role_of(gid, str(env.mod.id)) == Role.MODERATOR
    assert await m.role_of(gid, str(env.owner.id)) == Role.OWNER
    assert await m.role_of("", str(env.alice.id)) == Role.MEMBER  # a DM
    assert await m.role_of("1900000000000000001", str(env.alice.id)) == Role.MEMBER  # unknown guild


async def test_set_role_for_level_rewards(env: Env) -> None:
    m = env.adapter.messenger
    await m.set_role(str(env.guild.id), str(env.alice.id), "level 5", True)
    assert any(r.name == "Level 5" for r in env.guild.get_member(env.alice.id).roles)  # type: ignore[union-attr]
    await m.set_role(str(env.guild.id), str(env.alice.id), "Level 5", False)
    assert not any(r.name == "Level 5" for r in env.guild.get_member(env.alice.id).roles)  # type: ignore[union-attr]
    with pytest.raises(PlatformError, match="no role named"):
        await m.set_role(str(env.guild.id), str(env.alice.id), "Level 99", True)


async def test_long_replies_are_split_and_pictures_sent(env: Env) -> None:
    m = env.adapter.messenger
    await m.send(chat_of(env), "\n".join(f"line {i} " + "x" * 90 for i in range(50)))
    parts = []
    while not dpytest.sent_queue.empty():
        parts.append(dpytest.get_message().content)
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    await m.send_picture(chat_of(env), b"\x89PNG\r\n\x1a\n", caption="<i>chart</i>")
    pic = dpytest.get_message()
    assert pic.attachments[0].filename == "cohort.png"  # (dpytest drops the text of multipart sends)


async def test_buttons_come_back_as_clicks(env: Env) -> None:
    from bot.ports import Button

    sent = await env.adapter.messenger.send(chat_of(env), "Try this?", buttons=[Button("Yes", data="rec:1:yes"),
                                                                               Button("Docs", url="https://x.org")])
    out = dpytest.get_message()
    assert str(out.id) == sent.message_id
    payload = {
        "id": "1270000000000000011", "application_id": str(env.client.user.id), "type": 3,  # type: ignore[union-attr]
        "token": "t", "version": 1, "guild_id": str(env.guild.id), "channel_id": str(env.channel.id),
        "member": {"user": {"id": str(env.alice.id), "username": "alice", "discriminator": "0001", "avatar": None},
                   "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                   "flags": 0, "permissions": "0"},
        "message": raw_of(env, out), "data": {"custom_id": "rec:1:yes", "component_type": 2},
        "locale": "en-US", "entitlements": [], "authorizing_integration_owners": {}, "context": 0, "attachment_size_limit": 10_485_760,
    }
    env.client._connection.parse_interaction_create(payload)
    env.client._connection.parse_interaction_create(payload)  # redelivered: one click
    await env.settle()
    assert len(await rows(env, select(Interaction.id).where(Interaction.kind == "click"))) == 1
    assert any(c.url.endswith("/callback") for c in env.webhook_calls)  # acknowledged within 3 s


async def test_bad_input_is_handled(env: Env) -> None:
    state = env.client._connection
    hook = message_dict(env, env.alice, "new video", webhook_id=1400000000000000001)
    hook["author"] = {"id": 1400000000000000001, "username": "YouTube", "discriminator": "0000", "avatar": None,
                      "bot": True}
    system = message_dict(env, env.alice, "", type=7)
    embed_only = message_dict(env, env.alice, "", embeds=[{"type": "rich", "title": "recap"}])
    huge = message_dict(env, env.bob, "y" * 4000)
    for data in (hook, system, embed_only, huge):
        post(env, data)
    state.parse_message_reaction_add({"user_id": env.alice.id, "channel_id": env.channel.id, "message_id": huge["id"],
                                      "guild_id": env.guild.id, "emoji": {"id": None, "name": None}})
    other_guild = {"id": 1900000000000000099, "channel_id": 1900000000000000010, "guild_id": 1900000000000000001,
                   "type": 0, "content": "elsewhere", "author": {"id": 1200000000000000077, "username": "x",
                   "discriminator": "0001", "avatar": None}, "mentions": [], "attachments": [], "embeds": [],
                   "timestamp": "2024-05-01T10:00:00+00:00", "edited_timestamp": None, "tts": False,
                   "mention_everyone": False, "mention_roles": [], "pinned": False}
    state.parse_message_create(other_guild)
    state.parse_guild_member_add({"guild_id": 1900000000000000001, "joined_at": "2024-05-01T10:00:00+00:00",
                                  "user": {"id": 1200000000000000078, "username": "y", "discriminator": "0001",
                                           "avatar": None}, "roles": []})
    await env.settle()
    stored = await rows(env, select(Message.text_length, Message.is_bot).order_by(Message.id))
    assert stored == [(9, True), (0, False), (4000, False), (9, False)]  # system message skipped
    assert len(await rows(env, select(Reaction.id))) == 0
    assert len(await rows(env, select(MembershipEvent.id))) == 1
    assert await env.app.store.read(lambda s: s.scalar(select(func.count()).select_from(ProcessedEvent))) == 5
