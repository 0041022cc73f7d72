"""A nudge campaign through the real discord.py client (dpytest): turned on and tuned with
commands, previewed, delivered as DMs through the outbox Notifier, a member whose DMs are
closed (50007) recorded unreachable, listed for moderators and not retried."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend
from sqlalchemy import select

from bot.nudges.service import NudgeService
from engine.churn.scores import MemberRisk, Reason, store_scores
from engine.events import utcnow
from engine.nudge.tables import NudgeAssignment
from engine.store.models import Account, Community
from tests.discord.conftest import Env
from tests.discord.test_scenarios import forbidden

REASON = Reason("recency", "no activity for 3 weeks", "3 周没有活动", 0.4)


def drain() -> list[discord.Message]:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message())
    return out


async def say(env: Env, member: discord.Member, text: str) -> str:
    """What the bot answered in the channel to ``text`` (the last message there)."""
    await dpytest.message(text, member=member)
    await env.settle()
    answers = [m for m in drain() if not isinstance(m.channel, discord.DMChannel)]
    assert answers, f"no answer to {text!r}"
    return answers[-1].content or ""


def greets(text: str | None, member: discord.Member) -> bool:
    return f"Hi {member.name}," in (text or "")  # a nudge opens with the member's name


def dms_to(sent: list[discord.Message], member: discord.Member) -> list[discord.Message]:
    """DMs to ``member`` (dpytest's DM channels carry no recipient; the nudge names them)."""
    return [m for m in sent if isinstance(m.channel, discord.DMChannel) and greets(m.content, member)]


async def test_a_campaign_is_delivered_by_dm_and_closed_dms_are_listed_not_retried(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    app, now = env.app, utcnow()
    for member in (env.alice, env.bob, env.mod, env.owner):
        await dpytest.message(f"hello, I am {member.name}", member=member)
    await env.settle()
    drain()

    def community(session: Any) -> int:
        return int(session.execute(select(Community.id).where(Community.external_id == str(env.guild.id)))
                   .scalar_one())

    cid = await app.store.read(community)
    ids = {m.name: await app.store.read(lambda s, m=m: s.execute(select(Account.member_id).where(  # type: ignore[misc]
        Account.external_id == str(m.id))).scalar_one()) for m in (env.alice, env.bob, env.mod)}
    risks = [MemberRisk(mid, 0.9 - i / 100, (REASON,), now.date(), now - timedelta(days=20))
             for i, mid in enumerate(ids.values())]
    await app.store.write(lambda s: store_scores(s, cid, now.date(), "test", risks))

    assert "for admins" in await say(env, env.mod, "!nudge on")
    assert "Nudges are on" in await say(env, env.owner, "!nudge on")
    assert "not changed" in await say(env, env.owner, "!config nudge.threshold 2")
    assert "must be a number" in await say(env, env.owner, "!config nudge.daily_cap ²")
    assert "is now `none`" in await say(env, env.owner, "!config nudge.quiet_hours none")
    assert "is now `0.01`" in await say(env, env.owner, "!config nudge.control_fraction 0.01")
    preview = await say(env, env.mod, f"!nudge preview <@{env.alice.id}>")
    assert "Preview for" in preview and "nothing sent" in preview and "/nudges off" in preview
    assert dms_to(drain(), env.alice) == []

    nudges = app.deps.nudges
    assert isinstance(nudges, NudgeService)
    app.notifier.attach(env.adapter.messenger)
    plan = await nudges.plan(cid, now=now)  # drawn and stored before anything is sent
    treated = [m for m in (env.alice, env.bob, env.mod) if ids[m.name] in {p.member_id for p in plan.treated}]
    assert len(treated) >= 2
    closed, open_ = treated[0], treated[1:]
    original = backend.FakeHttp.send_message
    refused: list[int] = []

    async def send_message(self: Any, channel_id: int, *, params: Any) -> Any:
        channel = sys._getframe(1).f_locals.get("channel")  # dpytest reads its caller's ``channel``
        if isinstance(channel, discord.DMChannel) and greets((params.payload or {}).get("content"), closed):
            refused.append(closed.id)
            raise forbidden(50007)
        return await original(self, channel_id, params=params)

    monkeypatch.setattr(backend.FakeHttp, "send_message", send_message)
    result = await nudges.run(cid, now=now)  # the daily job's call: finds the drawn campaign, delivers
    await env.settle()
    sent = drain()
    assert result.plan.status == "exists"
    assert result.deliveries == {"sent": len(open_), "unreachable": 1}
    for member in open_:
        (dm,) = dms_to(sent, member)
        assert f"Hi {member.name}" in (dm.content or "") and "/nudges off" in (dm.content or "")
    assert refused == [closed.id] and dms_to(sent, closed) == []
    ((reachable,),) = await app.store.read(lambda s: s.execute(select(Account.dm_reachable).where(
        Account.external_id == str(closed.id))).all())
    assert reachable is False
    answers = await app.store.read(lambda s: {int(m): d for m, d in s.execute(
        select(NudgeAssignment.member_id, NudgeAssignment.delivery).where(NudgeAssignment.arm == "treated"))})
    assert answers[ids[closed.name]] == "unreachable"

    again = await nudges.run(cid, now=now + timedelta(hours=1))  # same local day: nothing more
    await env.settle()
    assert again.deliveries == {} and refused == [closed.id] and [m for m in drain()
                                                                  if isinstance(m.channel, discord.DMChannel)] == []
    listed = await say(env, env.mod, "!nudge unreachable")
    assert "could not reach" in listed and closed.name in listed
    assert "window open" in await say(env, env.mod, "!nudge report")
