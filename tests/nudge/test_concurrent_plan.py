"""Two transactions drawing the same day's campaign at the same moment on PostgreSQL (as
two processes would during a leader hand-over): the second waits for the first's insert,
then finds that campaign instead of failing or drawing another."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from engine.churn.scores import latest_risks
from engine.nudge.campaign import Plan, plan_campaign
from engine.nudge.tables import NudgeAssignment, NudgeCampaign
from tests.nudge.helpers import NOW
from tests.nudge.world import seed_at_risk


@pytest.fixture
def pg(fresh_pg: tuple[str, Engine]) -> Engine:
    return fresh_pg[1]


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one())


def test_a_concurrent_second_plan_finds_the_first_campaign(pg: Engine) -> None:
    cid, _ = seed_at_risk(pg, treated=40, control_fraction=0.2, now=NOW)
    first_planned, commit_first = threading.Event(), threading.Event()
    plans: dict[str, Plan] = {}
    errors: list[BaseException] = []

    def plan(name: str, hold: bool) -> None:
        try:
            with Session(pg) as s, s.begin():
                plans[name] = plan_campaign(s, cid, NOW, risks=latest_risks)
                if hold:
                    first_planned.set()
                    assert commit_first.wait(30)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    first = threading.Thread(target=plan, args=("first", True))
    first.start()
    assert first_planned.wait(30)
    second = threading.Thread(target=plan, args=("second", False))
    second.start()
    deadline = time.monotonic() + 30
    while not waiting_on_a_lock(pg):  # the second's insert waits for the first's transaction
        assert time.monotonic() < deadline and second.is_alive()
        time.sleep(0.01)
    commit_first.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert plans["first"].status == "planned" and plans["second"].status == "exists"
    assert plans["second"].campaign_id == plans["first"].campaign_id
    assert [m.member_id for m in plans["second"].members] == [m.member_id for m in plans["first"].members]
    with pg.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NudgeCampaign)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(NudgeAssignment)).scalar_one() == 50
