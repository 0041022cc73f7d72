"""Who receives a community's digest: its owners (``/owner add``), plus the operator's
``owner_ids`` accounts that are members; and the once-only report of an owner who
cannot be DMed. Also this capability's privacy hooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.digest.tables import DigestOwner, DigestSegmentSnapshot, DigestUnreachableNotice
from engine.store.models import Account, CommunityMember, Member

ADMIN_ROLE = 2  # bot.ports.Role.ADMIN, as stored in community_members.role


@dataclass(frozen=True, slots=True)
class Owner:
    member_id: int
    name: str
    present: bool  # still a member of the community
    from_config: bool = False
    added_by: int | None = None


def add_owner(session: Session, community_id: int, member_id: int, *, by: int | None, at: datetime) -> bool:
    """Make ``member_id`` an owner; False when they already were."""
    if session.get(DigestOwner, (community_id, member_id)) is not None:
        return False
    session.add(DigestOwner(community_id=community_id, member_id=member_id, added_by=by, added_at=at))
    session.flush()
    return True


def remove_owner(session: Session, community_id: int, member_id: int) -> bool:
    """False when they were not an owner."""
    n = session.execute(delete(DigestOwner).where(
        DigestOwner.community_id == community_id, DigestOwner.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    session.execute(delete(DigestUnreachableNotice).where(
        DigestUnreachableNotice.community_id == community_id, DigestUnreachableNotice.member_id == member_id))
    return bool(n)


def _present(session: Session, community_id: int, member_id: int) -> bool:
    row = session.get(CommunityMember, (community_id, member_id))
    return row is not None and row.left_at is None


def config_owner_members(session: Session, community_id: int, owner_ids: list[str]) -> list[int]:
    """Members of the community holding one of the ``"platform:user_id"`` accounts."""
    out: set[int] = set()
    for ref in owner_ids:
        platform, _, ext = ref.partition(":")
        member = session.scalar(select(Account.member_id).where(Account.platform == platform,
                                                                Account.external_id == ext))
        if member is not None and session.get(CommunityMember, (community_id, member)) is not None:
            out.add(int(member))
    return sorted(out)


def owners(session: Session, community_id: int, owner_ids: list[str] = ()) -> list[Owner]:  # type: ignore[assignment]
    """The community's owners, the ``/owner add`` ones first, then config ones."""
    rows = session.execute(
        select(DigestOwner.member_id, Member.display_name, DigestOwner.added_by)
        .join(Member, Member.id == DigestOwner.member_id)
        .where(DigestOwner.community_id == community_id).order_by(DigestOwner.added_at, DigestOwner.member_id)
    ).all()
    out = [Owner(int(m), name or f"member {m}", _present(session, community_id, int(m)), False,
                 added_by) for m, name, added_by in rows]
    listed = {o.member_id for o in out}
    for m in config_owner_members(session, community_id, list(owner_ids)):
        if m not in listed:
            member = session.get(Member, m)
            out.append(Owner(m, (member.display_name if member else "") or f"member {m}",
                             _present(session, community_id, m), True))
    return out


def is_owner(session: Session, community_id: int, member_id: int) -> bool:
    return session.get(DigestOwner, (community_id, member_id)) is not None


def admins_to_tell(session: Session, community_id: int, owner: Owner, owner_ids: list[str]) -> list[int]:
    """Whom to tell that ``owner`` cannot be DMed: whoever made them owner, Cohort's
    stored admins and the operator's owners in this community (never the owner)."""
    out: set[int] = set(config_owner_members(session, community_id, owner_ids))
    if owner.added_by is not None:
        out.add(owner.added_by)
    out.update(int(m) for m in session.scalars(select(CommunityMember.member_id).where(
        CommunityMember.community_id == community_id, CommunityMember.role >= ADMIN_ROLE,
        CommunityMember.left_at.is_(None))))
    out.discard(owner.member_id)
    return sorted(out)


def claim_unreachable_report(session: Session, community_id: int, member_id: int, at: datetime) -> bool:
    """True the first time an owner is reported unreachable (then never again until a
    digest reaches them, see :func:`reachable_again`)."""
    if session.get(DigestUnreachableNotice, (community_id, member_id)) is not None:
        return False
    session.add(DigestUnreachableNotice(community_id=community_id, member_id=member_id, reported_at=at))
    session.flush()
    return True


def reachable_again(session: Session, community_id: int, member_id: int) -> None:
    session.execute(delete(DigestUnreachableNotice).where(
        DigestUnreachableNotice.community_id == community_id, DigestUnreachableNotice.member_id == member_id))


# -- privacy hooks (engine.members.privacy) ---------------------------------------------------
name = "digest"


def forget_member(session: Session, member_id: int) -> int:
    """Privacy hook: remove the member's ownerships, segment snapshots and notices."""
    n = 0
    for table in (DigestOwner, DigestSegmentSnapshot, DigestUnreachableNotice):
        n += session.execute(delete(table).where(table.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    session.execute(update(DigestOwner).where(DigestOwner.added_by == member_id).values(added_by=None))
    return int(n)


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """Privacy hook: where the member owns digests and their recorded segments."""
    owned = session.scalars(select(DigestOwner.community_id).where(DigestOwner.member_id == member_id)).all()
    segments = session.execute(select(DigestSegmentSnapshot.community_id, DigestSegmentSnapshot.taken_on,
                                      DigestSegmentSnapshot.segment)
                               .where(DigestSegmentSnapshot.member_id == member_id)).all()
    return {"digest_owner_of": [int(c) for c in owned],
            "segments": [{"community_id": int(c), "on": d.isoformat(), "segment": s} for c, d, s in segments]}
