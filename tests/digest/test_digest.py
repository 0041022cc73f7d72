"""The digest end to end on small synthetic logs stored through the real router and store:
KPIs, renderers, bad input, /owner, /digest, weekly delivery and ``cohort digest``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.bootstrap import App
from bot.handlers.digest import deliver_digest, make_digest
from bot.notify import Delivery
from bot.ports import NotReachable, Role
from engine.digest.build import PeriodError, build_digest, period_ending, record_segments
from engine.digest.chart import render_chart
from engine.digest.owners import add_owner
from engine.digest.render import render_html, render_json, render_markdown, render_markup
from engine.events import MemberJoined, MemberLeft, MessagePosted, Platform
from engine.members.lookup import member_of_account
from engine.store.models import Account, Community
from tests.doubles.events import base, command, message, react, reply
from tests.doubles.messenger import RecordingMessenger
from tests.notify.helpers import ScriptedMessenger

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # tests.doubles.events.T0
NOW = T0 + timedelta(days=6)
TG = Platform.TELEGRAM


def _at(days: float) -> float:
    return days * 24 * 60  # minutes for the event factories


async def _store(app: App, *events: object) -> None:
    messenger = RecordingMessenger(platform=TG)
    for ev in events:
        await app.dispatch(ev, messenger)  # type: ignore[arg-type]


async def _cid(app: App, ext: str = "g1") -> int:
    return int(await app.store.read(lambda s: s.scalar(select(Community.id).where(Community.external_id == ext))))


async def _member(app: App, user: str) -> int:
    mid = await app.store.read(lambda s: member_of_account(s, "telegram", user))
    assert mid is not None
    return int(mid)


async def _small_community(app: App) -> None:
    kw = {"platform": TG}
    q1 = message("ann", "How do I read a CSV file?", minutes=_at(1), **kw)
    q2 = message("bob", "为什么我的循环这么慢？", minutes=_at(2), **kw)
    q3 = message("cat", "Where are the slides for lesson 3?", minutes=_at(3), **kw)
    await _store(
        app,
        MemberJoined(**base("dan", minutes=_at(0.5), **kw)),
        q1, reply("bob", q1, "use the csv module, csv.reader", minutes=_at(1) + 30, **kw),
        q2, reply("ann", q2, "用集合代替列表查找", minutes=_at(2) + 90, **kw),
        q3,  # never answered
        react("cat", q1, **kw), react("ann", q2, "🔥", **kw),
        message("dan", "hi all, glad to be here", minutes=_at(4), **kw),
        MemberLeft(**base("eve", minutes=_at(4.5), **kw)),
    )


async def test_kpis_sections_and_every_format(app: App, tmp_path: Path) -> None:
    await _small_community(app)
    cid = await _cid(app)
    d = await app.store.read(lambda s: make_digest(s, cid, "week", NOW, app.settings))
    k = d.kpis
    assert (k.messages, k.replies, k.questions, k.joined, k.left) == (6, 2, 3, 1, 1)
    assert k.median_first_reply_minutes == 60.0  # 30 and 90 minutes
    assert d.previous.messages == 0
    assert [q.post.text for q in d.unanswered] == ["Where are the slides for lesson 3?"]
    assert {r.name for r in d.social.influencers} >= {"Ann", "Bob"}
    md = render_markdown(d)
    assert "| Messages | 6 | 0 | new |" in md and "Where are the slides" in md
    # no churn scores stored here: the section degrades to one line (either way)
    assert ("Churn scoring has not run yet" if d.at_risk is None else "Nobody is at high risk") in md
    data = json.loads(render_json(d))
    assert data["kpis"]["messages"] == 6 and data["influencers"][0]["score"] > 0
    assert {"segments", "topics", "unanswered", "previous_kpis", "days"} <= data.keys()
    assert len(data["days"]) == 7 and sum(x["messages"] for x in data["days"]) == 6
    assert "<table>" in render_html(d) and "<b>" in render_markup(d)
    png = render_chart(d)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


async def test_chinese_community_gets_a_chinese_digest(app: App) -> None:
    await _small_community(app)
    cid = await _cid(app)
    await app.store.write(lambda s: s.execute(update(Community).where(Community.id == cid).values(
        settings={"language": "zh", "timezone": "Asia/Shanghai"})))
    d = await app.store.read(lambda s: make_digest(s, cid, "week", NOW, app.settings))
    md = render_markdown(d)
    assert "每周报告" in md and "社区健康" in md and "Asia/Shanghai" in md
    assert render_chart(d)[:4] == b"\x89PNG"


@pytest.mark.parametrize("case", ["no_messages", "one_member", "only_bots", "only_emoji", "empty_window",
                                  "bad_timezone"])
async def test_bad_input_gives_a_short_digest(app: App, case: str) -> None:
    kw = {"platform": TG}
    if case == "no_messages":
        await _store(app, MemberJoined(**base("ann", minutes=_at(1), **kw)))
    elif case == "one_member":
        await _store(app, message("ann", "hello? anyone?", minutes=_at(1), **kw))
    elif case == "only_bots":
        await _store(app, *[MessagePosted(**base("robot", minutes=_at(1) + i, **kw), message_id=f"b{i}",
                                          text="Daily reminder: post your homework", is_bot=True) for i in range(5)])
    elif case == "only_emoji":
        await _store(app, *[message(u, "👍🔥", minutes=_at(1) + i, **kw) for i, u in enumerate(["ann", "bob"] * 5)])
    elif case in ("empty_window", "bad_timezone"):
        await _store(app, message("ann", "How do I start?", minutes=-_at(60), **kw))
    cid = await _cid(app)
    if case == "bad_timezone":  # a hand-edited row: the digest falls back to UTC instead of failing
        await app.store.write(lambda s: s.execute(update(Community).where(Community.id == cid).values(
            settings={"timezone": "Mars/Olympus_Mons"})))
    d = await app.store.read(lambda s: make_digest(s, cid, "week", NOW, app.settings))
    md, data = render_markdown(d), json.loads(render_json(d))
    assert render_chart(d)[:4] == b"\x89PNG" and "<b>" in render_markup(d)
    if case == "only_bots":
        assert d.kpis.messages == 0 and d.kpis.members == 0 and "No activity in this period" in md
    if case == "only_emoji":
        assert d.kpis.messages == 10 and data["topics"]["topics"] == []
        assert "Too little text" in md
    if case in ("empty_window", "bad_timezone"):
        assert d.empty and "No activity in this period" in md and d.timezone == "UTC"
    if case == "one_member":
        assert d.kpis.members == 1 and "Nobody replied to, mentioned or reacted" in md


def test_periods() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    p = period_ending("week", datetime(2026, 3, 2, 3, 30, tzinfo=UTC), tz, whole_days=True)
    assert p.end == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # local midnight of 2 March
    assert p.end - p.start == timedelta(days=7) and p.previous.end == p.start
    today = period_ending("Month", datetime(2026, 3, 2, 3, 30, tzinfo=UTC), tz)  # 11:30 in Shanghai
    assert today.start == datetime(2026, 1, 31, 16, 0, tzinfo=UTC) and today.end.hour == 3
    for bad in ("year", "", "week²"):
        with pytest.raises(PeriodError, match="week or month"):
            period_ending(bad, NOW, tz)


async def test_segment_movement_since_the_last_snapshot(app: App) -> None:
    await _small_community(app)
    cid = await _cid(app)
    first = await app.store.read(lambda s: make_digest(s, cid, "week", NOW, app.settings))
    assert first.segment_moves is None
    await app.store.write(lambda s: record_segments(s, first))
    later = NOW + timedelta(days=7)
    await _store(app, message("fay", "hello everyone, new here", minutes=_at(8), platform=TG))
    second = await app.store.read(lambda s: make_digest(s, cid, "week", later, app.settings))
    assert second.segment_moves is not None
    assert ("new", second.segments.labels[await _member(app, "fay")], 1) in second.segment_moves


async def _commands_setup(app: App) -> RecordingMessenger:
    await _small_community(app)
    app.clock = lambda: NOW
    return RecordingMessenger(platform=TG, roles={"ann": Role.ADMIN, "bob": Role.MODERATOR})


async def test_digest_command_is_for_owners_and_admins(app: App) -> None:
    m = await _commands_setup(app)
    await app.dispatch(command("bob", "digest", platform=TG), m)
    assert m.replies_to("bob")[-1] == "The digest is for the community's owners and admins."
    await app.dispatch(command("ann", "digest", "year", platform=TG), m)
    assert "week or a month, not year" in m.replies_to("ann")[-1]
    await app.dispatch(command("ann", "digest", platform=TG), m)
    assert "weekly digest" in m.replies_to("ann")[-1]
    assert m.said[-1].kind == "picture" and m.said[-1].data[:4] == b"\x89PNG"
    await app.dispatch(command("ann", "owner", "add", "@cat", platform=TG), m)
    assert "now receives the weekly digest" in m.replies_to("ann")[-1]
    await app.dispatch(command("cat", "digest", "month", platform=TG), m)  # an owner, not an admin
    assert "monthly digest" in m.replies_to("cat")[-1]
    await app.dispatch(command("ann", "owner", "list", platform=TG), m)
    assert "Cat" in m.replies_to("ann")[-1]
    await app.dispatch(command("bob", "owner", "add", "@bob", platform=TG), m)
    assert "for admins and above" in m.replies_to("bob")[-1]
    await app.dispatch(command("ann", "owner", "remove", "@cat", platform=TG), m)
    assert "no longer receives" in m.replies_to("ann")[-1]
    await app.dispatch(command("ann", "owner", "add", "@ann", platform=TG), m)  # an admin may receive it
    assert "now receives the weekly digest" in m.replies_to("ann")[-1]
    await app.dispatch(command("ann", "owner", "add", "@nobody", platform=TG), m)
    assert "I don't know @nobody" in m.replies_to("ann")[-1]
    await app.dispatch(command("ann", "owner", "frobnicate", platform=TG), m)
    assert "Usage: /owner add" in m.replies_to("ann")[-1]


async def test_weekly_delivery_dms_owners_with_the_chart_and_reports_problems_once(app: App) -> None:
    await _small_community(app)
    cid = await _cid(app)
    ann, bob, cat = [await _member(app, u) for u in ("ann", "bob", "cat")]
    await _store(app, MemberLeft(**base("dan", minutes=_at(5), platform=TG)))
    dan = await _member(app, "dan")

    def owners(s: object) -> None:
        for m in (bob, cat, dan):
            add_owner(s, cid, m, by=ann, at=NOW)  # type: ignore[arg-type]

    await app.store.write(owners)
    messenger = ScriptedMessenger(platform=TG)
    messenger.fail("cat", NotReachable("cat", "bot blocked"))
    app.notifier.attach(messenger)  # type: ignore[arg-type]
    result = await deliver_digest(cid, app.store, app.notifier, app.settings, NOW)
    assert result == {bob: Delivery.SENT, cat: Delivery.UNREACHABLE}
    assert ("picture", "bob", "digest.png", ()) in messenger.sent
    assert any("weekly digest" in t for t in messenger.dms_to("bob"))
    to_ann = messenger.dms_to("ann")
    assert len(to_ann) == 2 and any("Cat" in t and "cannot be messaged" in t for t in to_ann)
    assert any("Dan" in t and "has left" in t for t in to_ann)
    # next week: bob gets a new digest, ann hears nothing more about cat or dan
    await deliver_digest(cid, app.store, app.notifier, app.settings, NOW + timedelta(days=7))
    assert len(messenger.dms_to("ann")) == 2
    assert sum("weekly digest" in t for t in messenger.dms_to("bob")) == 2
    # the same week again (a re-run): the notifier's key stops a second copy
    await deliver_digest(cid, app.store, app.notifier, app.settings, NOW + timedelta(days=7, hours=1))
    assert sum("weekly digest" in t for t in messenger.dms_to("bob")) == 2


def test_cohort_digest_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from bot import cli
    from bot.bootstrap import build_app
    from bot.settings import load_settings
    from engine.store import migrate

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    application = build_app(load_settings(storage={"url": url}))
    migrate.upgrade(application.store.engine)
    application.start()
    try:
        asyncio.run(_small_community(application))
    finally:
        application.stop()
    monkeypatch.setenv("COHORT_STORAGE__URL", url)
    if not any(g.name == "digest" for g in cli.app.registered_groups):
        cli.add_capability_commands()
    runner = CliRunner()
    until = NOW.isoformat()
    for fmt in ("md", "json", "png", "html"):
        out = tmp_path / f"d.{fmt}"
        r = runner.invoke(cli.app, ["digest", "--community", "g1", "--format", fmt, "--out", str(out), "--until", until])
        assert r.exit_code == 0, r.output
        assert out.stat().st_size > 100
    assert json.loads((tmp_path / "d.json").read_text())["kpis"]["messages"] == 6
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(cli.app, ["digest", "--community", "g1", "--period", "year"])
    assert bad.exit_code == 2 and "week or month" in bad.output
    bad = runner.invoke(cli.app, ["digest", "--community", "nope"])
    assert bad.exit_code == 2 and "no unique community" in bad.output
    bad = runner.invoke(cli.app, ["digest", "--format", "pdf"])
    assert bad.exit_code == 2


async def test_build_digest_unknown_community(app: App) -> None:
    with pytest.raises(LookupError):
        await app.store.read(lambda s: build_digest(s, 999, period_ending("week", NOW, UTC)))
    assert Account  # the models import is used by other tests in this module


async def test_at_risk_members_and_their_reasons_when_churn_has_scored(app: App) -> None:
    from engine.churn.tables import ChurnScore

    await _small_community(app)
    cid = await _cid(app)
    cat, dan = await _member(app, "cat"), await _member(app, "dan")
    reason = {"feature": "days_idle", "text_en": "quiet for 9 days", "text_zh": "9 天没有发言", "weight": 0.3}

    def scores(s: object) -> None:
        for day, risk_cat in ((NOW.date() - timedelta(days=3), 0.4), (NOW.date() - timedelta(days=1), 0.8)):
            s.add(ChurnScore(community_id=cid, member_id=cat, scored_on=day, risk=risk_cat,  # type: ignore[attr-defined]
                             reasons=[reason], model="test"))
            s.add(ChurnScore(community_id=cid, member_id=dan, scored_on=day, risk=0.2,  # type: ignore[attr-defined]
                             reasons=[], model="test"))

    await app.store.write(scores)
    d = await app.store.read(lambda s: make_digest(s, cid, "week", NOW, app.settings))
    assert d.at_risk is not None and [r.name for r in d.at_risk] == ["Cat"] and d.at_risk_total == 1
    by_day = dict(d.at_risk_by_day or [])
    assert by_day[NOW.date() - timedelta(days=3)] == 0 and by_day[NOW.date()] == 1
    assert "Cat — 80%: quiet for 9 days" in render_markdown(d)
    assert json.loads(render_json(d))["at_risk"]["total"] == 1
    assert render_chart(d)[:4] == b"\x89PNG"
