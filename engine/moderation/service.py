"""Warnings and restrictions as plain database operations (the bot decides, this records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.members.moderation import write_audit
from engine.moderation.settings import ModerationSettings
from engine.moderation.tables import Restriction, Warning_
from engine.store.models import Account, Community, Member


@dataclass(frozen=True, slots=True)
class WarningLine:
    id: int
    at: datetime
    expires_at: datetime
    reason: str
    actor: str | None


def add_warning(session: Session, community_id: int, member_id: int, actor_id: int | None, reason: str,
                *, at: datetime, settings: ModerationSettings, source: str = "moderator") -> tuple[int, int]:
    """Record a warning (and its audit entry); returns (warning id, active warnings now)."""
    warning = Warning_(community_id=community_id, member_id=member_id, actor_id=actor_id, reason=reason[:500],
                       at=at, expires_at=at + timedelta(days=settings.warn_expiry_days))
    session.add(warning)
    session.flush()
    write_audit(session, action="warn", at=at, community_id=community_id, actor_id=actor_id,
                target_member_id=member_id,
                details={"reason": reason[:500], "warning": int(warning.id), "source": source})
    return int(warning.id), len(active_warnings(session, community_id, member_id, at))


def active_warnings(session: Session, community_id: int, member_id: int, now: datetime) -> list[WarningLine]:
    """The member's warnings that have neither expired nor been revoked, oldest first."""
    rows = session.execute(
        select(Warning_, Member.display_name)
        .outerjoin(Member, Member.id == Warning_.actor_id)
        .where(Warning_.community_id == community_id, Warning_.member_id == member_id,
               Warning_.revoked_at.is_(None), Warning_.expires_at > now)
        .order_by(Warning_.at, Warning_.id)
    ).all()
    return [WarningLine(int(w.id), w.at, w.expires_at, w.reason, name) for w, name in rows]


def revoke_warning(session: Session, community_id: int, member_id: int, warning_id: int | None, *,
                   actor_id: int | None, at: datetime) -> int | None:
    """Revoke one active warning (the latest when ``warning_id`` is None), with an audit
    entry. Returns its id, or None when there is no such active warning (nothing written)."""
    active = active_warnings(session, community_id, member_id, at)
    chosen = next((w for w in active if w.id == warning_id), None) if warning_id is not None else (
        active[-1] if active else None)
    if chosen is None:
        return None
    session.execute(update(Warning_).where(Warning_.id == chosen.id).values(revoked_at=at, revoked_by=actor_id))
    write_audit(session, action="unwarn", at=at, community_id=community_id, actor_id=actor_id,
                target_member_id=member_id, details={"warning": chosen.id, "reason": chosen.reason})
    return chosen.id


def record_restriction(session: Session, community_id: int, member_id: int, kind: str, *, at: datetime,
                       until: datetime | None, cohort_lifts: bool) -> int:
    """Note a mute or ban Cohort applied (earlier ones of the same kind are superseded)."""
    lift_restrictions(session, community_id, member_id, kind, at=at)
    row = Restriction(community_id=community_id, member_id=member_id, kind=kind, at=at, until=until,
                      cohort_lifts=cohort_lifts)
    session.add(row)
    session.flush()
    return int(row.id)


def lift_restrictions(session: Session, community_id: int, member_id: int, kind: str, *, at: datetime) -> int:
    """Mark the member's standing restrictions of this kind lifted; returns how many."""
    result = session.execute(
        update(Restriction)
        .where(Restriction.community_id == community_id, Restriction.member_id == member_id,
               Restriction.kind == kind, Restriction.lifted_at.is_(None))
        .values(lifted_at=at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_restriction(session: Session, community_id: int, member_id: int, kind: str,
                       now: datetime) -> Restriction | None:
    """The standing restriction of this kind, or None (lifted or run out)."""
    return session.execute(
        select(Restriction)
        .where(Restriction.community_id == community_id, Restriction.member_id == member_id,
               Restriction.kind == kind, Restriction.lifted_at.is_(None),
               (Restriction.until.is_(None)) | (Restriction.until > now))
        .order_by(Restriction.id.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class DueLift:
    restriction_id: int
    community_id: int
    member_id: int
    kind: str
    platform: str
    community_ext: str
    user_ext: str


def due_lifts(session: Session, now: datetime, platform: str) -> list[DueLift]:
    """Restrictions on ``platform`` that Cohort itself must end and whose time has come."""
    rows = session.execute(
        select(Restriction, Community.platform, Community.external_id, Account.external_id)
        .join(Community, Community.id == Restriction.community_id)
        .join(Account, (Account.member_id == Restriction.member_id) & (Account.platform == Community.platform))
        .where(Restriction.cohort_lifts.is_(True), Restriction.lifted_at.is_(None),
               Restriction.until.is_not(None), Restriction.until <= now, Community.platform == platform)
        .order_by(Restriction.until)
    ).all()
    return [DueLift(int(r.id), r.community_id, r.member_id, r.kind, p, c, u) for r, p, c, u in rows]


def mark_lifted(session: Session, restriction_id: int, *, at: datetime) -> None:
    """A due restriction was lifted (audited as the system's action)."""
    row = session.get(Restriction, restriction_id)
    if row is None or row.lifted_at is not None:
        return
    row.lifted_at = at
    write_audit(session, action=f"un{row.kind}", at=at, community_id=row.community_id,
                target_member_id=row.member_id, details={"reason": "time served", "automatic": True})
