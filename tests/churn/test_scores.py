"""The stored-scores interface other capabilities read: latest run only, highest risk first."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine.churn.scores import MemberRisk, Reason, latest_risks, member_risk, store_scores
from engine.store.base import Base
from engine.store.db import make_engine
from engine.store.models import Community, Member

import engine.store.all_tables  # noqa: F401  # isort: skip


def _session(tmp_path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    Base.metadata.create_all(engine)
    session = Session(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    session.execute(insert(Community), [{"id": 1, "platform": "console", "external_id": "c",
                                         "settings": {}, "created_at": now, "title": ""}])
    session.execute(insert(Member), [{"id": i, "display_name": f"m{i}", "created_at": now}
                                     for i in (1, 2, 3)])
    return session


def _risk(member: int, risk: float, day: date) -> MemberRisk:
    return MemberRisk(member_id=member, risk=risk, scored_on=day, last_active=None,
                      reasons=(Reason("days_since_active", "silent for 9 days", "已 9 天没有动静", 0.2),))


def test_latest_risks_reads_only_the_latest_run_in_risk_order(tmp_path) -> None:
    session = _session(tmp_path)
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    store_scores(session, 1, d1, "m", [_risk(1, 0.9, d1), _risk(2, 0.1, d1), _risk(3, 0.5, d1)])
    store_scores(session, 1, d2, "m", [_risk(1, 0.2, d2), _risk(2, 0.7, d2)])
    latest = latest_risks(session, 1)
    assert [(r.member_id, r.risk, r.scored_on) for r in latest] == [(2, 0.7, d2), (1, 0.2, d2)]
    assert latest[0].reasons[0].text_zh == "已 9 天没有动静"
    earlier = latest_risks(session, 1, on_or_before=d1)
    assert [r.member_id for r in earlier] == [1, 3, 2]
    assert latest_risks(session, 1, on_or_before=date(2026, 2, 1)) == []
    assert latest_risks(session, 99) == []
    member = member_risk(session, 1, 3)
    assert member is not None and member.scored_on == d1


def test_rescoring_a_date_replaces_that_date(tmp_path) -> None:
    session = _session(tmp_path)
    day = date(2026, 3, 1)
    store_scores(session, 1, day, "m", [_risk(1, 0.9, day), _risk(2, 0.1, day)])
    store_scores(session, 1, day, "m", [_risk(2, 0.3, day)])
    assert [(r.member_id, r.risk) for r in latest_risks(session, 1)] == [(2, 0.3)]
