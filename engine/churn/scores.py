"""Stored churn scores: write one scoring run, read the latest one.

This is the interface the nudge and digest capabilities read (fixed for the round):
:class:`Reason`, :class:`MemberRisk` and :func:`latest_risks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from engine.churn.tables import SCORES, ChurnScore


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature pushing a member's risk up, in words (English and Chinese)."""

    feature: str
    text_en: str
    text_zh: str
    weight: float  # how much it raised the risk (probability points, > 0)


@dataclass(frozen=True, slots=True)
class MemberRisk:
    member_id: int
    risk: float  # calibrated P(no activity in the next H days), 0..1
    reasons: tuple[Reason, ...]  # strongest first, at most 3
    scored_on: date
    last_active: datetime | None  # last message/reaction/interaction before scoring; None: never


def _reason_of(raw: dict[str, Any]) -> Reason:
    return Reason(feature=str(raw.get("feature", "")), text_en=str(raw.get("text_en", "")),
                  text_zh=str(raw.get("text_zh", "")), weight=float(raw.get("weight", 0.0)))


def _risk_of(row: ChurnScore) -> MemberRisk:
    return MemberRisk(member_id=row.member_id, risk=row.risk,
                      reasons=tuple(_reason_of(r) for r in (row.reasons or []) if isinstance(r, dict)),
                      scored_on=row.scored_on, last_active=row.last_active)


def latest_scoring_date(session: Session, community_id: int, *,
                        on_or_before: date | None = None) -> date | None:
    """The most recent date the community was scored (at or before ``on_or_before``), or None."""
    query = select(func.max(ChurnScore.scored_on)).where(ChurnScore.community_id == community_id)
    if on_or_before is not None:
        query = query.where(ChurnScore.scored_on <= on_or_before)
    return session.execute(query).scalar_one_or_none()


def latest_risks(session: Session, community_id: int, *,
                 on_or_before: date | None = None) -> list[MemberRisk]:
    """Every member scored in the community's latest scoring run, highest risk first.

    "Latest run" is the greatest ``scored_on`` at or before ``on_or_before`` (any date
    when None); only that one date's rows are returned (never a mix of dates), ties in
    risk broken by member id. Empty when the community was never scored, e.g. because
    its log had a gap (see :mod:`engine.churn.guards`). Members who left or were
    erased are not in a run. Flagging is the caller's threshold on ``risk``
    (:data:`engine.churn.settings.ChurnSettings.flag_threshold`).
    """
    day = latest_scoring_date(session, community_id, on_or_before=on_or_before)
    if day is None:
        return []
    rows = session.execute(
        select(ChurnScore).where(ChurnScore.community_id == community_id, ChurnScore.scored_on == day)
        .order_by(ChurnScore.risk.desc(), ChurnScore.member_id)
    ).scalars()
    return [_risk_of(row) for row in rows]


def member_risk(session: Session, community_id: int, member_id: int, *,
                on_or_before: date | None = None) -> MemberRisk | None:
    """One member's most recent score in the community, or None if never scored."""
    query = select(ChurnScore).where(ChurnScore.community_id == community_id,
                                     ChurnScore.member_id == member_id)
    if on_or_before is not None:
        query = query.where(ChurnScore.scored_on <= on_or_before)
    row = session.execute(query.order_by(ChurnScore.scored_on.desc()).limit(1)).scalar_one_or_none()
    return None if row is None else _risk_of(row)


def store_scores(session: Session, community_id: int, scored_on: date, model: str,
                 risks: Sequence[MemberRisk]) -> int:
    """Replace the community's scores for ``scored_on`` with ``risks``; returns rows written."""
    session.execute(delete(SCORES).where(SCORES.c.community_id == community_id,
                                         SCORES.c.scored_on == scored_on))
    rows = [{"community_id": community_id, "member_id": r.member_id, "scored_on": scored_on,
             "risk": float(r.risk), "model": model[:64], "last_active": r.last_active,
             "reasons": [{"feature": x.feature, "text_en": x.text_en, "text_zh": x.text_zh,
                          "weight": round(float(x.weight), 4)} for x in r.reasons]}
            for r in risks]
    for start in range(0, len(rows), 5000):
        session.execute(insert(SCORES), rows[start:start + 5000])
    return len(rows)
