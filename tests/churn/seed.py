"""Write a synthetic community (tests.churn.synth) straight into the tables, fast."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.churn.log import MESSAGE, REACTION, REPLY, ActivityLog
from engine.churn.scores import MemberRisk, Reason, store_scores
from engine.store.models import Account, Community, CommunityMember, Interaction, Member, MembershipEvent

DAY0 = datetime(2025, 6, 1, tzinfo=UTC)
_KINDS = {MESSAGE: "message", REPLY: "reply", REACTION: "reaction"}


def when(day: float) -> datetime:
    return DAY0 + timedelta(days=float(day))


def seed(session: Session, log: ActivityLog, *, platform: str = "console", community_ext: str = "g1",
         prefix: str = "u") -> tuple[int, dict[int, int]]:
    """Insert the log as community ``platform:community_ext``; returns (community id, index → member id)."""
    cid = session.execute(select(Community.id).where(Community.platform == platform,
                                                     Community.external_id == community_ext)).scalar_one_or_none()
    if cid is None:
        cid = session.execute(insert(Community).values(platform=platform, external_id=community_ext, title="",
                                                       settings={}, created_at=DAY0).returning(Community.id)).scalar_one()
    ids: dict[int, int] = {}
    first = {int(m): float(t) for m, t in zip(log.join_member, log.join_t, strict=True)}
    for i in range(log.n_members):
        mid = session.execute(insert(Member).values(display_name=f"{prefix}{i}", created_at=DAY0)
                              .returning(Member.id)).scalar_one()
        ids[i] = mid
        session.execute(insert(Account).values(platform=platform, external_id=f"{prefix}{i}", member_id=mid,
                                               username=f"{prefix}{i}", display_name=f"{prefix.upper()}{i}",
                                               is_bot=False, created_at=DAY0))
        joined = when(first.get(i, 0.0))
        session.execute(insert(CommunityMember).values(community_id=cid, member_id=mid, joined_at=joined,
                                                       last_seen_at=joined, role=0, dm_opt_out=False))
    session.execute(insert(MembershipEvent), [
        {"community_id": cid, "member_id": ids[int(m)], "kind": "joined", "at": when(t)}
        for m, t in zip(log.join_member, log.join_t, strict=True)] or [
        {"community_id": cid, "member_id": ids[0], "kind": "joined", "at": DAY0}])
    if len(log.leave_t):
        session.execute(insert(MembershipEvent), [
            {"community_id": cid, "member_id": ids[int(m)], "kind": "left", "at": when(t)}
            for m, t in zip(log.leave_member, log.leave_t, strict=True)])
    rows = [{"community_id": cid, "member_id": ids[int(m)], "kind": _KINDS.get(int(k), "click"),
             "target_member_id": ids[int(g)] if g >= 0 else None, "item_id": None, "message_id": None,
             "thread_id": None, "weight": 1.0, "at": when(t)}
            for m, t, k, g in zip(log.act_member, log.act_t, log.act_kind, log.act_target, strict=True)]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Interaction), rows[start:start + 5000])
    session.commit()
    return cid, ids


def store_risks(session: Session, platform: str, community_ext: str, risks: dict[str, float],
                on: date, last_active: datetime | None = None) -> int:
    """Store one scoring run for accounts ``platform:external id`` → risk (what the daily job
    writes), each with a silence reason; returns the community id. For adapter tests, whose
    members exist only once they have spoken through the adapter."""
    cid = session.execute(select(Community.id).where(Community.platform == platform,
                                                     Community.external_id == community_ext)).scalar_one()
    rows = []
    for external, risk in risks.items():
        member = session.execute(select(Account.member_id).where(Account.platform == platform,
                                                                 Account.external_id == external)).scalar_one()
        days = round(risk * 20)
        rows.append(MemberRisk(member, risk, (Reason("silence", f"silent for {days} days", f"已经 {days} 天没有动静",
                                                     risk / 2),), on, last_active))
    store_scores(session, cid, on, "test", rows)
    session.commit()
    return int(cid)
