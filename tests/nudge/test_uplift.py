"""The two-model uplift estimate finds who responds; campaigns rank by it only when told."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from engine.nudge.campaign import plan_campaign
from engine.nudge.risk import RiskLike
from engine.nudge.uplift import fit_two_model
from tests.nudge.helpers import (
    NOW,
    FakeRisk,
    FakeRisks,
    add_community,
    add_member,
    enable,
    schema_engine,
    session_of,
)


def _table(n: int, seed: int) -> list[tuple[dict[str, float], bool, bool]]:
    # Members with a reason "unanswered" respond to nudges (+40 pp); others do not.
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        responsive = rng.random() < 0.5
        risk = float(rng.uniform(0.5, 1.0))
        treated = bool(rng.random() < 0.8)
        p = 0.2 + (0.4 if responsive and treated else 0.0)
        rows.append(({"risk": risk, "reason:unanswered": float(responsive)}, treated, bool(rng.random() < p)))
    return rows


def test_two_models_find_the_responsive_members_and_refuse_too_few_outcomes() -> None:
    assert fit_two_model(_table(300, 1), min_per_arm=200) is None  # ~60 control outcomes
    model = fit_two_model(_table(4000, 2), min_per_arm=200)
    assert model is not None
    grid = np.linspace(0.5, 1.0, 21)
    responsive = model.predict([{"risk": r, "reason:unanswered": 1.0} for r in grid]).mean()
    indifferent = model.predict([{"risk": r, "reason:unanswered": 0.0} for r in grid]).mean()
    assert 0.25 < responsive < 0.55  # true effect 0.40
    assert abs(indifferent) < 0.1  # true effect 0


def test_a_campaign_ranks_by_uplift_when_the_ranker_answers(tmp_path: Path) -> None:
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s)
        enable(s, c, daily_cap=4)
        members = [add_member(s, c, f"M{i}") for i in range(10)]
    risks = FakeRisks({c: [FakeRisk(m, 0.9 - i * 0.01) for i, m in enumerate(members)]})

    def ranker(session: Session, community_id: int, candidates: Sequence[RiskLike],
               now: datetime) -> Mapping[int, float] | None:
        return {r.member_id: float(r.member_id) for r in candidates}  # the last-scored respond most

    with session_of(engine) as s:
        plan = plan_campaign(s, c, NOW, risks=risks, uplift=ranker, dry_run=True)
    assert plan.ranking == "uplift"
    assert [m.member_id for m in plan.members] == sorted(members, reverse=True)[:5]
    with session_of(engine) as s:
        by_risk = plan_campaign(s, c, NOW, risks=risks, uplift=lambda *a: None, dry_run=True)
    assert by_risk.ranking == "risk" and [m.member_id for m in by_risk.members] == members[:5]
