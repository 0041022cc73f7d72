"""Nudges end to end through the real router, store, outbox Notifier and commands (a
recording messenger of Cohort's own port; the PTB path is in the benchmark and
test_telegram_nudges)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.notifier import NotifierOptions, OutboxNotifier
from bot.notify import Delivery, Notification
from bot.nudges.service import NudgeService
from bot.ports import Role
from engine.churn.scores import MemberRisk, Reason, latest_risks, store_scores
from engine.events import Platform
from engine.members.lookup import member_of_account
from engine.nudge.campaign import opted_out
from engine.nudge.tables import NudgeAssignment
from tests.members.fakes import T0, FakeMessenger, click, cmd, msg
from tests.notify.helpers import community_id
from tests.nudge.test_message import FixedRecommender

USERS = [f"u{i}" for i in range(30)]
REASON = Reason("recency", "no activity for 3 weeks", "3 周没有活动", 0.4)


@pytest.fixture
def tg() -> FakeMessenger:
    return FakeMessenger(Platform.TELEGRAM, roles={"boss": Role.ADMIN, "mod": Role.MODERATOR})


def notifier_for(app: App, *messengers: FakeMessenger) -> OutboxNotifier:
    notifier = OutboxNotifier(app.store, NotifierOptions(pace={}, retry_delay=0.0))
    for m in messengers:
        notifier.attach(m)
    return notifier


async def _community(app: App, tg: FakeMessenger) -> tuple[int, dict[str, int]]:
    for user in ["boss", "mod", *USERS]:
        await app.dispatch(msg(user, f"hello from {user}", minutes=-60 * 24 * 20), tg)
    cid = await community_id(app, Platform.TELEGRAM, "tg-group")
    ids = {}
    for user in USERS:
        mid = await app.store.read(lambda s, u=user: member_of_account(s, "telegram", u))  # type: ignore[misc]
        assert mid is not None
        ids[user] = mid
    risks = [MemberRisk(m, 0.9 - i * 0.001, (REASON,), T0.date(), T0 - timedelta(days=20))
             for i, m in enumerate(ids.values())]
    await app.store.write(lambda s: store_scores(s, cid, T0.date(), "test", risks))
    await app.dispatch(cmd("boss", "nudge", "on"), tg)
    assert "Nudges are on" in tg.last_reply("boss")
    return cid, ids


def service(app: App, notifier: object) -> NudgeService:
    return NudgeService(app.store, notifier, risks=latest_risks, recommender=FixedRecommender(),  # type: ignore[arg-type]
                        clock=lambda: T0)


async def _assignments(app: App) -> list[NudgeAssignment]:
    return await app.store.read(lambda s: list(s.scalars(select(NudgeAssignment))))


async def test_a_daily_run_nudges_the_treated_once_and_never_the_control(app: App, tg: FakeMessenger) -> None:
    cid, ids = await _community(app, tg)
    nudges = service(app, notifier_for(app, tg))
    result = await nudges.run(cid, now=T0)
    assert result.plan.status == "planned"
    treated = {m.member_id for m in result.plan.treated}
    control = {m.member_id for m in result.plan.control}
    assert len(control) == 6 and len(treated) == 24
    by_user = {v: k for k, v in ids.items()}
    dms = Counter(o.to for o in tg.of("dm"))
    assert dms == Counter({by_user[m]: 1 for m in treated})
    text = tg.of("dm")[0].text
    assert "/nudges off" in text and "Asyncio basics" in text
    assert all(a.delivery == "sent" for a in await _assignments(app) if a.arm == "treated")
    # a second run the same day (a restart, a second firing) sends nothing more
    again = await nudges.run(cid, now=T0 + timedelta(hours=2))
    assert again.plan.status == "exists" and again.deliveries == {}
    assert len(tg.of("dm")) == len(treated)


async def test_closed_dms_mid_campaign_are_unreachable_listed_and_not_retried(app: App, tg: FakeMessenger) -> None:
    cid, ids = await _community(app, tg)
    tg.unreachable = {"u3", "u4"}
    nudges = service(app, notifier_for(app, tg))
    result = await nudges.run(cid, now=T0)
    treated_users = {u for u, m in ids.items() if m in {p.member_id for p in result.plan.treated}}
    closed = treated_users & {"u3", "u4"}
    assert result.deliveries.get("unreachable", 0) == len(closed)
    await app.dispatch(cmd("mod", "nudge", "unreachable"), tg)
    listing = tg.last_reply("mod")
    for user in closed:
        assert user.title() in listing
    # the next run (after the cooldown) skips them as unreachable instead of trying again
    await nudges.run(cid, now=T0 + timedelta(days=15))
    assert not [o for o in tg.of("dm") if o.to in closed]


class Killed(Exception):
    """The process "dies": nothing after this point runs."""


class DyingNotifier:
    """Delivers the first ``alive`` notifications, then the process "dies" mid-campaign."""

    def __init__(self, inner: OutboxNotifier, alive: int) -> None:
        self.inner = inner
        self.alive = alive

    async def notify(self, notification: Notification) -> Delivery:
        raise AssertionError("campaigns use notify_all")

    async def notify_all(self, notifications: list[Notification]) -> list[Delivery]:
        if self.alive <= 0:
            raise Killed()
        take = notifications[: self.alive]
        self.alive -= len(take)
        results = await self.inner.notify_all(take)
        if len(take) < len(notifications):
            raise Killed()
        return results


async def test_a_crash_mid_campaign_resumes_with_no_duplicate_and_no_loss(app: App, tg: FakeMessenger) -> None:
    cid, _ = await _community(app, tg)
    first = NudgeService(app.store, DyingNotifier(notifier_for(app, tg), alive=7), risks=latest_risks,  # type: ignore[arg-type]
                         recommender=FixedRecommender(), clock=lambda: T0, chunk=5)
    with pytest.raises(Killed):
        await first.run(cid, now=T0)
    assert 0 < len(tg.of("dm")) < 24
    restarted = service(app, notifier_for(app, tg))
    assert await restarted.resume() == 1
    dms = Counter(o.to for o in tg.of("dm"))
    assert len(dms) == 24 and set(dms.values()) == {1}
    assert all(a.delivery == "sent" for a in await _assignments(app) if a.arm == "treated")


async def test_commands_roles_refusals_preview_report_and_opt_out(app: App, tg: FakeMessenger) -> None:
    _cid, ids = await _community(app, tg)
    await app.dispatch(cmd("u1", "nudge", "report"), tg)
    assert "for moderators" in tg.last_reply("u1")
    await app.dispatch(cmd("mod", "nudge", "off"), tg)
    assert "for admins" in tg.last_reply("mod")
    # The policy is changed through /config, the settings mechanism every capability uses.
    for key, value, why in (("threshold", "2", "strictly between 0 and 1"), ("threshold", "-1", "strictly between 0 and 1"),
                            ("threshold", "²", "must be a number"), ("daily_cap", "²", "must be a number"),
                            ("control_fraction", "0", "without a control group"),
                            ("control_fraction", "1", "nobody is nudged")):
        await app.dispatch(cmd("boss", "config", f"nudge.{key}", value), tg)
        assert f"nudge.{key} not changed" in tg.last_reply("boss") and why in tg.last_reply("boss")
    await app.dispatch(cmd("mod", "config", "nudge.daily_cap", "10"), tg)
    assert "for admins" in tg.last_reply("mod")
    await app.dispatch(cmd("boss", "config", "nudge.cap", "10"), tg)
    assert "Settings you can change" in tg.last_reply("boss") and "nudge.daily_cap" in tg.last_reply("boss")
    await app.dispatch(cmd("boss", "config", "nudge.daily_cap", "10"), tg)
    assert tg.last_reply("boss") == "nudge.daily_cap is now 10."
    await app.dispatch(cmd("boss", "config", "nudge.local_hour", "23"), tg)
    await app.dispatch(cmd("mod", "nudge"), tg)
    status = tg.last_reply("mod")
    assert "at most 10 a day" in status and "falls inside the quiet hours" in status
    await app.dispatch(cmd("boss", "config", "nudge.local_hour", "10:00"), tg)
    await app.dispatch(cmd("boss", "nudge", "set", "daily_cap", "5"), tg)
    assert "/config nudge.KEY VALUE" in tg.last_reply("boss")
    await app.dispatch(cmd("mod", "nudge"), tg)
    assert "at most 10 a day" in tg.last_reply("mod") and "quiet hours, so" not in tg.last_reply("mod")
    await app.dispatch(cmd("mod", "nudge", "preview", "@u2"), tg)
    preview = tg.last_reply("mod")
    assert "Preview for" in preview and "nothing sent" in preview and "/nudges off" in preview
    assert tg.of("dm") == []
    await app.dispatch(cmd("mod", "nudge", "preview", "@nobody"), tg)
    assert "I don't know @nobody" in tg.last_reply("mod")
    await app.dispatch(cmd("mod", "nudge", "report"), tg)
    assert "No campaign has finished" in tg.last_reply("mod")
    await app.dispatch(cmd("u5", "nudges", "off"), tg)
    assert "won't send you nudges" in tg.last_reply("u5")
    assert await app.store.read(lambda s: opted_out(s, [ids["u5"]])) == {ids["u5"]}
    await app.dispatch(cmd("u5", "nudges", "maybe"), tg)
    assert "Usage" in tg.last_reply("u5")
    await app.dispatch(cmd("mod", "nudge", "bogus"), tg)
    assert "Usage" in tg.last_reply("mod")


async def test_the_stop_button_opts_out_and_confirms(app: App, tg: FakeMessenger) -> None:
    cid, ids = await _community(app, tg)
    nudges = service(app, notifier_for(app, tg))
    result = await nudges.run(cid, now=T0)
    first = result.plan.treated[0]
    user = next(u for u, m in ids.items() if m == first.member_id)
    stop = next(b for b in tg.of("dm", user)[0].buttons if b.data.endswith(":stop"))
    await app.dispatch(click(user, stop.data), tg)
    assert "no more nudges" in tg.last_reply(user)
    assert await app.store.read(lambda s: opted_out(s, [first.member_id])) == {first.member_id}
    other = next(u for u in USERS if u != user)
    await app.dispatch(click(other, stop.data), tg)  # someone else's button does nothing
    assert await app.store.read(lambda s: opted_out(s, [ids[other]])) == set()


async def test_the_per_community_job_runs_the_campaign_once_per_local_day(app: App, tg: FakeMessenger) -> None:
    from bot.bootstrap import build_scheduler
    cid, _ = await _community(app, tg)
    app.notifier.attach(tg)
    app.notifier.options = NotifierOptions(pace={}, retry_delay=0.0)
    scheduler = build_scheduler(app)
    assert "nudge.daily" in scheduler.specs and scheduler.specs["nudge.daily"].per_community
    assert await scheduler.run("nudge.daily", cid, T0)
    sent = len(tg.of("dm"))
    assert sent == 24
    assert not await scheduler.run("nudge.daily", cid, T0 + timedelta(minutes=30))  # same local day
    assert len(tg.of("dm")) == sent
    await app.dispatch(cmd("mod", "nudge", "report"), tg)
    assert "window open" in tg.last_reply("mod")


async def test_config_nudge_local_hour_moves_the_daily_job_in_the_community_zone(app: App, tg: FakeMessenger) -> None:
    from bot.bootstrap import build_scheduler
    from engine.store.community_settings import group_communities
    cid, _ = await _community(app, tg)
    await app.dispatch(cmd("boss", "config", "timezone", "Asia/Shanghai"), tg)
    await app.dispatch(cmd("boss", "config", "nudge.local_hour", "9"), tg)
    assert tg.last_reply("boss") == "nudge.local_hour is now 09:00."
    scheduler = build_scheduler(app)
    planned = scheduler.plan(await app.store.read(group_communities))
    job = next(p for p in planned.values() if p.spec.name == "nudge.daily" and p.community_id == cid)
    fire = job.trigger.get_next_fire_time(None, T0)
    assert (fire.hour, fire.minute, str(fire.tzinfo)) == (9, 0, "Asia/Shanghai")



async def test_a_chinese_community_gets_every_nudge_reply_in_chinese(app: App, tg: FakeMessenger) -> None:
    cid, ids = await _community(app, tg)
    await app.dispatch(cmd("mod", "config", "language", "zh"), tg)
    await app.dispatch(cmd("mod", "nudge"), tg)
    assert tg.last_reply("mod").startswith("提醒：开启\n") and "流失风险 ≥ 0.5" in tg.last_reply("mod")
    await app.dispatch(cmd("mod", "nudge", "off"), tg)
    assert tg.last_reply("mod") == "/nudge off 仅限管理员及以上使用。"
    await app.dispatch(cmd("mod", "nudge", "preview"), tg)
    assert tg.last_reply("mod") == "用法：/nudge preview @成员"
    await app.dispatch(cmd("mod", "nudge", "preview", "@u3"), tg)
    assert "的预览（可以提醒；未发送）" in tg.last_reply("mod") and "想你了" in tg.last_reply("mod")
    await app.dispatch(cmd("mod", "nudge", "unreachable"), tg)
    assert tg.last_reply("mod") == "最近 30 天没有发送失败的提醒。"
    await app.dispatch(cmd("u4", "nudges", "off"), tg)
    assert tg.last_reply("u4").startswith("好的：我不会再给你发提醒了")
    await app.dispatch(cmd("mod", "nudge", "preview", "@u4"), tg)
    assert "今天会被跳过：已退订" in tg.last_reply("mod")
    result = await service(app, notifier_for(app, tg)).run(cid, now=T0)
    user = next(u for u, m in ids.items() if m == result.plan.treated[0].member_id)
    stop = next(b for b in tg.of("dm", user)[0].buttons if b.data.endswith(":stop"))
    await app.dispatch(click(user, stop.data), tg)
    assert tg.last_reply(user) == "好的——不再给你发提醒。随时发送 /nudges on 即可恢复。"
