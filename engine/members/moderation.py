"""Cohort's own moderator list, warnings and the audit log, as plain database operations.

Role values mirror ``bot.ports.Role`` (MEMBER 0, MODERATOR 1, ...); the engine keeps
them as ints because it must not import the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from engine.store.models import AuditEntry, CommunityMember, Member

MEMBER_ROLE = 0
MODERATOR_ROLE = 1


def write_audit(
    session: Session,
    *,
    action: str,
    at: datetime,
    community_id: int | None = None,
    actor_id: int | None = None,
    target_member_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one audit entry; returns its id."""
    entry = AuditEntry(community_id=community_id, actor_id=actor_id, action=action,
                       target_member_id=target_member_id, details=details or {}, at=at)
    session.add(entry)
    session.flush()
    return int(entry.id)


def stored_role(session: Session, community_id: int, member_id: int) -> int | None:
    """The member's role on Cohort's own list, or None if not a member of the community."""
    return session.execute(
        select(CommunityMember.role).where(
            CommunityMember.community_id == community_id, CommunityMember.member_id == member_id
        )
    ).scalar_one_or_none()


def set_role(
    session: Session, community_id: int, member_id: int, role: int, *, actor_id: int | None, at: datetime
) -> bool:
    """Put the member on (or off) Cohort's moderator list, with an audit entry.

    Returns False, writing nothing, when the member already has that role. Raises
    LookupError if the member is not in the community.
    """
    membership = session.get(CommunityMember, (community_id, member_id))
    if membership is None:
        raise LookupError(f"member {member_id} is not in community {community_id}")
    if membership.role == role:
        return False
    before = membership.role
    membership.role = role
    write_audit(session, action="moderator_added" if role > before else "moderator_removed", at=at,
                community_id=community_id, actor_id=actor_id, target_member_id=member_id,
                details={"role_before": before, "role_after": role})
    return True


def moderators(session: Session, community_id: int) -> list[tuple[int, str]]:
    """(member id, display name) of members on Cohort's moderator list, by name."""
    rows = session.execute(
        select(Member.id, Member.display_name)
        .join(CommunityMember, CommunityMember.member_id == Member.id)
        .where(CommunityMember.community_id == community_id, CommunityMember.role >= MODERATOR_ROLE)
        .order_by(Member.display_name)
    ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def record_warning(
    session: Session, community_id: int, actor_id: int, target_id: int, reason: str, *, at: datetime
) -> int:
    """Log a moderator's warning; returns the audit entry id."""
    return write_audit(session, action="warn", at=at, community_id=community_id, actor_id=actor_id,
                       target_member_id=target_id, details={"reason": reason[:500]})


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit entry with names resolved (None: nobody / a forgotten member)."""

    id: int
    at: datetime
    action: str
    actor: str | None
    target: str | None
    details: dict[str, Any]


def recent_audit(session: Session, community_id: int, limit: int = 10, *,
                 member_id: int | None = None) -> list[AuditLine]:
    """The community's latest audit entries, newest first (ties: latest written first);
    with ``member_id``, only those where that member acted or was acted on."""
    actor, target = aliased(Member), aliased(Member)
    rows = session.execute(
        select(AuditEntry, actor.display_name, target.display_name)
        .outerjoin(actor, actor.id == AuditEntry.actor_id)
        .outerjoin(target, target.id == AuditEntry.target_member_id)
        .where(AuditEntry.community_id == community_id,
               (AuditEntry.target_member_id == member_id) | (AuditEntry.actor_id == member_id)
               if member_id is not None else AuditEntry.id.is_not(None))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(max(1, limit))
    ).all()
    return [
        AuditLine(int(e.id), e.at, e.action, a, t, dict(e.details or {}))
        for e, a, t in rows
    ]
