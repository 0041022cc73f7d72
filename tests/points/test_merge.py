"""Linking two accounts that both earned points leaves one member with the sum."""

from __future__ import annotations

from sqlalchemy import select

from bot.bootstrap import App
from engine.members.linking import merge_members
from engine.points.tables import PointsMember
from engine.store.models import Account
from tests.doubles.events import message, reply
from tests.doubles.messenger import RecordingMessenger


async def test_merged_balance_is_the_sum_of_both_ledgers(app: App) -> None:
    m = RecordingMessenger()
    q1 = message("asker", "how do I use asyncio gather properly?", minutes=0)
    q2 = message("asker", "and how do I cancel the tasks afterwards?", minutes=5)
    await app.dispatch(q1, m)
    await app.dispatch(q2, m)
    await app.dispatch(reply("helper_a", q1, "use asyncio.gather(*tasks) and await it", minutes=2), m)
    await app.dispatch(reply("helper_b", q2, "call task.cancel() then await the task", minutes=7), m)

    def totals(s):
        ids = dict(s.execute(select(Account.external_id, Account.member_id)).all())
        rows = dict(s.execute(select(PointsMember.member_id, PointsMember.total)).all())
        return ids, rows

    ids, before = app.store.read_sync(totals)
    a, b = ids["helper_a"], ids["helper_b"]
    assert before[a] > 0 and before[b] > 0

    def merge(s):
        merge_members(s, a, b, app.privacy_hooks)
        app.store.recorder.cache.clear()

    await app.store.write(merge)
    _, after = app.store.read_sync(totals)
    assert after[a] == before[a] + before[b]
    assert b not in after
