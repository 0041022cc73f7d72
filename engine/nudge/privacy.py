"""``/forget`` and ``/mydata`` for nudges: a member's assignments, clicks and choices.

Forgetting deletes the member's assignments (and so their clicks): the campaigns' counts
lose one member, which is the price of erasure; the remaining analysis stays valid
because removal does not depend on the arm.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.nudge.tables import NudgeAssignment, NudgeClick, NudgePreference

name = "nudges"


def forget_member(session: Session, member_id: int) -> int:
    ids = list(session.scalars(select(NudgeAssignment.id).where(NudgeAssignment.member_id == member_id)))
    changed = 0
    if ids:
        changed += session.execute(delete(NudgeClick).where(NudgeClick.assignment_id.in_(ids))).rowcount  # type: ignore[attr-defined]
        changed += session.execute(delete(NudgeAssignment).where(NudgeAssignment.id.in_(ids))).rowcount  # type: ignore[attr-defined]
    changed += session.execute(delete(NudgePreference).where(NudgePreference.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    return int(changed)


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    rows = session.execute(select(NudgeAssignment).where(NudgeAssignment.member_id == member_id)
                           .order_by(NudgeAssignment.assigned_at)).scalars().all()
    prefs = session.execute(select(NudgePreference).where(NudgePreference.member_id == member_id)
                            .order_by(NudgePreference.at)).scalars().all()
    return {
        "nudges": [{"campaign": a.campaign_id, "community": a.community_id, "arm": a.arm,
                    "risk": round(a.risk, 4), "assigned_at": a.assigned_at.isoformat(), "delivery": a.delivery}
                   for a in rows],
        "nudge_choices": [{"off": p.opted_out, "at": p.at.isoformat()} for p in prefs],
    }


class NudgePrivacy:
    """The :class:`engine.members.privacy.PrivacyHook` of the nudges capability."""

    name: str = "nudges"

    def forget_member(self, session: Session, member_id: int) -> int:
        return forget_member(session, member_id)

    def export_member(self, session: Session, member_id: int) -> dict[str, Any]:
        return export_member(session, member_id)
