"""Planning campaigns against a real SQLite schema: eligibility, cap, control, reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.members.moderation import write_audit
from engine.nudge.campaign import plan_campaign, record_deliveries, set_opt_out, undelivered
from engine.nudge.draw import campaign_seed, draw_arms
from engine.nudge.tables import NudgeAssignment, NudgeCampaign
from tests.nudge.helpers import (
    NOW,
    FakeRisk,
    FakeRisks,
    add_community,
    add_member,
    enable,
    leave,
    schema_engine,
    session_of,
)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = schema_engine(tmp_path)
    yield engine
    engine.dispose()


def _world(engine, n: int = 20, **policy):  # type: ignore[no-untyped-def]
    with session_of(engine) as s:
        c = add_community(s)
        enable(s, c, **policy)
        members = [add_member(s, c, f"M{i}") for i in range(n)]
    risks = FakeRisks({c: [FakeRisk(m, 0.99 - i * 0.001) for i, m in enumerate(members)]})
    return c, members, risks


def test_off_by_default_and_no_scores_and_stale_scores_say_so(engine) -> None:  # type: ignore[no-untyped-def]
    with session_of(engine) as s:
        c = add_community(s)
        m = add_member(s, c, "Ann")
        off = plan_campaign(s, c, NOW, risks=FakeRisks())
        assert off.status == "off" and "/nudge on" in off.message
        enable(s, c)
        none = plan_campaign(s, c, NOW, risks=FakeRisks())
        assert none.status == "no_scores" and "churn" in none.message
        stale = plan_campaign(s, c, NOW, risks=FakeRisks({c: [FakeRisk(m, 0.9, scored_on=NOW.date() - timedelta(days=5))]}))
        assert stale.status == "stale_scores"
        calm = plan_campaign(s, c, NOW, risks=FakeRisks({c: [FakeRisk(m, 0.1)]}))
        assert calm.status == "nobody" and "Nobody is at risk" in calm.message
        assert s.scalar(select(func.count()).select_from(NudgeCampaign)) == 0


def test_everybody_at_risk_the_cap_holds_and_control_is_drawn_before_sending(engine) -> None:  # type: ignore[no-untyped-def]
    c, members, risks = _world(engine, n=200, daily_cap=40)
    with session_of(engine) as s:
        plan = plan_campaign(s, c, NOW, risks=risks)
    assert plan.status == "planned"
    assert len(plan.treated) <= 40
    assert len(plan.members) == 50  # floor(40 / 0.8) highest-risk candidates
    assert len(plan.control) == 10
    assert {m.member_id for m in plan.members} == set(members[:50])
    # the stored arms replay from the stored seed
    with session_of(engine) as s:
        campaign = s.execute(select(NudgeCampaign)).scalar_one()
        stored = {a.member_id: a.arm == "control" for a in s.scalars(select(NudgeAssignment))}
    assert campaign.seed == campaign_seed(c, NOW.date())
    assert draw_arms(list(stored), campaign.control_fraction, campaign.seed, 40) == stored


def test_rerun_the_same_local_day_draws_nothing_new(engine) -> None:  # type: ignore[no-untyped-def]
    c, _, risks = _world(engine, n=30)
    with session_of(engine) as s:
        first = plan_campaign(s, c, NOW, risks=risks)
    with session_of(engine) as s:
        again = plan_campaign(s, c, NOW + timedelta(hours=1), risks=risks)
    assert again.status == "exists" and again.campaign_id == first.campaign_id
    assert [m.member_id for m in again.members] == [m.member_id for m in first.members]
    with session_of(engine) as s:
        assert s.scalar(select(func.count()).select_from(NudgeAssignment)) == len(first.members)


def test_dst_fall_back_repeats_the_local_hour_but_not_the_campaign(engine) -> None:  # type: ignore[no-untyped-def]
    # Europe/Berlin, 2026-10-25: 02:00–03:00 happens twice. A run at 02:30 CEST and again at 02:30 CET.
    c, _, risks = _world(engine, n=10, local_hour=2, quiet_hours="none")
    with session_of(engine) as s:
        from engine.store.models import Community
        community = s.get(Community, c)
        assert community is not None
        community.settings = {**community.settings, "timezone": "Europe/Berlin"}
    first_at = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)   # 02:30 CEST
    second_at = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    day = first_at.date()
    risks.table[c] = [FakeRisk(r.member_id, r.risk, scored_on=day) for r in risks.table[c]]
    with session_of(engine) as s:
        first = plan_campaign(s, c, first_at, risks=risks)
    with session_of(engine) as s:
        second = plan_campaign(s, c, second_at, risks=risks)
    assert first.status == "planned" and second.status == "exists"
    assert first.run_on == second.run_on == day


def test_quiet_hours_in_the_community_zone(engine) -> None:  # type: ignore[no-untyped-def]
    c, _, risks = _world(engine, n=5)
    with session_of(engine) as s:
        late = plan_campaign(s, c, NOW.replace(hour=23), risks=risks)
    assert late.status == "quiet"


def test_who_is_excluded_and_why(engine) -> None:  # type: ignore[no-untyped-def]
    with session_of(engine) as s:
        c = add_community(s)
        enable(s, c)
        names = ["ok", "left", "banned", "muted", "mute_over", "opted", "closed", "cool", "bot", "never_tried"]
        ids = {n: add_member(s, c, n) for n in names}
        leave(s, c, ids["left"])
        write_audit(s, action="ban", at=NOW - timedelta(days=2), community_id=c, target_member_id=ids["banned"])
        write_audit(s, action="mute", at=NOW - timedelta(days=2), community_id=c, target_member_id=ids["muted"],
                    details={"until": (NOW + timedelta(days=1)).isoformat()})
        write_audit(s, action="mute", at=NOW - timedelta(days=9), community_id=c, target_member_id=ids["mute_over"],
                    details={"until": (NOW - timedelta(days=8)).isoformat()})
        set_opt_out(s, ids["opted"], True, NOW - timedelta(days=3))
        from engine.store.models import Account
        s.execute(update(Account).where(Account.member_id == ids["closed"]).values(dm_reachable=False))
        s.execute(update(Account).where(Account.member_id == ids["bot"]).values(is_bot=True))
        s.execute(update(Account).where(Account.member_id == ids["never_tried"]).values(dm_reachable=None))
        old = NudgeCampaign(community_id=c, run_on=(NOW - timedelta(days=3)).date(), created_at=NOW - timedelta(days=3),
                            seed=1, control_fraction=0.2, policy={}, counts={})
        s.add(old)
        s.flush()
        s.add(NudgeAssignment(campaign_id=old.id, community_id=c, member_id=ids["cool"], arm="control", rank=1,
                              risk=0.9, features={}, assigned_at=NOW - timedelta(days=3)))
    risks = FakeRisks({c: [FakeRisk(m, 0.8) for m in ids.values()]})
    with session_of(engine) as s:
        plan = plan_campaign(s, c, NOW, risks=risks)
    assert {m.member_id for m in plan.members} == {ids["ok"], ids["mute_over"], ids["never_tried"]}
    assert plan.excluded == {"left": 1, "banned": 1, "muted": 1, "opted_out": 1, "unreachable": 1,
                             "cooldown": 1, "bot": 1}


def test_opting_back_in_makes_a_member_eligible_again(engine) -> None:  # type: ignore[no-untyped-def]
    c, members, risks = _world(engine, n=1)
    with session_of(engine) as s:
        assert set_opt_out(s, members[0], True, NOW - timedelta(days=2))
        assert not set_opt_out(s, members[0], True, NOW - timedelta(days=2))
        assert set_opt_out(s, members[0], False, NOW - timedelta(days=1))
        plan = plan_campaign(s, c, NOW, risks=risks, dry_run=True)
    assert [m.member_id for m in plan.members] == members


def test_a_member_of_two_communities_is_drawn_once(engine) -> None:  # type: ignore[no-untyped-def]
    from tests.nudge.helpers import join
    with session_of(engine) as s:
        a, b = add_community(s, "a"), add_community(s, "b")
        enable(s, a)
        enable(s, b)
        both = add_member(s, a, "Both")
        join(s, b, both)
    risks = FakeRisks({a: [FakeRisk(both, 0.9)], b: [FakeRisk(both, 0.95)]})
    with session_of(engine) as s:
        first = plan_campaign(s, a, NOW, risks=risks)
    with session_of(engine) as s:
        second = plan_campaign(s, b, NOW, risks=risks)
    assert len(first.members) == 1
    assert second.status == "nobody" and second.excluded == {"cooldown": 1}


def test_dry_run_stores_nothing_and_shows_the_real_arms(engine) -> None:  # type: ignore[no-untyped-def]
    c, _, risks = _world(engine, n=25)
    with session_of(engine) as s:
        dry = plan_campaign(s, c, NOW, risks=risks, dry_run=True)
        assert s.scalar(select(func.count()).select_from(NudgeCampaign)) == 0
    with session_of(engine) as s:
        real = plan_campaign(s, c, NOW, risks=risks)
    assert [(m.member_id, m.control) for m in dry.members] == [(m.member_id, m.control) for m in real.members]


def test_deliveries_are_recorded_and_the_campaign_closes(engine) -> None:  # type: ignore[no-untyped-def]
    c, _, risks = _world(engine, n=10)
    with session_of(engine) as s:
        plan = plan_campaign(s, c, NOW, risks=risks)
        assert plan.campaign_id is not None
        pending = undelivered(s, plan.campaign_id)
        assert len(pending) == len(plan.treated)
        record_deliveries(s, plan.campaign_id, {a: "sent" for a, _ in pending[:-1]}, NOW)
        assert len(undelivered(s, plan.campaign_id)) == 1
        record_deliveries(s, plan.campaign_id, {pending[-1][0]: "unreachable"}, NOW)
        assert undelivered(s, plan.campaign_id) == []
        assert s.get(NudgeCampaign, plan.campaign_id).status == "sent"  # type: ignore[union-attr]


def test_plans_from_the_real_churn_scores(engine) -> None:  # type: ignore[no-untyped-def]
    from engine.churn.scores import MemberRisk, Reason, latest_risks, store_scores
    c, members, _ = _world(engine, n=6)
    reason = Reason("recency", "no activity for 20 days", "20 天没有活动", 0.3)
    with session_of(engine) as s:
        store_scores(s, c, NOW.date() - timedelta(days=1), "test",
                     [MemberRisk(m, 0.9 if i < 4 else 0.1, (reason,), NOW.date(), NOW - timedelta(days=20))
                      for i, m in enumerate(members)])
    with session_of(engine) as s:
        plan = plan_campaign(s, c, NOW, risks=latest_risks)
        features = s.scalars(select(NudgeAssignment.features)).first()
    assert {m.member_id for m in plan.members} == set(members[:4])
    assert features is not None and features["reason:recency"] == 0.3 and features["days_inactive"] == 20.0
