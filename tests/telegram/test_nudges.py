"""A nudge campaign through the real PTB adapter against the fake Bot API enforcing
Telegram's send limits: each treated member DMed once, the control group never, a member
who blocked the bot (403) recorded unreachable and not retried, no 429."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from bot.bootstrap import App
from bot.notifier import NotifierOptions, OutboxNotifier
from bot.nudges.service import NudgeService
from engine.churn.scores import MemberRisk, latest_risks, store_scores
from engine.nudge.campaign import store_nudge_settings
from engine.nudge.tables import NudgeAssignment
from engine.store.models import Account
from tests.fakes.telegram_api import FakeTelegram, SendLimits
from tests.members.fakes import T0, FakeMessenger, msg
from tests.notify.helpers import community_id

GROUP = "-1001234567890"
USERS = [str(2000 + i) for i in range(15)]


async def test_a_campaign_through_ptb_paced_under_the_limits(app: App, fake: FakeTelegram, make_adapter) -> None:  # type: ignore[no-untyped-def]
    fake.limits = SendLimits(per_second=30, per_chat_interval=1.0)
    adapter = await make_adapter()
    recorder = FakeMessenger()
    for user in USERS:
        await app.dispatch(msg(user, "hi", community=GROUP, minutes=-60 * 24 * 20), recorder)
    cid = await community_id(app, adapter.messenger.platform, GROUP)
    ids = dict(await app.store.read(lambda s: s.execute(select(Account.external_id, Account.member_id)).all()))
    await app.store.write(lambda s: store_scores(s, cid, T0.date(), "test", [
        MemberRisk(m, 0.8, (), T0.date(), T0 - timedelta(days=20)) for m in ids.values()]))
    await app.store.write(lambda s: store_nudge_settings(s, cid, {"enabled": True}))
    notifier = OutboxNotifier(app.store, NotifierOptions(pace={"telegram": 1 / 29.5}, retry_delay=0.0))
    notifier.attach(adapter.messenger)
    nudges = NudgeService(app.store, notifier, risks=latest_risks, recommender=None, clock=lambda: T0)
    plan = await nudges.plan(cid, now=T0, dry_run=True)
    treated_ext = {e for e, m in ids.items() if m in {p.member_id for p in plan.treated}}
    blocked = sorted(treated_ext)[0]
    fake.blocked = {int(blocked)}
    result = await nudges.run(cid, now=T0)
    received = Counter(str(c.params["chat_id"]) for c in fake.accepted_sends)
    assert received == Counter({e: 1 for e in treated_ext - {blocked}})
    assert fake.too_many == []
    assert result.deliveries == {"sent": len(treated_ext) - 1, "unreachable": 1}
    text = fake.accepted_sends[0].params["text"]
    assert "/nudges off" in text
    rows = await app.store.read(lambda s: {a.member_id: a.delivery for a in s.scalars(select(NudgeAssignment))})
    assert rows[ids[blocked]] == "unreachable"
    reachable = await app.store.read(lambda s: s.execute(
        select(Account.dm_reachable).where(Account.external_id == blocked)).scalar_one())
    assert reachable is False
    again = await nudges.run(cid, now=T0 + timedelta(hours=1))
    assert again.plan.status == "exists" and sum(received.values()) == len(fake.accepted_sends)
