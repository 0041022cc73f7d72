"""Privacy hook for dead letters: their excerpts can quote a member's id, name or username.

``/forget`` deletes every dead letter whose excerpt names one of the member's accounts
(its platform id or @username); ``/mydata`` lists their reasons and excerpts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from engine.ingest.tables import DeadLetter
from engine.store.models import Account

name = "dead_letters"


def _lit(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _mentions(session: Session, member_id: int) -> Any:
    accounts = session.execute(
        select(Account.platform, Account.external_id, Account.username).where(Account.member_id == member_id)).all()
    clauses = []
    for platform, ext, username in accounts:
        # Excerpts render ids as JSON numbers (Telegram) or strings (Discord snowflakes).
        needles = [f'"id": {ext}', f'"id": "{ext}"', f'"user_id": "{ext}"']
        if username:
            needles.append(f'"username": "{username}"')
        clauses.append(and_(DeadLetter.platform == platform,
                            or_(*(DeadLetter.excerpt.like(f"%{_lit(n)}%", escape="\\") for n in needles))))
    return or_(*clauses) if clauses else None


def forget_member(session: Session, member_id: int) -> int:
    """Delete the dead letters that name the member; returns rows deleted."""
    where = _mentions(session, member_id)
    if where is None:
        return 0
    return int(session.execute(delete(DeadLetter).where(where)).rowcount)  # type: ignore[attr-defined]


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """The dead letters that name the member, JSON-ready."""
    where = _mentions(session, member_id)
    if where is None:
        return {"dead_letters": []}
    rows = session.execute(select(DeadLetter.received_at, DeadLetter.reason, DeadLetter.excerpt).where(where)).all()
    return {"dead_letters": [{"at": at.isoformat(), "reason": r, "excerpt": e} for at, r, e in rows]}
