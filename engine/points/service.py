"""Points reads (leaderboards, summaries) and the module-level entry points other
capabilities call: the catalog (:func:`award_completion`), the privacy module
(:func:`forget_member`, :func:`export_member`) and maintenance (:func:`rebuild_balances`).

Writers here must run inside ``Store.write`` (the writer thread); they invalidate the
live projections' caches for the members they touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine.points import days as D
from engine.points import rules as R
from engine.points.projection import (
    PointsProjection,
    active_season,
    flush_everywhere,
    invalidate_everywhere,
    live_projections,
)
from engine.points.tables import (
    MEMBERS,
    PointsBadge,
    PointsEntry,
    PointsMember,
    PointsSeason,
)
from engine.store.models import AuditEntry, Chat, Member, Message, Thread
from engine.store.writer import Notice

PERIODS = ("week", "month", "season", "all")


@dataclass(frozen=True, slots=True)
class Standing:
    """One leaderboard row."""

    rank: int
    member_id: int
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class Summary:
    """What ``/me`` shows."""

    total: int
    progress: R.Progress
    rank: int | None  # None with no points yet
    streak: int
    best_streak: int
    badges: tuple[str, ...]
    stats: dict[str, int]
    helped: int  # distinct members helped


# -- writes for other modules ----------------------------------------------------------------


def award_completion(session: Session, community_id: int, member_id: int, item_key: str,
                     points: int, at: datetime, source_key: str) -> list[Notice]:
    """Pay ``points`` for a completed course item, once per ``source_key`` and member.

    Not subject to the daily cap. Returns badge / level-up notices (empty for a repeat
    or a bot account). Raises :class:`engine.points.projection.PointsError`
    ``bad_amount`` for points outside 0..10,000. Call inside ``Store.write``.
    """
    flush_everywhere(session)
    proj = PointsProjection()
    notices = proj.award_completion(session, community_id, member_id, item_key, points, at, source_key)
    proj.flush(session)
    invalidate_everywhere(session, community_id, member_id)
    return notices


def award_course_finished(session: Session, community_id: int, member_id: int, course_key: str,
                          at: datetime) -> list[Notice]:
    """Record a finished course (``course_finisher`` badge), once per course and member.
    Returns badge notices. Call inside ``Store.write``."""
    flush_everywhere(session)
    proj = PointsProjection()
    notices = proj.award_course_finished(session, community_id, member_id, course_key, at)
    proj.flush(session)
    invalidate_everywhere(session, community_id, member_id)
    return notices


def grant_badge(session: Session, community_id: int, member_id: int, badge: str, *,
                actor_id: int | None, at: datetime, reason: str = "") -> Notice:
    """Grant a badge (e.g. onboarding's ``first_week``), audited; returns its notice.
    Raises :class:`engine.points.projection.PointsError` like
    :meth:`PointsProjection.grant_badge` (``already`` when held). Call inside ``Store.write``."""
    flush_everywhere(session)
    proj = PointsProjection()
    notice = proj.grant_badge(session, community_id, member_id, badge, actor_id=actor_id, at=at, reason=reason)
    proj.flush(session)
    invalidate_everywhere(session, community_id, member_id)
    return notice


def forget_member(session: Session, member_id: int) -> int:
    """Erase a member's points data in every community (ledger, balance, badges) and
    scrub them from other members' rule state and from seasons/actors they appear in.
    Returns the number of ledger entries deleted. Call inside ``Store.write``."""
    flush_everywhere(session)
    deleted = session.execute(delete(PointsEntry).where(PointsEntry.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    session.execute(update(PointsEntry).where(PointsEntry.actor_id == member_id).values(actor_id=None))
    session.execute(delete(PointsBadge).where(PointsBadge.member_id == member_id))
    session.execute(update(PointsBadge).where(PointsBadge.actor_id == member_id).values(actor_id=None))
    session.execute(update(PointsSeason).where(PointsSeason.started_by == member_id).values(started_by=None))
    session.execute(delete(PointsMember).where(PointsMember.member_id == member_id))
    # Their id may sit in other members' pair counters / helped lists.
    key = str(member_id)
    for cid, mid, state in session.execute(
        select(PointsMember.community_id, PointsMember.member_id, PointsMember.state)
    ).all():
        st = R.MemberState.from_json(state)
        if member_id in st.helped or key in st.pairs:
            st.helped = [h for h in st.helped if h != member_id]
            st.pairs.pop(key, None)
            session.execute(update(PointsMember).where(
                PointsMember.community_id == cid, PointsMember.member_id == mid).values(state=st.to_json()))
    for proj in live_projections(session):
        proj.reset()
    return int(deleted or 0)


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """Everything points stores about a member, as JSON-ready data: balances per
    community, every ledger entry, badges and seasons they started."""
    def iso(dt: datetime | None) -> str | None:
        return dt.isoformat() if dt else None

    balances = [
        {"community_id": r.community_id, "total": r.total, "level": r.level,
         "reached_at": iso(r.reached_at), "state": r.state}
        for r in session.execute(select(PointsMember).where(PointsMember.member_id == member_id)).scalars()
    ]
    ledger = [
        {"community_id": e.community_id, "amount": e.amount, "rule": e.rule, "source": e.source_key,
         "reason": e.reason, "actor_id": e.actor_id, "at": iso(e.at)}
        for e in session.execute(
            select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id)
        ).scalars()
    ]
    badges = [
        {"community_id": b.community_id, "badge": b.badge, "instance": b.instance,
         "at": iso(b.at), "revoked_at": iso(b.revoked_at)}
        for b in session.execute(select(PointsBadge).where(PointsBadge.member_id == member_id)).scalars()
    ]
    seasons = [
        {"community_id": s.community_id, "name": s.name, "started_at": iso(s.started_at)}
        for s in session.execute(select(PointsSeason).where(PointsSeason.started_by == member_id)).scalars()
    ]
    return {"balances": balances, "ledger": ledger, "badges": badges, "seasons_started": seasons}


def rebuild_balances(session: Session, community_id: int | None = None) -> int:
    """Recompute totals, levels and ``reached_at`` from the ledger (rule state is kept).

    Returns the number of balances rewritten. Call inside ``Store.write``.
    """
    flush_everywhere(session)
    q = select(PointsEntry.community_id, PointsEntry.member_id, func.sum(PointsEntry.amount),
               func.max(PointsEntry.at)).where(PointsEntry.amount != 0)
    if community_id is not None:
        q = q.where(PointsEntry.community_id == community_id)
    n = 0
    proj = PointsProjection()
    for cid, mid, total, last in session.execute(
        q.group_by(PointsEntry.community_id, PointsEntry.member_id)
    ).all():
        level = R.level_for(max(0, int(total)), proj.rules_for(session, cid))
        done = session.execute(update(PointsMember).where(
            PointsMember.community_id == cid, PointsMember.member_id == mid
        ).values(total=int(total), level=level, reached_at=last)).rowcount  # type: ignore[attr-defined]
        if not done:
            session.execute(MEMBERS.insert().values(
                community_id=cid, member_id=mid, total=int(total), level=level, reached_at=last, state={}))
        n += 1
    for p in live_projections(session):
        p.reset()
    return n


def after_merge(session: Session, keep_id: int) -> int:
    """Privacy/linking hook: after two members were merged, rebuild the kept member's
    balances from the (already re-pointed) ledger. Returns balances rewritten."""
    communities = session.execute(
        select(PointsEntry.community_id).where(PointsEntry.member_id == keep_id).distinct()
    ).scalars().all()
    return sum(rebuild_balances(session, cid) for cid in communities)


# -- reads ----------------------------------------------------------------------------------


def answer_candidate(session: Session, platform: str, chat_ext: str,
                     message_ext: str) -> tuple[int, int | None, int | None, int | None, bool] | None:
    """For ``/solved``: (message id, author, member it replied to, thread starter, is the
    thread's first post) of a stored message, or None when Cohort never saw it."""
    row = session.execute(
        select(Message.id, Message.author_id, Message.reply_to_author_id, Thread.created_by,
               Message.is_topic_start)
        .join(Chat, Chat.id == Message.chat_id)
        .outerjoin(Thread, Thread.id == Message.thread_id)
        .where(Chat.platform == platform, Chat.external_id == chat_ext, Message.external_id == message_ext)
    ).first()
    return (int(row[0]), row[1], row[2], row[3], bool(row[4])) if row else None


def period_window(session: Session, community_id: int, period: str,
                  now: datetime) -> tuple[datetime | None, datetime | None, str]:
    """(start, end, label) of a leaderboard period; start None = all time. Weeks and
    months are local to the community's timezone; seasons run between two instants.

    Raises ValueError for an unknown period and LookupError for ``season`` when the
    community never had one.
    """
    if period in ("week", "month"):
        tz = PointsProjection().zone_for(session, community_id)
        if period == "week":
            return D.week_start(now, tz), None, D.week_key(now, tz)
        return D.month_start(now, tz), None, D.month_key(now, tz)
    if period == "all":
        return None, None, ""
    if period == "season":
        season = active_season(session, community_id) or session.execute(
            select(PointsSeason).where(PointsSeason.community_id == community_id)
            .order_by(PointsSeason.started_at.desc()).limit(1)
        ).scalar_one_or_none()
        if season is None:
            raise LookupError("no season")
        return season.started_at, season.ended_at, season.name
    raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")


def leaderboard(session: Session, community_id: int, period: str, now: datetime,
                limit: int = 10) -> tuple[str, list[Standing]]:
    """(period label, top ``limit`` standings). Ties: points desc, then who reached the
    score earlier, then member id. Raises like :func:`period_window`."""
    start, end, label = period_window(session, community_id, period, now)
    if start is None:
        rows = session.execute(
            select(PointsMember.member_id, Member.display_name, PointsMember.total)
            .join(Member, Member.id == PointsMember.member_id)
            .where(PointsMember.community_id == community_id, PointsMember.total > 0)
            .order_by(PointsMember.total.desc(), PointsMember.reached_at, PointsMember.member_id)
            .limit(limit)
        ).all()
    else:
        pts = func.sum(PointsEntry.amount)
        q = (select(PointsEntry.member_id, Member.display_name, pts)
             .join(Member, Member.id == PointsEntry.member_id)
             .where(PointsEntry.community_id == community_id, PointsEntry.at >= start,
                    PointsEntry.amount != 0))
        if end is not None:
            q = q.where(PointsEntry.at < end)
        rows = session.execute(
            q.group_by(PointsEntry.member_id, Member.display_name).having(pts > 0)
            .order_by(pts.desc(), func.max(PointsEntry.at), PointsEntry.member_id).limit(limit)
        ).all()
    return label, [Standing(i + 1, int(r[0]), r[1] or f"#{r[0]}", int(r[2])) for i, r in enumerate(rows)]


def badges_of(session: Session, community_id: int, member_id: int) -> list[tuple[str, str]]:
    """Held (not revoked) badges as (key, instance), oldest first."""
    return [(b, i) for b, i in session.execute(
        select(PointsBadge.badge, PointsBadge.instance).where(
            PointsBadge.community_id == community_id, PointsBadge.member_id == member_id,
            PointsBadge.revoked_at.is_(None)).order_by(PointsBadge.at, PointsBadge.id)
    ).all()]


def summary(session: Session, community_id: int, member_id: int, today: date) -> Summary:
    """A member's points, level progress, all-time rank, streak and badges.

    ``today`` is a local date, or a datetime (e.g. the command's time) whose local date
    in the community's timezone is used: the streak is alive through local yesterday.
    """
    row = session.execute(select(PointsMember).where(
        PointsMember.community_id == community_id, PointsMember.member_id == member_id)).scalar_one_or_none()
    proj = PointsProjection()
    rules = proj.rules_for(session, community_id)
    if isinstance(today, datetime):
        today = D.local_date(today, proj.zone_for(session, community_id))
    total = row.total if row else 0
    state = R.MemberState.from_json(row.state if row else None)
    rank: int | None = None
    if row is not None and row.total > 0:
        ahead = or_(
            PointsMember.total > row.total,
            (PointsMember.total == row.total) & (PointsMember.reached_at < row.reached_at),
            (PointsMember.total == row.total) & (PointsMember.reached_at == row.reached_at)
            & (PointsMember.member_id < member_id),
        )
        rank = 1 + int(session.execute(select(func.count()).select_from(PointsMember).where(
            PointsMember.community_id == community_id, ahead)).scalar_one())
    badges = tuple(dict.fromkeys(b for b, _ in badges_of(session, community_id, member_id)))
    return Summary(total, R.progress(max(0, total), rules), rank, R.current_streak(state, today),
                   state.best_streak, badges, dict(state.stats), len(state.helped))


def recent_audit(session: Session, community_id: int, limit: int = 10) -> list[AuditEntry]:
    """The community's latest points-related audit entries (points, badges, seasons,
    points settings and the timezone), newest first."""
    return list(session.execute(
        select(AuditEntry).where(
            AuditEntry.community_id == community_id,
            or_(AuditEntry.action.like("points.%"), AuditEntry.action.like("badge.%"),
                AuditEntry.action.like("season.%"),
            # the timezone moves where points' days begin, so its changes belong here too
            AuditEntry.action.in_(("config.points", "config.timezone"))),
        ).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).scalars())


def balance(session: Session, community_id: int, member_id: int) -> int:
    """The member's current total from the ledger itself (the source of truth)."""
    return int(session.execute(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
        PointsEntry.community_id == community_id, PointsEntry.member_id == member_id)).scalar_one())
