"""The role matrix on Discord, through discord.py and dpytest: every moderator, admin and
owner command sent by a member, a moderator (a role with Manage Messages), an admin (a role
with Administrator) and the server's owner; then the acting commands aimed at each rank.
A refusal writes nothing and calls no moderation route."""

from __future__ import annotations

import itertools
import json
from typing import Any

import discord
import pytest
from discord.ext import test as dpytest
from discord.ext.test import backend
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
    ("!config moderation.flood_messages 5", 1), ("!purge 1", 1), ("!mod add {bob}", 2), ("!welcome on", 2),
]  # /kick and /ban remove the member from dpytest's guild, after which it cannot mention them: see
#    test_moderation_actions for them (they take the same checked path, ``_aim``, as /mute)
ACTING = ["!warn {t} rude", "!mute {t} 10m", "!unmute {t}", "!points give {t} 1 x"]


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
    for caller, (member, rank) in callers.items():
        for text, needs in COMMANDS:
            before = await state(env, more_routes)
            sent = await ask(env, member, text.format(bob=f"<@{env.bob.id}>"))
            refused = any("and above" in m or "Only moderators" in m for m in sent)
            assert sent and refused == (rank < needs), (caller, text, sent)
            if refused:
                assert await state(env, more_routes) == before, (caller, text)


async def test_nobody_acts_on_a_member_who_ranks_at_or_above_them(env: Env, more_routes: Routes,
                                                                   admin: discord.Member) -> None:
    ranks = {env.bob: 0, env.mod: 1, admin: 2, env.owner: 3}
    for actor, target in itertools.product([env.mod, admin, env.owner], ranks):
        for template in ACTING:
            before = await state(env, more_routes)
            sent = await ask(env, actor, template.format(t=f"<@{target.id}>"))
            allowed = ranks[target] < ranks[actor]
            assert (await state(env, more_routes) != before) == allowed, (actor.name, target.name, template, sent)
            if actor != target and not allowed:
                assert any("rank at or above" in m for m in sent), (actor.name, target.name, template, sent)
    before = await state(env, more_routes)
    bot = env.client.user
    assert bot is not None
    sent = await ask(env, env.owner, f"!warn <@{bot.id}> x")  # the bot itself
    assert await state(env, more_routes) == before and sent
