"""The issue's end-to-end case: a per-community scheduled job hands nudges to one Notifier,
which delivers to Telegram members (PTB over HTTP against the loopback fake Bot API) and
Discord members (discord.py through dpytest) — skipping an opted-out member and recording
a member who blocked the bot (403 / 50007) as unreachable, never retried."""

from __future__ import annotations

import inspect
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend
from sqlalchemy import select

from bot.bootstrap import App
from bot.modules import CommunityRef, Daily, JobSpec
from bot.notify import Notification, Notifier, Purpose
from bot.ports import Button
from bot.scheduler import Scheduler
from engine.events import Platform
from engine.members.lookup import member_of_account
from engine.members.privacy import set_dm_opt_out
from engine.outbox.tables import OutboxEntry
from engine.store.models import Account, CommunityMember
from engine.store.store import Store
from tests.discord.conftest import Env, env  # noqa: F401  (fixture)
from tests.fakes.telegram_api import BLOCKED, FakeTelegram
from tests.members.fakes import FakeMessenger, msg
from tests.telegram.conftest import GROUP, AdapterFactory, fake, make_adapter  # noqa: F401  (fixtures)

JOB = "test.nudge-quiet-members"


async def nudge_members(community: CommunityRef, store: Store, notifier: Notifier) -> None:
    """What churn/nudge jobs do: the engine says who, the Notifier delivers."""
    members = await store.read(lambda s: list(s.execute(
        select(CommunityMember.member_id).where(CommunityMember.community_id == community.id)
        .order_by(CommunityMember.member_id)).scalars()))
    await notifier.notify_all([
        Notification(f"test-nudge:{community.id}:{community.local_date}:{m}", m, community.id, Purpose.NUDGE,
                     "We miss you — <b>come back</b>", buttons=(Button("Open the course", url="https://example.org"),))
        for m in members])


class FakeResponse:
    def __init__(self, status: int, reason: str = "") -> None:
        self.status = status
        self.reason = reason


async def until(check: Any, timeout: float = 15.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def states(app: App) -> dict[int, tuple[str, int, str | None]]:
    rows = await app.store.read(lambda s: s.execute(
        select(OutboxEntry.member_id, OutboxEntry.state, OutboxEntry.attempts, OutboxEntry.last_error)).all())
    return {m: (st, a, e) for m, st, a, e in rows}


async def test_a_scheduled_job_notifies_members_on_telegram_and_discord(
        app: App, fake: FakeTelegram, make_adapter: AdapterFactory, env: Env,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Telegram: three members of the group; 1002 opted out, 1003 blocked the bot.
    tg_group = str(GROUP)
    for uid in ("1001", "1002", "1003"):
        await app.dispatch(msg(uid, "hello", platform=Platform.TELEGRAM, community=tg_group), FakeMessenger())
    # Discord: alice, bob (opted out) and mod (closed DMs: 50007), through dpytest.
    for member in (env.alice, env.bob, env.mod):
        await dpytest.message("hello", member=member)
    await env.settle()
    await dpytest.empty_queue()

    async def member_id(platform: Platform, ext: str) -> int:
        mid = await app.store.read(lambda s: member_of_account(s, str(platform), ext))
        assert mid is not None
        return mid

    ada, opted_tg, blocked_tg = [await member_id(Platform.TELEGRAM, u) for u in ("1001", "1002", "1003")]
    alice, opted_dc, blocked_dc = [await member_id(Platform.DISCORD, str(m.id)) for m in (env.alice, env.bob, env.mod)]
    for mid in (opted_tg, opted_dc):
        await app.store.write(lambda s, mid=mid: set_dm_opt_out(s, mid, True))
    fake.fail("sendMessage", status=403, description=BLOCKED, chat_id=1003, times=100)
    mod_dm = await env.mod.create_dm()
    real_send = backend.FakeHttp.send_message

    async def send_or_refuse(self: Any, channel_id: int, **kw: Any) -> Any:
        if int(channel_id) == mod_dm.id:
            raise discord.Forbidden(FakeResponse(403, "Forbidden"),
                                    {"code": 50007, "message": "Cannot send messages to this user"})
        # dpytest reads the caller's ``channel`` local; hand it on from discord.py's frame.
        frame = inspect.currentframe()
        channel = frame.f_back.f_locals.get("channel") if frame and frame.f_back else None  # noqa: F841
        return await real_send(self, channel_id, **kw)

    monkeypatch.setattr(backend.FakeHttp, "send_message", send_or_refuse)

    adapter = await make_adapter()
    app.notifier.attach(adapter.messenger)
    app.notifier.attach(env.adapter.messenger)
    scheduler = Scheduler(app.store, deps=app.deps)
    scheduler.add(JobSpec(JOB, Daily(at="09:00"), nudge_members, per_community=True, summary="nudge"))
    await scheduler.start()
    try:
        jobs = sorted(j for j in scheduler.next_runs() if j.startswith(JOB))
        assert len(jobs) == 2  # one per group community; the DM "communities" get none
        for job_id in jobs:
            assert scheduler.run_soon(job_id)  # fires through APScheduler's store and our executor

        everyone = {ada, opted_tg, blocked_tg, alice, opted_dc, blocked_dc}

        async def all_final() -> bool:
            current = await states(app)
            return set(current) == everyone and all(st != "planned" and st != "sending" for st, _, _ in current.values())

        await until(all_final)
        await env.settle()
        outcome = await states(app)
        assert {m: st for m, (st, _, _) in outcome.items()} == {
            ada: "sent", opted_tg: "opted_out", blocked_tg: "unreachable",
            alice: "sent", opted_dc: "opted_out", blocked_dc: "unreachable"}
        assert "blocked" in (outcome[blocked_tg][2] or "") and outcome[blocked_tg][1] == 1

        # Telegram: one real sendMessage each to the reachable member, with the button; one
        # refused attempt to the blocked one; nothing to the opted-out member.
        (sent,) = fake.delivered_to(1001)
        assert "come back" in sent["text"] and sent["reply_markup"]["inline_keyboard"][0][0]["url"]
        assert [c.params["chat_id"] for c in fake.calls_to("sendMessage")].count(1003) == 1
        assert fake.delivered_to(1002) == [] and fake.delivered_to(1003) == []
        # Discord: alice got the DM (Markdown), bob and mod none.
        dms = []
        while not dpytest.sent_queue.empty():
            dms.append(dpytest.sent_queue.get_nowait())
        alice_dm = await env.alice.create_dm()
        assert [(m.channel.id, m.content) for m in dms] == [(alice_dm.id, "We miss you — **come back**")]

        reachable = await app.store.read(lambda s: dict(s.execute(
            select(Account.external_id, Account.dm_reachable)).all()))
        assert reachable["1003"] is False and reachable[str(env.mod.id)] is False
        assert reachable["1001"] is True and reachable[str(env.alice.id)] is True

        # The same firing again (a take-over, the repeated DST hour): nothing more is sent.
        cid_of = {j: int(j.split("@")[1]) for j in jobs}
        today = datetime.now(UTC)
        for job_id in jobs:
            assert not await scheduler.run(JOB, cid_of[job_id], today)
        # The next day: a new key per member; the blocked accounts are not tried again.
        for job_id in jobs:
            assert await scheduler.run(JOB, cid_of[job_id], today + timedelta(days=1))
        await env.settle()
        assert len(fake.delivered_to(1001)) == 2
        assert [c.params["chat_id"] for c in fake.calls_to("sendMessage")].count(1003) == 1
        later = await app.store.read(lambda s: s.execute(
            select(OutboxEntry.member_id, OutboxEntry.state, OutboxEntry.last_error)
            .where(OutboxEntry.key.like("%:" + str((today + timedelta(days=1)).date()) + ":%"))).all())
        refused = sorted((st, (err or "").split(":")[0]) for m, st, err in later if m in (blocked_tg, blocked_dc))
        assert refused == [("unreachable", "discord"), ("unreachable", "telegram")]
        assert all("refused DMs (recorded" in (err or "") for m, _, err in later if m in (blocked_tg, blocked_dc))
        assert dpytest.sent_queue.qsize() == 1  # alice's second nudge only
    finally:
        await scheduler.stop()
