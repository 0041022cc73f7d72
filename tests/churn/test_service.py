"""Train, score and store on a real database; every bad-input case gets a message, no flag storm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.churn.log import MESSAGE
from engine.churn.scores import latest_risks
from engine.churn.service import evaluate_community, score_community, train_community
from engine.churn.settings import ChurnSettingError, churn_settings, parse_setting
from engine.store.base import Base
from engine.store.db import make_engine
from engine.store.models import Community
from tests.churn.seed import seed, when
from tests.churn.synth import community, make_log

import engine.store.all_tables  # noqa: F401  # isort: skip


@pytest.fixture
def session(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_train_then_score_flags_faders_and_stores_by_date(session: Session, tmp_path: Path) -> None:
    log, faders = community(n=120, days=200, seed=11)
    cid, ids = seed(session, log)
    now = when(190)
    report = train_community(session, cid, now, tmp_path / "m")
    assert report.trained_on == "community" and report.examples > 200, report
    run = score_community(session, cid, now, tmp_path / "m")
    session.commit()
    assert not run.refused and run.flagged > 0
    assert run.flagged <= 0.3 * len(run.risks)
    member_of = {v: k for k, v in ids.items()}
    top = [member_of[r.member_id] for r in run.risks[:5]]
    assert sum(m in faders for m in top) >= 3, top
    stored = latest_risks(session, cid)
    assert [r.member_id for r in stored] == [r.member_id for r in run.risks]
    assert stored[0].reasons and stored[0].scored_on == now.date()
    # evaluation on the same database: every baseline, on the later window
    ev = evaluate_community(session, cid, now, rounds=100)
    assert not ev.refused and len(ev.rows) == 4


def test_no_history_and_one_member(session: Session, tmp_path: Path) -> None:
    cid, _ = seed(session, make_log([], 1, joins=[(0, 1.0)]))
    run = score_community(session, cid, when(30), tmp_path)
    assert "no history" in run.refused and latest_risks(session, cid) == []
    cid2, _ = seed(session, make_log([(0, d, MESSAGE, -1) for d in np.arange(1, 40, 0.5)], 1),
                   community_ext="solo", prefix="s")
    run = score_community(session, cid2, when(40), tmp_path)
    assert not run.refused and len(run.risks) == 1
    assert "BG/NBD" in " ".join(run.notes)  # nothing trained: the no-training baseline scored


def test_a_gap_in_the_log_refuses_instead_of_flagging_everyone(session: Session, tmp_path: Path) -> None:
    log, _ = community(n=60, days=100, seed=2, fade_share=0.0)
    keep = log.act_t < 90  # the bot was down for the last ten days
    cut = make_log(list(zip(log.act_member[keep].tolist(), log.act_t[keep].tolist(), log.act_kind[keep].tolist(),
                            log.act_target[keep].tolist(), strict=True)), log.n_members,
                   joins=list(zip(log.join_member.tolist(), log.join_t.tolist(), strict=True)))
    cid, _ = seed(session, cut)
    run = score_community(session, cid, when(100), tmp_path)
    assert "no events at all" in run.refused and "bot down" in run.refused
    assert latest_risks(session, cid) == []


def test_future_events_are_ignored_and_said(session: Session, tmp_path: Path) -> None:
    events = [(m, d, MESSAGE, -1) for m in range(6) for d in np.arange(1, 40, 0.7)]
    events += [(0, 45.0, MESSAGE, -1)]  # a clock five days ahead
    cid, _ = seed(session, make_log(events, 6, joins=[(m, 0.5) for m in range(6)]))
    run = score_community(session, cid, when(40), tmp_path)
    assert not run.refused and any("future" in n for n in run.notes)
    assert all(r.last_active is not None and r.last_active <= when(40) for r in run.risks)


def test_all_active_members_are_not_a_flag_storm_and_leavers_are_not_scored(session: Session, tmp_path: Path) -> None:
    events = [(m, d, MESSAGE, -1) for m in range(20) for d in np.arange(1, 60, 0.5)]
    cid, _ = seed(session, make_log(events, 21, joins=[(m, 0.5) for m in range(21)], leaves=[(20, 10.0)]))
    run = score_community(session, cid, when(60), tmp_path)
    assert not run.refused and len(run.risks) == 20  # the leaver is not scored
    assert run.flagged == 0


def test_every_member_churned_is_reported_not_scored(session: Session, tmp_path: Path) -> None:
    events = [(m, d, MESSAGE, -1) for m in range(10) for d in np.arange(1, 30, 0.5)]
    cid, _ = seed(session, make_log(events, 10, joins=[(m, 0.5) for m in range(10)]))
    run = score_community(session, cid, when(120), tmp_path)  # nobody active for 90 days
    assert run.refused and latest_risks(session, cid) == []


@pytest.mark.parametrize("raw", ["2", "-1", "abc", "²", "nan", "0"])
def test_bad_thresholds_are_refused_with_the_range(raw: str) -> None:
    with pytest.raises(ChurnSettingError, match="flag_threshold"):
        parse_setting("flag_threshold", raw)


def test_stored_settings_fall_back_to_defaults_when_invalid(session: Session) -> None:
    assert churn_settings({"churn": {"flag_threshold": 2, "window_days": "21"}}).flag_threshold == 0.3
    assert churn_settings({"churn": {"window_days": "21"}}).window_days == 21
    cid, _ = seed(session, make_log([], 1, joins=[(0, 1.0)]))
    session.execute(update(Community).where(Community.id == cid).values(settings={"churn": "nonsense"}))
    assert churn_settings({"churn": "nonsense"}).horizon_days == 14


def test_nudges_received_are_a_feature_as_of_the_snapshot(session: Session) -> None:
    from engine.churn.features import INDEX, FeatureBuilder
    from engine.churn.log import load_log, to_days
    from engine.nudge.tables import CONTROL, TREATED, NudgeAssignment, NudgeCampaign

    log = make_log([(m, d + 0.5, MESSAGE, -1) for m in range(3) for d in range(0, 40, 2)], 3,
                   joins=[(0, 0.0), (1, 0.0), (2, 0.0)])
    cid, ids = seed(session, log)
    other, other_ids = seed(session, log, community_ext="g2", prefix="o")

    def campaign(community_id: int, day: int) -> int:
        c = NudgeCampaign(community_id=community_id, run_on=when(day).date(), created_at=when(day), seed=day,
                          control_fraction=0.2)
        session.add(c)
        session.flush()
        return c.id

    def assign(camp: int, community_id: int, member: int, day: float, arm: str, delivery: str | None) -> None:
        session.add(NudgeAssignment(campaign_id=camp, community_id=community_id, member_id=member, arm=arm, rank=1,
                                    risk=0.5, assigned_at=when(day),
                                    delivery=delivery, delivered_at=None if delivery is None else when(day)))

    early, late, after = campaign(cid, 5), campaign(cid, 25), campaign(cid, 37)
    assign(early, cid, ids[0], 5.2, TREATED, "sent")       # long ago: outside 28 days at day 36
    assign(late, cid, ids[0], 25.2, TREATED, "sent")       # 10.8 days before the snapshot
    assign(late, cid, ids[1], 25.2, CONTROL, None)         # control: never messaged
    assign(late, cid, ids[2], 25.2, TREATED, "unreachable")  # not received
    assign(after, cid, ids[1], 37.5, TREATED, "sent")      # after the snapshot: the future is not read
    assign(campaign(other, 25), other, other_ids[1], 25.2, TREATED, "sent")  # another community
    session.commit()

    builder = FeatureBuilder(load_log(session, cid))
    t = to_days(when(36))
    snap = builder.at(t)
    row = {m: snap.X[builder.log.index_of(ids[m])] for m in range(3)}
    assert row[0][INDEX["nudges_28"]] == 1 and abs(row[0][INDEX["days_since_nudge"]] - 10.8) < 1e-3
    assert row[1][INDEX["nudges_28"]] == 0 and row[1][INDEX["days_since_nudge"]] == 365
    assert row[2][INDEX["nudges_28"]] == 0 and row[2][INDEX["days_since_nudge"]] == 365
    later = builder.at(to_days(when(40)))
    assert later.X[builder.log.index_of(ids[1]), INDEX["nudges_28"]] == 1  # received by then
    assert later.X[builder.log.index_of(ids[0]), INDEX["nudges_28"]] == 1  # day 5 is out of the window
