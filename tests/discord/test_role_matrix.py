"""The role matrix on Discord, through discord.py and dpytest: every moderator, admin and
owner command sent by a member, a moderator (a role with Manage Messages), an admin (a role
with Administrator), the server's owner and another bot; then the acting commands aimed at
each rank. A refusal writes nothing and calls no moderation route. /kick and /ban remove the
member from dpytest's guild; :func:`restore` adds them back (with their roles) after each
case, as if they had rejoined, so the next case can name them again."""

from __future__ import annotations

import itertools
import json
from typing import Any

import discord
import pytest
from discord.ext import test as dpytest
from discord.ext.test import backend
from discord.ext.test import factories as facts
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.moderation.tables import Filter, Restriction, Warning_
from engine.points.tables import PointsEntry
from engine.store.models import AuditEntry, Community
from tests.discord.test_moderation_actions import more_routes
from tests.discord.test_moderation_platform import Env, Routes, known, routes, say

# Hundreds of commands through the real adapter: minutes of wall time, so CI runs it (-m slow).
pytestmark = pytest.mark.slow

__all__ = ["more_routes", "routes"]  # the fixtures, re-used

COMMANDS: list[tuple[str, int]] = [
    ("!warn {bob} rude", 1), ("!warns {bob}", 1), ("!unwarn {bob}", 1), ("!mute {bob} 10m", 1),
    ("!unmute {bob}", 1), ("!filter add word spam", 1), ("!modlog", 1), ("!points give {bob} 1 x", 1),
    ("!config moderation.flood_messages 5", 1), ("!purge 1", 1), ("!kick {bob} rude", 1),
    ("!ban {bob} spam", 1), ("!unban {bob}", 1), ("!filter links allow example.com", 1), ("!mod add {bob}", 2),
    ("!welcome on", 2),
]
ACTING = ["!warn {t} rude", "!mute {t} 10m", "!unmute {t}", "!points give {t} 1 x", "!kick {t} rude",
          "!ban {t} 1h spam"]


def restore(env: Env, member_id: int, roles: list[discord.Role]) -> None:
    """Add a kicked or banned member back to dpytest's guild, with ``roles`` (a rejoin)."""
    if env.guild.get_member(member_id) is None:
        user = env.client.get_user(member_id)
        assert user is not None
        backend.make_member(user, env.guild, roles=roles)


def roles_of(env: Env, member_id: int) -> list[discord.Role]:
    member = env.guild.get_member(member_id)
    return [r for r in member.roles if not r.is_default()] if member is not None else []


def other_bot(env: Env) -> discord.Member:
    """Another bot in the server (a member whose user has ``bot: true``)."""
    data = dict(facts.make_user_dict("OtherBot", "0001", None, facts.make_id()))
    data["bot"] = True
    user = env.client._connection.store_user(data)  # type: ignore[arg-type]
    member = backend.make_member(user, env.guild)
    assert member.bot
    return member


async def ask(env: Env, member: discord.Member, text: str) -> list[str]:
    """One command, answered. dpytest stamps messages with the real time, so a matrix sent
    in a loop is a flood of commands by the budget's measure (tested on its own): start
    each one with a fresh budget."""
    env.app.deps.automod.commands.forget(("discord", str(member.id)))  # type: ignore[union-attr]
    return await say(env, member, text)


async def state(env: Env, routes: Routes) -> tuple[Any, ...]:
    def read(s: Session) -> tuple[Any, ...]:
        counts = tuple(int(s.execute(select(func.count()).select_from(t)).scalar_one())
                       for t in (AuditEntry, Warning_, Restriction, Filter, PointsEntry))
        settings = json.dumps(s.execute(select(Community.settings)).scalars().all(), sort_keys=True, default=str)
        return (*counts, settings)
    return (*await env.app.store.read(read), len(routes.calls))


@pytest.fixture
async def admin(env: Env) -> discord.Member:
    """Alice, given a role with Administrator."""
    role = backend.make_role("Admins", env.guild, permissions=discord.Permissions(administrator=True).value)
    await dpytest.add_role(env.alice, role)
    await known(env, env.alice, env.bob, env.mod, env.owner)
    return env.alice


async def test_who_may_run_each_command(env: Env, more_routes: Routes, admin: discord.Member) -> None:
    callers = {"member": (env.bob, 0), "moderator": (env.mod, 1), "admin": (admin, 2), "owner": (env.owner, 3)}
    bob_roles = roles_of(env, env.bob.id)
    for caller, (member, rank) in callers.items():
        for text, needs in COMMANDS:
            before = await state(env, more_routes)
            sent = await ask(env, member, text.format(bob=f"<@{env.bob.id}>"))
            refused = any("and above" in m or "Only moderators" in m for m in sent)
            assert sent and refused == (rank < needs), (caller, text, sent)
            if refused:
                assert await state(env, more_routes) == before, (caller, text)
            restore(env, env.bob.id, bob_roles)
    kicks = [c for c in more_routes.calls if c.method == "DELETE" and "/members/" in c.path]
    bans = [c for c in more_routes.calls if c.method == "PUT" and "/bans/" in c.path]
    assert len(kicks) == 3 and len(bans) == 3  # a moderator, an admin and the owner each


async def test_another_bot_is_never_obeyed(env: Env, more_routes: Routes, admin: discord.Member) -> None:
    """Commands from another bot are not commands at all (no bot loops): no reply, nothing
    written, no platform call — even when that bot holds Administrator."""
    bot = other_bot(env)
    await dpytest.add_role(bot, backend.make_role("BotAdmins", env.guild,
                                                  permissions=discord.Permissions(administrator=True).value))
    for text, _ in COMMANDS:
        before = await state(env, more_routes)
        sent = await ask(env, bot, text.format(bob=f"<@{env.bob.id}>"))
        assert sent == [] and await state(env, more_routes) == before, (text, sent)
    assert env.guild.get_member(env.bob.id) is not None


async def test_nobody_acts_on_a_member_who_ranks_at_or_above_them(env: Env, more_routes: Routes,
                                                                   admin: discord.Member) -> None:
    ranks = {env.bob: 0, env.mod: 1, admin: 2, env.owner: 3}
    for actor, target in itertools.product([env.mod, admin, env.owner], ranks):
        for template in ACTING:
            before, roles = await state(env, more_routes), roles_of(env, target.id)
            sent = await ask(env, actor, template.format(t=f"<@{target.id}>"))
            allowed = ranks[target] < ranks[actor]
            assert (await state(env, more_routes) != before) == allowed, (actor.name, target.name, template, sent)
            assert (env.guild.get_member(target.id) is None) == (allowed and template.startswith(("!kick", "!ban")))
            if actor != target and not allowed:
                assert any("rank at or above" in m for m in sent), (actor.name, target.name, template, sent)
            restore(env, target.id, roles)
    before = await state(env, more_routes)
    bot = env.client.user
    assert bot is not None
    sent = await ask(env, env.owner, f"!warn <@{bot.id}> x")  # the bot itself
    assert await state(env, more_routes) == before and sent
