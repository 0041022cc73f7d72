"""The points ledger: the per-member caches of balances, rule state and automatic badges,
and the primitives that post ledger rows and grant badges through them.

Everything here runs on the single writer thread, so the caches need no locks; the
writer calls :meth:`PointsLedger.reset` after any rollback, and the caches are rebuilt
from the database on the next miss. :mod:`engine.points.admin` (manual operations) and
:mod:`engine.points.projection` (the rules applied to each event) build on it; the rules
themselves are pure (:mod:`engine.points.rules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.points import days as D
from engine.points import rules as R
from engine.points.badges import earned
from engine.points.tables import (
    BADGES_TABLE,
    LEDGER,
    MEMBERS,
    PointsBadge,
    PointsMember,
    PointsSeason,
)
from engine.refusal import Refusal
from engine.store.base import table_of
from engine.store.community_settings import lookup, stored_settings
from engine.store.models import (
    Account,
    AuditEntry,
    CommunityMember,
    Member,
    Message,
    Thread,
)
from engine.store.writer import Notice
from engine.text import clean_text

MAX_AMOUNT = 10_000  # largest manual change or completion award in one go
_MAX_CACHE = 200_000  # per-message caches are dropped wholesale past this size


class PointsError(Refusal, ValueError):
    """A manual operation that cannot be done (negative balance, unknown badge, ...).

    ``code`` names the problem for the bot's message catalog; ``data`` fills it in.
    """

    def __init__(self, code: str, **data: Any) -> None:
        super().__init__(f"{code}: {data}" if data else code)
        self.code = code
        self.data = data


@dataclass
class _Member:
    """Cached balance, state and automatic badges of one member in one community."""

    total: int = 0
    level: int = 0
    reached_at: datetime | None = None
    state: R.MemberState = field(default_factory=R.MemberState)
    held: set[str] = field(default_factory=set)  # one-time badge keys ever held
    stored: bool = False  # a points_members row exists


@dataclass(frozen=True, slots=True)
class _Award:
    """A ledger row that paid for a reaction or an acceptance and is not revoked yet."""

    member_id: int
    amount: int
    source_key: str
    reason: str
    actor_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AdjustResult:
    """Outcome of a manual change: the new total and any level/badge notices."""

    total: int
    notices: tuple[Notice, ...]


# Statements run per event, built once: building them costs more than running them.
_MEMBER_ROW = select(PointsMember.total, PointsMember.level, PointsMember.reached_at, PointsMember.state).where(
    PointsMember.community_id == bindparam("community_id"), PointsMember.member_id == bindparam("member_id"))
_HELD_BADGES = select(PointsBadge.badge).where(
    PointsBadge.community_id == bindparam("community_id"), PointsBadge.member_id == bindparam("member_id"),
    PointsBadge.instance == "")
_ASKER_OF = (
    select(Message.reply_to_author_id, Thread.created_by, Message.is_topic_start)
    .outerjoin(Thread, Thread.id == Message.thread_id)
    .where(Message.id == bindparam("message_id"))
)
_MEMBER_NAME = select(Member.display_name).where(Member.id == bindparam("member_id"))
_ACCOUNT_OF = (
    select(Account.external_id)
    .where(Account.member_id == bindparam("member_id"), Account.platform == bindparam("platform"))
    .order_by(Account.id).limit(1)
)
_STORED_ROLE = select(CommunityMember.role).where(
    CommunityMember.community_id == bindparam("community_id"), CommunityMember.member_id == bindparam("member_id"))




class PointsLedger:
    """Caches and ledger primitives shared by the projection and the admin operations."""

    name = "points"

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rules: dict[int, tuple[R.PointsRules, dict[str, Any]]] = {}
        self._languages: dict[int, str | None] = {}  # filled with _rules
        self._zones: dict[int, tzinfo] = {}  # filled with _rules: where the community's days begin
        self._names: dict[int, str] = {}
        self._members: dict[tuple[int, int], _Member] = {}
        self._bots: dict[int, bool] = {}
        self._reaction_counts: dict[int, int] = {}  # message id -> paid reactions
        # For messages this projection saw posted, who already got credited from them: with
        # complete knowledge, duplicates are known without asking the unique index.
        self._reactors: dict[int, set[int]] = {}  # message id -> reacting members paid
        # For those same messages: (message id, reactor) -> generation of the reactor's last
        # revoked award, so a re-award's key is known without a query.
        self._revoked_reactions: dict[tuple[int, int], int] = {}
        self._repliers: dict[tuple[int, str], set[int]] = {}  # (chat id, message ext id) -> repliers
        self._reply_to: dict[int, int | None] = {}  # message id -> member it replied to
        self._weeks: dict[int, str] = {}  # community id -> last week checked for top helper
        # Balances/state changed in the current transaction, written once just before it
        # commits (one executemany per batch instead of one UPDATE per event).
        self._dirty: dict[tuple[int, int], _Member] = {}
        self._dirty_session: Session | None = None
        # Ledger rows whose source key cannot already exist (a message's own award), sent
        # with the same flush as one executemany.
        self._pending: list[dict[str, Any]] = []
        self._stmts: dict[str, Any] = {}

    # -- cache management ----------------------------------------------------------------
    def reset(self) -> None:
        """Forget every cached value (after a rollback); the DB is the truth."""
        self._rules.clear()
        self._names.clear()
        self._members.clear()
        self._bots.clear()
        self._reaction_counts.clear()
        self._reactors.clear()
        self._revoked_reactions.clear()
        self._repliers.clear()
        self._reply_to.clear()
        self._weeks.clear()
        self._dirty.clear()
        self._pending.clear()
        self._dirty_session = None

    def invalidate(self, community_id: int | None = None, member_id: int | None = None) -> None:
        """Drop cached values for a community's settings and/or a member."""
        if community_id is not None and member_id is None:
            self._rules.pop(community_id, None)
        if member_id is not None:
            self._bots.pop(member_id, None)
            self._names.pop(member_id, None)
            self._drop([k for k in self._members if k[1] == member_id
                        and (community_id is None or k[0] == community_id)])

    def _drop(self, keys: list[tuple[int, int]]) -> None:
        """Forget cached members, writing any pending change of theirs first."""
        if self._dirty_session is not None and any(k in self._dirty for k in keys):
            self.flush(self._dirty_session)
        for key in keys:
            self._members.pop(key, None)

    def rules_for(self, session: Session, community_id: int) -> R.PointsRules:
        """The community's effective rules (cached)."""
        return self._settings(session, community_id)[0]

    def zone_for(self, session: Session, community_id: int) -> tzinfo:
        """The community's timezone (cached with its rules; UTC by default)."""
        self._settings(session, community_id)
        return self._zones[community_id]

    def _settings(self, session: Session, community_id: int) -> tuple[R.PointsRules, dict[str, Any]]:
        hit = self._rules.get(community_id)
        if hit is None:
            settings = stored_settings(session, community_id)
            points = lookup(settings, "points", {})
            points = points if isinstance(points, dict) else {}
            hit = (R.rules_from_settings(points), points)
            self._rules[community_id] = hit
            language = lookup(settings, "language", None)
            self._languages[community_id] = language if isinstance(language, str) else None
            self._zones[community_id] = D.zone_of(settings)
        return hit

    def _is_bot(self, session: Session, member_id: int) -> bool:
        hit = self._bots.get(member_id)
        if hit is None:
            hit = bool(session.connection().execute(
                select(func.count()).select_from(Account)
                .where(Account.member_id == member_id, Account.is_bot.is_(True))
            ).scalar_one())
            self._bots[member_id] = hit
        return hit

    def _member(self, session: Session, community_id: int, member_id: int) -> _Member:
        key = (community_id, member_id)
        hit = self._members.get(key)
        if hit is not None:
            return hit
        ids = {"community_id": community_id, "member_id": member_id}
        row = session.connection().execute(_MEMBER_ROW, ids).first()
        # Whoever holds a one-time badge has a points_members row (grants create one), so
        # a member without a row needs no badge lookup: the common case for newcomers.
        held = set() if row is None else set(session.connection().execute(_HELD_BADGES, ids).scalars())
        if row is None:
            hit = _Member(held=held)
        else:
            hit = _Member(int(row[0]), int(row[1]), row[2], R.MemberState.from_json(row[3]), held, True)
        if len(self._members) > _MAX_CACHE:
            self._drop(list(self._members))
        self._members[key] = hit
        return hit

    def _bind(self, session: Session) -> None:
        """Arrange for pending rows to be written just before ``session`` commits."""
        if self._dirty_session is not session:
            if self._dirty_session is not None and (self._dirty or self._pending):
                self.flush(self._dirty_session)  # cannot happen on the writer; be safe anyway
            self._dirty_session = session
            sa_event.listen(session, "before_commit", self.flush, once=True)

    def _save(self, session: Session, community_id: int, member_id: int, m: _Member) -> None:
        """Mark a member's balance/state for writing before this transaction commits."""
        self._bind(session)
        self._dirty[(community_id, member_id)] = m

    def flush(self, session: Session) -> None:
        """Write every pending balance/state row now (two executemany statements at most).

        Called automatically just before the writer's transaction commits; call it before
        reading ``points_members`` with the same session mid-transaction.
        """
        if session is not self._dirty_session or not (self._dirty or self._pending):
            return
        if self._pending:
            pending, self._pending = self._pending, []
            session.connection().execute(self._ledger_insert(session), pending)
        dirty, self._dirty = self._dirty, {}
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for (cid, mid), m in dirty.items():
            row = {"cid": cid, "mid": mid, "total": m.total, "level": m.level,
                   "reached_at": m.reached_at, "state": m.state.to_json()}
            (updates if m.stored else inserts).append(row)
            m.stored = True
        conn = session.connection()
        if updates:
            t = MEMBERS
            stmt = self._stmts.get("update")
            if stmt is None:
                stmt = self._stmts["update"] = (
                    update(t).where(t.c.community_id == bindparam("cid"), t.c.member_id == bindparam("mid"))
                    .values(total=bindparam("total"), level=bindparam("level"),
                            reached_at=bindparam("reached_at"), state=bindparam("state")))
            conn.execute(stmt, updates)
        if inserts:
            conn.execute(MEMBERS.insert(), [
                {"community_id": r["cid"], "member_id": r["mid"], "total": r["total"], "level": r["level"],
                 "reached_at": r["reached_at"], "state": r["state"]} for r in inserts])

    def _ignoring(self, session: Session, table: Table) -> Any:
        """INSERT .. ON CONFLICT DO NOTHING for ``table``, built once (cheap to execute)."""
        stmt = self._stmts.get(table.name)
        if stmt is None:
            dialect = session.get_bind().dialect.name
            ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            stmt = self._stmts[table.name] = ins.on_conflict_do_nothing()
        return stmt

    def _ledger_insert(self, session: Session) -> Any:
        # Queued rows are new by construction; DO NOTHING only guards a cache that was
        # dropped (size limit) while rows were still queued.
        return self._ignoring(session, LEDGER)

    def _insert_ignore(self, session: Session, table: Table, values: dict[str, Any]) -> bool:
        result = session.connection().execute(self._ignoring(session, table), values)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # -- ledger primitives ---------------------------------------------------------------
    def _post(
        self, session: Session, community_id: int, member_id: int, m: _Member, *, amount: int,
        rule: str, source_key: str, at: datetime, subject: int | None = None,
        actor: int | None = None, reason: str = "", fresh: bool = False,
    ) -> bool:
        """Append a ledger entry and fold it into the cached balance. False if that
        (source, rule, member) was already paid (nothing changes then).

        ``fresh=True`` promises the source key is new (a just-stored message's own award):
        the row is then queued and written with the batch's flush.
        """
        row = {
            "community_id": community_id, "member_id": member_id, "amount": amount, "rule": rule,
            "source_key": source_key[:255], "subject_id": subject, "actor_id": actor,
            "reason": clean_text(reason)[:512], "at": at,
        }
        if fresh:
            self._bind(session)
            self._pending.append(row)
            inserted = True
        else:
            inserted = self._insert_ignore(session, LEDGER, row)
        if inserted and amount:
            m.total += amount
            if m.reached_at is None or at > m.reached_at:
                m.reached_at = at
        return bool(inserted)

    def _post_award(
        self, session: Session, community_id: int, member_id: int, m: _Member, *, amount: int,
        rule: str, base: str, at: datetime, subject: int | None, actor: int | None = None, reason: str = "",
    ) -> bool:
        """Post the next award for the cause ``base`` (a reaction or an acceptance). False
        while an earlier award for it is live, i.e. not revoked (nothing changes then).

        The first award uses ``base`` itself, so the common case costs one insert; only a
        cause that was paid before needs the lookup of its generations.
        """
        if self._post(session, community_id, member_id, m, amount=amount, rule=rule, source_key=base,
                      at=at, subject=subject, actor=actor, reason=reason):
            return True
        live, generation = self._live_award(session, base, rule)
        if live is not None:
            return False
        return self._post(session, community_id, member_id, m, amount=amount, rule=rule,
                          source_key=R.award_key(base, generation + 1), at=at, subject=subject,
                          actor=actor, reason=reason)

    def _live_award(self, session: Session, base: str, rule: str) -> tuple[_Award | None, int]:
        """The live (not revoked) award for the cause ``base`` under ``rule``, if any, and
        how many awards it has had. Awards and revocations alternate, so only the latest
        award can be live."""
        self.flush(session)  # queued awards must be visible
        t = LEDGER
        revoked_rule = R.REVOKED_RULE[rule]
        rows = session.connection().execute(
            select(t.c.member_id, t.c.amount, t.c.rule, t.c.source_key, t.c.reason, t.c.actor_id, t.c.at)
            .where(or_(t.c.source_key == base, and_(t.c.source_key >= f"{base}/", t.c.source_key < f"{base}0")),
                   t.c.rule.in_((rule, revoked_rule)))
        ).all()
        awards = [r for r in rows if r.rule == rule]
        if not awards:
            return None, 0
        latest = max(awards, key=lambda r: R.award_generation(r.source_key, base))
        generation = R.award_generation(latest.source_key, base)
        if any(r.rule == revoked_rule and r.source_key == latest.source_key for r in rows):
            return None, generation
        return _Award(int(latest.member_id), int(latest.amount), latest.source_key, latest.reason or "",
                      latest.actor_id, latest.at), generation

    def _finish(
        self, session: Session, community_id: int, member_id: int, m: _Member, at: datetime,
        notices: list[Notice], level_before: int,
    ) -> None:
        """After a member's points/state changed: badges, level, persist."""
        rules, _ = self._settings(session, community_id)
        stats = dict(m.state.stats)
        stats["best_streak"] = m.state.best_streak
        stats["helped"] = len(m.state.helped)
        for key in earned(stats, m.held):
            if self._grant(session, community_id, member_id, m, key, "", at):
                notices.append(Notice("badge", community_id, member_id, {"badge": key}))
        m.level = R.level_for(max(0, m.total), rules)
        # Only a level never reached before is announced: one lost to a revoked reaction
        # or a manual take and then regained is not news (and cannot be farmed).
        peak = max(m.state.peak_level, level_before)
        if m.level > peak:
            notices.append(Notice("level_up", community_id, member_id,
                                  {"level": m.level, "previous": level_before, "total": m.total}))
        m.state.peak_level = max(peak, m.level)
        self._save(session, community_id, member_id, m)

    def _grant(self, session: Session, community_id: int, member_id: int, m: _Member | None,
               badge: str, instance: str, at: datetime, actor: int | None = None) -> bool:
        inserted = self._insert_ignore(session, BADGES_TABLE, {
            "community_id": community_id, "member_id": member_id, "badge": badge,
            "instance": instance, "at": at, "actor_id": actor, "revoked_at": None,
        })
        if m is not None and not instance:
            m.held.add(badge)
        return inserted

    @staticmethod
    def _capped(rules: R.PointsRules, m: _Member, amount: int, at: datetime,
                tz: tzinfo) -> tuple[int, tuple[Any, ...]]:
        """Daily-capped amount plus a snapshot to undo the cap accounting with."""
        snap = R.day_snapshot(m.state)
        return R.apply_daily_cap(rules, m.state, amount, at, tz), snap

    @staticmethod
    def _undo(m: _Member, snap: tuple[Any, ...]) -> None:
        R.restore_day(m.state, snap)


    @staticmethod
    def _audit(session: Session, community_id: int, actor_id: int | None, action: str,
               target: int | None, details: dict[str, Any], at: datetime) -> None:
        session.execute(table_of(AuditEntry).insert().values(
            community_id=community_id, actor_id=actor_id, action=action,
            target_member_id=target, details=details, at=at))


def active_season(session: Session, community_id: int) -> PointsSeason | None:
    """The community's running season, if any."""
    return session.execute(
        select(PointsSeason).where(PointsSeason.community_id == community_id, PointsSeason.ended_at.is_(None))
        .order_by(PointsSeason.started_at.desc()).limit(1)
    ).scalar_one_or_none()

