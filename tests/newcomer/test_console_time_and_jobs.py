"""Scheduled work in the console: ``/time`` moves the console's clock, ``/jobs run NAME``
fires a job now at that time, through the scheduler's own run (once per local day) and the
Notifier (DMs shown in the terminal). The nudge walk-through a course owner would try:
preview, a run, a second run the same day, a week later, the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter, ConsoleClock, ConsoleState
from bot.bootstrap import App
from bot.console_jobs import SchedulerJobs
from bot.notifier import NotifierOptions
from bot.ports import Role
from bot.roles import RoleResolver
from engine.churn.scores import MemberRisk, Reason, store_scores
from engine.members.lookup import community_id_of, member_of_account
from engine.store.models import Message

T0 = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # a Monday, 11:00 UTC
MEMBERS = [f"m{i}" for i in range(10)]


def console(app: App, out: list[str], start: datetime = T0) -> ConsoleAdapter:
    state = ConsoleState(community="cc", user="owner", clock=ConsoleClock(real=lambda: start))
    state.roles["owner"] = Role.OWNER
    app.clock = state.clock  # as `cohort console` does
    app.notifier.options = NotifierOptions(pace={}, retry_delay=0.0)
    adapter = ConsoleAdapter(app.dispatch, state, write=out.append, jobs=SchedulerJobs(app),
                             role_lookup=RoleResolver(app.store, app.settings.owner_ids))
    app.notifier.attach(adapter.messenger)
    return adapter


def said(out: list[str], since: int) -> str:
    return "\n".join(out[since:])


async def test_time_moves_forward_only_and_says_how(app: App) -> None:
    out: list[str] = []
    c = console(app, out)
    await c.handle_line("/time")
    assert out[-1] == "  · console time: 2026-03-02 11:00 UTC"
    await c.handle_line("/time +3d")
    assert "2026-03-05 11:00 UTC" in out[-1]
    await c.handle_line("/time 2026-03-09T10:00")
    assert "2026-03-09 10:00 UTC" in out[-1]
    assert c.state.clock() == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    for bad, reason in [("2026-03-01", "only moves forward"), ("+²d", "digits 0-9"), ("+-5m", "can't be negative"),
                        ("+999y", "unknown"), ("soon", "is not a time"), ("9" * 5000, "is not a time"),
                        ("+0m", "from 1m to 366d")]:
        await c.handle_line(f"/time {bad}")
        assert reason in out[-1] and len(out[-1]) < 300, (bad, out[-1])
    assert c.state.clock() == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # nothing moved it
    await c.handle_line("hello at the new time")
    posted = await app.store.read(lambda s: s.execute(select(Message.posted_at)).scalars().all())
    assert posted == [datetime(2026, 3, 9, 10, 0, tzinfo=UTC)]  # stamped with the console's time


async def test_jobs_lists_the_schedulers_jobs_and_refuses_unknown_ones(app: App) -> None:
    out: list[str] = []
    c = console(app, out)
    await c.handle_line("/jobs")
    listing = said(out, 0)
    assert "nudge.daily — nudge members at churn risk" in listing and "per community" in listing
    assert "digest.weekly" in listing and "/config nudge.local_hour" in listing
    await c.handle_line("/jobs run nope")
    assert out[-1] == "  · there is no job 'nope'; /jobs lists them"
    await c.handle_line("/jobs run nudge.daily")
    assert "cc is not stored yet" in out[-1]
    await c.handle_line("/jobs frobnicate")
    assert out[-1] == "  · usage: /jobs · /jobs run NAME"


async def test_a_nudge_campaign_walked_through_in_the_console(app: App) -> None:
    out: list[str] = []
    start = T0 - timedelta(days=20)
    c = console(app, out, start)
    for user in ["owner", *MEMBERS]:  # twenty days ago everyone was active...
        await c.handle_line(f"/as {user}")
        await c.handle_line(f"hello, I am {user} and I am learning asyncio")
    await c.handle_line("/as owner")
    await c.handle_line("/time 2026-03-02T11:00")  # ...now they have been quiet for twenty days
    cid = await app.store.read(lambda s: community_id_of(s, "console", "cc"))
    assert cid is not None
    ids = {u: await app.store.read(lambda s, u=u: member_of_account(s, "console", u)) for u in MEMBERS}  # type: ignore[misc]
    reason = Reason("recency", "no activity for 20 days", "20 天没有活动", 0.4)
    # what the daily churn scoring (a child process: /jobs run churn-daily-scoring) stores
    await app.store.write(lambda s: store_scores(
        s, cid, T0.date(), "test", [MemberRisk(int(m), 0.9, (reason,), T0.date(), start) for m in ids.values()]))
    for line in ("/nudge on", "/config nudge.quiet_hours none"):
        await c.handle_line(line)
    mark = len(out)
    await c.handle_line("/nudge preview @m3")
    assert "/nudges off" in said(out, mark) and "(DM to" not in said(out, mark)  # shown, not sent

    mark = len(out)
    await c.handle_line("/jobs run nudge.daily")
    run = said(out, mark)
    assert "nudge.daily ran at 2026-03-02 11:00 UTC" in run
    dms = [line for line in out[mark:] if "(DM to" in line]
    assert 6 <= len(dms) <= 9  # 10 flagged, 20 % drawn into the control group (at least one)
    assert len({d.split("(DM to ")[1].split(")")[0] for d in dms}) == len(dms)  # one each

    mark = len(out)
    await c.handle_line("/jobs run nudge.daily")  # the same local day: the scheduler's once-a-day rule
    assert "did not run: it already ran" in said(out, mark) and "(DM to" not in said(out, mark)

    nudged = [d.split("(DM to ")[1].split(")")[0] for d in dms]
    await c.handle_line("/time +3d")  # three days on, two of the nudged came back...
    for user in nudged[:2]:
        await c.handle_line(f"/as {user}")
        await c.handle_line("back again, sorry for the silence")
    await c.handle_line("/as owner")
    await c.handle_line("/time +5d")  # ...and the seven days of the outcome window are over
    mark = len(out)
    await c.handle_line("/nudge report")
    report = said(out, mark)
    assert f"returned within 7 days {200 / len(nudged):.1f}% of {len(nudged)} nudged" in report, report
    assert f"0.0% of {10 - len(nudged)} in control" in report, report
