"""The stored log of one community as numpy arrays: what churn features are built from.

Times are float days since the Unix epoch, computed in SQL (no per-row datetime objects,
so a million-event log loads in seconds). Members are every non-bot member with a
membership row, a join/leave, or any logged interaction — so members who joined and never
posted, and members seen only through reactions, are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Float, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.catalog.tables import CatalogItem  # noqa: F401  (interactions reference items)
from engine.nudge.tables import TREATED, NudgeAssignment
from engine.points.tables import PointsEntry
from engine.store.models import Account, CommunityMember, Interaction, MembershipEvent, Message

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Activity kinds (codes in ActivityLog.kind); anything else a member does is OTHER.
MESSAGE, REPLY, REACTION, THREAD, COMPLETION, OTHER = range(6)
_KIND_CODES = {"message": MESSAGE, "reply": REPLY, "reaction": REACTION, "thread_opened": THREAD,
               "completion": COMPLETION}
# Logged rows that are not the member doing something (or duplicate a message row).
_NOT_ACTIVITY = ("join", "leave", "mention")

I32 = NDArray[np.int32]
F64 = NDArray[np.float64]


def to_days(at: datetime) -> float:
    """A timezone-aware datetime as float days since the Unix epoch."""
    return (at - EPOCH).total_seconds() / 86400.0


def from_days(days: float) -> datetime:
    return EPOCH + timedelta(days=float(days))


@dataclass
class ActivityLog:
    """One community's log, members indexed 0..n-1 (``member_ids[i]`` is the member id).

    Event arrays are parallel: ``act_member[k]`` did ``act_kind[k]`` at ``act_t[k]`` (towards
    ``act_target[k]``, -1 if nobody). ``q_answer_t`` is when a question first got an answer
    from someone else (inf: never).
    """

    member_ids: NDArray[np.int64]
    act_member: I32
    act_t: F64
    act_kind: NDArray[np.int8]
    act_target: I32
    join_member: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    join_t: F64 = field(default_factory=lambda: np.zeros(0))
    leave_member: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    leave_t: F64 = field(default_factory=lambda: np.zeros(0))
    q_member: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    q_t: F64 = field(default_factory=lambda: np.zeros(0))
    q_answer_t: F64 = field(default_factory=lambda: np.zeros(0))
    pts_member: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    pts_t: F64 = field(default_factory=lambda: np.zeros(0))
    pts_amount: F64 = field(default_factory=lambda: np.zeros(0))
    # nudges the member received: delivered DMs of the nudge campaigns (treated, "sent")
    nudge_member: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    nudge_t: F64 = field(default_factory=lambda: np.zeros(0))
    # per member: when first seen (membership row), DM reachability and when it was learnt
    first_seen: F64 = field(default_factory=lambda: np.zeros(0))
    dm_reachable: F64 = field(default_factory=lambda: np.zeros(0))  # 1 yes, 0 no, nan unknown
    dm_checked_t: F64 = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.member_ids)
        if len(self.first_seen) != n:
            self.first_seen = np.full(n, np.inf)
        if len(self.dm_reachable) != n:
            self.dm_reachable = np.full(n, np.nan)
            self.dm_checked_t = np.full(n, np.inf)

    @property
    def n_members(self) -> int:
        return len(self.member_ids)

    @property
    def n_events(self) -> int:
        return len(self.act_t)

    def span(self) -> tuple[float, float] | None:
        """First and last activity time, or None for an empty log."""
        if not len(self.act_t):
            return None
        return float(self.act_t.min()), float(self.act_t.max())

    def index_of(self, member_id: int) -> int | None:
        pos = int(np.searchsorted(self.member_ids, member_id))
        if pos < len(self.member_ids) and int(self.member_ids[pos]) == member_id:
            return pos
        return None


def _days_sql(session: Session, column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """SQL for ``column`` as float days since the Unix epoch, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(column), Float) - literal(2440587.5)
    return cast(func.extract("epoch", column), Float) / literal(86400.0)


def _arr(rows: Sequence[Any], col: int, dtype: type, fill: float = np.nan) -> NDArray[Any]:
    if not rows:
        return np.zeros(0, dtype)
    return np.array([fill if r[col] is None else r[col] for r in rows], dtype=dtype)


def load_log(session: Session, community_id: int) -> ActivityLog:
    """Read a community's log (interactions, joins/leaves, questions, points, nudges received,
    reachability)."""
    days = lambda col: _days_sql(session, col)  # noqa: E731
    bots = {int(m) for m in session.scalars(select(Account.member_id).where(Account.is_bot.is_(True)))}

    # kind codes and missing targets resolved in SQL: one numeric array, no per-row Python
    kind_code = case(*[(Interaction.kind == k, literal(v)) for k, v in _KIND_CODES.items()], else_=literal(OTHER))
    inter_rows = session.execute(
        select(Interaction.member_id, days(Interaction.at), kind_code, func.coalesce(Interaction.target_member_id, -1))
        .where(Interaction.community_id == community_id, Interaction.kind.not_in(_NOT_ACTIVITY))
    ).all()
    inter = np.array(inter_rows, dtype=np.float64).reshape(-1, 4)
    memberships = session.execute(
        select(CommunityMember.member_id, days(CommunityMember.joined_at))
        .where(CommunityMember.community_id == community_id)
    ).all()
    moves = session.execute(
        select(MembershipEvent.member_id, days(MembershipEvent.at), MembershipEvent.kind)
        .where(MembershipEvent.community_id == community_id)
    ).all()
    points = session.execute(
        select(PointsEntry.member_id, days(PointsEntry.at), PointsEntry.amount)
        .where(PointsEntry.community_id == community_id)
    ).all()
    questions = _questions(session, community_id)
    nudges = session.execute(
        select(NudgeAssignment.member_id, days(NudgeAssignment.delivered_at))
        .where(NudgeAssignment.community_id == community_id, NudgeAssignment.arm == TREATED,
               NudgeAssignment.delivery == "sent", NudgeAssignment.delivered_at.is_not(None))
    ).all()

    ids = np.unique(np.concatenate([inter[:, 0].astype(np.int64), _arr(memberships, 0, np.int64, -1),
                                    _arr(moves, 0, np.int64, -1)]))
    member_ids = ids[~np.isin(ids, np.array(sorted(bots), dtype=np.int64))].astype(np.int64)

    def index(raw: NDArray[Any]) -> tuple[I32, NDArray[np.bool_]]:
        raw = raw.astype(np.int64)
        pos = np.clip(np.searchsorted(member_ids, raw), 0, max(len(member_ids) - 1, 0))
        ok = (member_ids[pos] == raw) if len(member_ids) else np.zeros(len(raw), bool)
        return pos.astype(np.int32), ok

    who, ok = index(inter[:, 0].astype(np.int64))
    kinds = inter[:, 2].astype(np.int8)
    tgt_raw = inter[:, 3].astype(np.int64)
    tgt, tgt_ok = index(tgt_raw)
    tgt = np.where(tgt_ok & (tgt_raw >= 0), tgt, -1).astype(np.int32)
    act_t = inter[:, 1].copy()

    mv_who, mv_ok = index(_arr(moves, 0, np.int64, -1))
    mv_t = _arr(moves, 1, np.float64)
    mv_join = np.array([r[2] == "joined" for r in moves], dtype=bool)
    mv_left = np.array([r[2] == "left" for r in moves], dtype=bool)

    q_who, q_ok = index(np.array([q[0] for q in questions], dtype=np.int64))
    q_t = np.array([q[1] for q in questions], dtype=np.float64)
    q_ans = np.array([q[2] for q in questions], dtype=np.float64)

    p_who, p_ok = index(_arr(points, 0, np.int64, -1))
    n_who, n_ok = index(_arr(nudges, 0, np.int64, -1))

    log = ActivityLog(
        member_ids=member_ids,
        act_member=who[ok], act_t=act_t[ok], act_kind=kinds[ok], act_target=tgt[ok],
        join_member=mv_who[mv_ok & mv_join], join_t=mv_t[mv_ok & mv_join],
        leave_member=mv_who[mv_ok & mv_left], leave_t=mv_t[mv_ok & mv_left],
        q_member=q_who[q_ok], q_t=q_t[q_ok], q_answer_t=q_ans[q_ok],
        pts_member=p_who[p_ok], pts_t=_arr(points, 1, np.float64)[p_ok],
        pts_amount=_arr(points, 2, np.float64)[p_ok],
        nudge_member=n_who[n_ok], nudge_t=_arr(nudges, 1, np.float64)[n_ok],
    )
    seen_who, seen_ok = index(_arr(memberships, 0, np.int64, -1))
    log.first_seen[seen_who[seen_ok]] = _arr(memberships, 1, np.float64)[seen_ok]
    reach = session.execute(
        select(Account.member_id, Account.dm_reachable, days(Account.dm_checked_at))
        .where(Account.dm_reachable.is_not(None))
    ).all()
    for member_id, reachable, checked in reach:
        pos = log.index_of(int(member_id))
        # several accounts: reachable on any of them counts
        if pos is not None and (bool(reachable) or np.isnan(log.dm_reachable[pos])):
            log.dm_reachable[pos] = 1.0 if reachable else 0.0
            log.dm_checked_t[pos] = np.inf if checked is None else float(checked)
    return log


def _questions(session: Session, community_id: int) -> list[tuple[int, float, float]]:
    """(author, asked at, first answer by someone else or inf) for every question.

    A question opens a thread (forum topic, Stack Exchange question) or has a question mark;
    an answer is a later message by someone else in the thread it opened, or a reply to it.
    """
    days = lambda col: _days_sql(session, col)  # noqa: E731
    asked = select(Message.id, Message.author_id, days(Message.posted_at)).where(
        Message.community_id == community_id, Message.author_id.is_not(None),
        Message.is_command.is_(False), Message.is_bot.is_(False),
        (Message.is_topic_start.is_(True)) | Message.text.contains("?") | Message.text.contains("？"),
    )
    q_rows = session.execute(asked).all()
    if not q_rows:
        return []
    q, a = Message.__table__.alias("q"), Message.__table__.alias("a")
    in_thread = session.execute(
        select(q.c.id, func.min(days(a.c.posted_at)))
        .join(a, (a.c.thread_id == q.c.thread_id) & (a.c.posted_at > q.c.posted_at)
              & (a.c.author_id != q.c.author_id))
        .where(q.c.community_id == community_id, q.c.is_topic_start.is_(True), q.c.thread_id.is_not(None))
        .group_by(q.c.id)
    ).all()
    replied = session.execute(
        select(q.c.id, func.min(days(a.c.posted_at)))
        .join(q, (q.c.chat_id == a.c.chat_id) & (q.c.external_id == a.c.reply_to_external_id))
        .where(a.c.community_id == community_id, a.c.reply_to_external_id.is_not(None),
               a.c.author_id != q.c.author_id)
        .group_by(q.c.id)
    ).all()
    first: dict[int, float] = {}
    for qid, at in [*in_thread, *replied]:
        if at is not None:
            first[int(qid)] = min(first.get(int(qid), np.inf), float(at))
    return [(int(mid or 0), float(at), first.get(int(qid), np.inf)) for qid, mid, at in q_rows]
