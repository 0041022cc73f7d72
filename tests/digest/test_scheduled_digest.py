"""The issue's delivery case: the weekly per-community digest job, fired through the
scheduler, DMs each owner their digest with its chart — on Telegram (PTB over HTTP against
the loopback fake Bot API) and on Discord (discord.py through dpytest)."""

from __future__ import annotations

from datetime import UTC, datetime

import discord.ext.test as dpytest

from bot.bootstrap import App
from bot.handlers import digest
from bot.scheduler import Scheduler
from engine.digest.owners import add_owner
from engine.events import Platform
from engine.members.lookup import community_id_of, member_of_account
from tests.discord.conftest import Env, env  # noqa: F401  (fixture)
from tests.fakes.telegram_api import FakeTelegram
from tests.members.fakes import FakeMessenger, msg
from tests.notify.test_scheduled_notifications import until
from tests.telegram.conftest import GROUP, AdapterFactory, fake, make_adapter  # noqa: F401  (fixtures)


async def test_the_weekly_digest_reaches_owners_on_telegram_and_discord_with_its_chart(
        app: App, fake: FakeTelegram, make_adapter: AdapterFactory, env: Env) -> None:  # noqa: F811
    tg_group = str(GROUP)
    now = datetime.now(UTC)
    for uid, text in (("1001", "How do I read a CSV file?"), ("1002", "use the csv module")):
        await app.dispatch(msg(uid, text, platform=Platform.TELEGRAM, community=tg_group),
                           FakeMessenger())
    await dpytest.message("Where are the slides?", member=env.alice)
    await env.settle()
    await dpytest.empty_queue()

    async def ids(platform: Platform, community: str, user: str) -> tuple[int, int]:
        def read(s: object) -> tuple[int, int]:
            cid = community_id_of(s, str(platform), community)  # type: ignore[arg-type]
            mid = member_of_account(s, str(platform), user)  # type: ignore[arg-type]
            assert cid is not None and mid is not None
            return cid, mid
        return await app.store.read(read)

    tg_cid, tg_owner = await ids(Platform.TELEGRAM, tg_group, "1001")
    dc_cid, dc_owner = await ids(Platform.DISCORD, str(env.guild.id), str(env.alice.id))
    await app.store.write(lambda s: (add_owner(s, tg_cid, tg_owner, by=None, at=now),
                                     add_owner(s, dc_cid, dc_owner, by=None, at=now)))
    adapter = await make_adapter()
    app.notifier.attach(adapter.messenger)
    app.notifier.attach(env.adapter.messenger)
    scheduler = Scheduler(app.store, deps=app.deps)
    (spec,) = digest.module(app.settings).jobs
    scheduler.add(spec)
    await scheduler.start()
    try:
        jobs = sorted(j for j in scheduler.next_runs() if j.startswith(spec.name))
        assert len(jobs) == 2  # one per group community
        for job_id in jobs:
            assert scheduler.run_soon(job_id)

        async def telegram_done() -> bool:
            return len(fake.delivered_to(1001)) >= 2

        await until(telegram_done, timeout=60)
        delivered = fake.delivered_to(1001)
        assert any("photo" in m for m in delivered)
        assert any("weekly digest" in m.get("text", "") for m in delivered)
        assert fake.delivered_to(1002) == []  # not an owner

        async def discord_done() -> bool:
            await env.settle()
            return dpytest.sent_queue.qsize() >= 1

        await until(discord_done, timeout=60)
        dms = []
        while not dpytest.sent_queue.empty():
            dms.append(dpytest.sent_queue.get_nowait())
        alice_dm = await env.alice.create_dm()
        assert all(m.channel.id == alice_dm.id for m in dms)
        assert any(a.filename == "digest.png" for m in dms for a in m.attachments)
        assert any("weekly digest" in m.content for m in dms)
    finally:
        await scheduler.stop()
