"""The points projection: applies the rules to each stored event inside the writer's
transaction, and the write operations (manual changes, badges, seasons, settings,
completions) that must share its per-member cache.

Everything here runs on the single writer thread, so the caches need no locks; the
writer calls :meth:`PointsProjection.reset` after any rollback, and the caches are
rebuilt from the database on the next miss. Rules read only event data and event
times, never the wall clock, so a replay produces the same ledger. Days and weeks are
local to the community's timezone (``settings["timezone"]``), cached with its rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.events import MessagePosted, ReactionAdded, ReactionRemoved
from engine.points import days as D
from engine.points import rules as R
from engine.points.badges import BADGE_KEYS, WEEKLY_TOP_HELPER, earned
from engine.points.tables import (
    BADGES_TABLE,
    LEDGER,
    MEMBERS,
    SEASONS,
    PointsBadge,
    PointsEntry,
    PointsMember,
    PointsSeason,
)
from engine.refusal import Refusal
from engine.store.base import table_of
from engine.store.community_settings import lookup, store_setting, stored_settings
from engine.store.models import (
    Account,
    AuditEntry,
    CommunityMember,
    Member,
    Message,
    Reaction,
    Thread,
)
from engine.store.recorder import Recorded
from engine.store.writer import Notice, projections_in
from engine.text import clean_text, fingerprint

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


def _generation_key(base: str, generation: int) -> str:
    """Source key of the ``generation``-th award for one cause: the first keeps the plain
    key, a re-award after a revocation appends ``/n`` (so the unique ledger key holds)."""
    return base if generation <= 1 else f"{base}/{generation}"


def _generation_of(key: str, base: str) -> int:
    return 1 if key == base else int(key[len(base) + 1:])


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


class PointsProjection:
    """The writer projection for points (``name = "points"``)."""

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
                          source_key=_generation_key(base, generation + 1), at=at, subject=subject,
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
        latest = max(awards, key=lambda r: _generation_of(r.source_key, base))
        generation = _generation_of(latest.source_key, base)
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

    # -- the projection --------------------------------------------------------------
    def project(self, session: Session, recorded: Recorded) -> Sequence[Notice]:
        """Apply the rules to one stored event; returns badge / level-up notices."""
        ev = recorded.event
        if not self.enabled or ev.is_private or recorded.member_id is None:
            return ()
        if not isinstance(ev, MessagePosted | ReactionAdded | ReactionRemoved):
            return ()
        rules, _ = self._settings(session, recorded.community_id)
        if not rules.enabled:
            return ()
        tz = self._zones[recorded.community_id]
        notices: list[Notice] = []
        self._weekly(session, recorded.community_id, ev.at, tz, notices)
        if ev.is_bot:
            self._bots[recorded.member_id] = True
            return self._for_announcing(session, notices, str(ev.platform))
        # The acting account is human; remember it so replies/reactions to this member
        # need no account lookup later.
        self._bots.setdefault(recorded.member_id, False)
        if isinstance(ev, MessagePosted):
            self._on_message(session, rules, tz, recorded, ev, notices)
        elif isinstance(ev, ReactionAdded):
            self._on_reaction(session, rules, tz, recorded, ev, notices)
        else:
            self._on_reaction_removed(session, recorded, ev, notices)
        return self._for_announcing(session, notices, str(ev.platform))

    def _for_announcing(self, session: Session, notices: list[Notice], platform: str) -> list[Notice]:
        """Add what an announcement needs (name, account, language, whether to announce)
        while the writer has it at hand, so the chat side needs no database read."""
        if not notices:
            return notices
        conn = session.connection()
        out = []
        for n in notices:
            if n.member_id is None:
                out.append(n)
                continue
            rules, points = self._settings(session, n.community_id)
            name = self._names.get(n.member_id)
            if name is None:
                name = self._names[n.member_id] = conn.execute(_MEMBER_NAME, {"member_id": n.member_id}).scalar_one_or_none() or f"#{n.member_id}"
            account = conn.execute(_ACCOUNT_OF, {"member_id": n.member_id, "platform": platform}).scalar_one_or_none()
            out.append(Notice(n.kind, n.community_id, n.member_id, {
                **n.data, "name": name, "account": account, "language": self._languages.get(n.community_id),
                "announce": rules.announce, "level_roles": points.get("level_roles")}))
        return out

    def _on_message(self, session: Session, rules: R.PointsRules, tz: tzinfo, rec: Recorded,
                    ev: MessagePosted, notices: list[Notice]) -> None:
        if rec.message_id is None or ev.forwarded or ev.sender_chat_id:
            return  # re-delivered under another key, someone else's words, or anonymous
        cid, mid = rec.community_id, rec.member_id
        assert mid is not None
        text = clean_text(ev.text).strip()
        fp = fingerprint(text)
        m = self._member(session, cid, mid)
        level_before = m.level
        base = R.message_award(rules, m.state, ev.at, len(text), fp, tz)
        changed = False
        if base:
            changed = True
            m.state.bump("messages")
            paid, _ = self._capped(rules, m, base, ev.at, tz)
            if paid:
                self._post(session, cid, mid, m, amount=paid, rule="message",
                           source_key=f"msg:{rec.message_id}", at=ev.at, subject=rec.message_id, fresh=True)
            if R.advance_streak(m.state, ev.at, tz):
                bonus = rules.milestone_bonus(m.state.streak)
                if bonus:
                    self._post(session, cid, mid, m, amount=bonus, rule="streak",
                               source_key=f"streak:{m.state.streak_start}:{m.state.streak}", at=ev.at)
        if changed:
            self._finish(session, cid, mid, m, ev.at, notices, level_before)
        target = rec.target_member_id
        # A message seen being posted: its reply target is known and it has no reactions
        # yet, so later reactions to it need no lookups.
        self._remember_reply(rec.message_id, target)
        if len(self._reaction_counts) > _MAX_CACHE:
            self._reaction_counts.clear()
            self._reactors.clear()
            self._revoked_reactions.clear()
            self._repliers.clear()
        self._reaction_counts.setdefault(rec.message_id, 0)
        self._reactors.setdefault(rec.message_id, set())
        if ev.message_id:
            self._repliers.setdefault((rec.chat_id, ev.message_id), set())
        # A reply pays the author of the replied-to message, once per distinct replier,
        # and only for a reply that is itself a real message (long enough).
        if (target is None or target == mid or not ev.reply_to_message_id
                or len(text) < rules.message_min_length or self._is_bot(session, target)):
            return
        repliers = self._repliers.get((rec.chat_id, ev.reply_to_message_id))
        if repliers is not None and mid in repliers:
            return  # this member's reply to that message was already credited
        tm = self._member(session, cid, target)
        t_level = tm.level
        snap = R.day_snapshot(tm.state)
        if not R.pair_allows(rules, tm.state, mid, ev.at, tz):
            return  # the pair is at its cap; nothing changed
        paid, _ = self._capped(rules, tm, rules.reply_points, ev.at, tz)
        key = f"reply:{rec.chat_id}:{ev.reply_to_message_id}:{mid}"
        if paid:
            if self._post(session, cid, target, tm, amount=paid, rule="reply", source_key=key, at=ev.at,
                          subject=rec.message_id, fresh=repliers is not None):
                if repliers is not None:
                    repliers.add(mid)
            else:
                self._undo(tm, snap)
        self._finish(session, cid, target, tm, ev.at, notices, t_level)

    def _remember_reply(self, message_id: int, replied_to: int | None) -> None:
        if len(self._reply_to) > _MAX_CACHE:
            self._reply_to.clear()
        self._reply_to[message_id] = replied_to

    def _replied_to(self, session: Session, message_id: int) -> int | None:
        if message_id not in self._reply_to:
            self._remember_reply(message_id, session.connection().execute(
                select(Message.reply_to_author_id).where(Message.id == message_id)
            ).scalar_one_or_none())
        return self._reply_to[message_id]

    def _on_reaction(self, session: Session, rules: R.PointsRules, tz: tzinfo, rec: Recorded,
                     ev: ReactionAdded, notices: list[Notice]) -> None:
        cid, giver, target, msg = rec.community_id, rec.member_id, rec.target_member_id, rec.message_id
        assert giver is not None
        if target is None or msg is None or target == giver or self._is_bot(session, target):
            return
        if ev.emoji in R.ACCEPT_EMOJI and self._may_accept(session, cid, msg, giver):
            notices.extend(self.accept_answer(session, cid, msg, target, giver, ev.at, reason=ev.emoji))
            return
        reactors = self._reactors.get(msg)
        if reactors is not None and giver in reactors:
            return  # one member counts once per message, whatever emoji
        count = self._reaction_counts.get(msg)
        if count is None:
            self.flush(session)  # the count below must see queued rows
            # A range on the unique (source_key, ...) index: no extra index needed.
            # Paid reactions still standing: awards minus their revocations.
            count = int(session.connection().execute(
                select(func.coalesce(func.sum(case((PointsEntry.rule == "reaction", 1), else_=-1)), 0))
                .where(PointsEntry.source_key >= f"react:{msg}:", PointsEntry.source_key < f"react:{msg};",
                       PointsEntry.rule.in_(("reaction", R.REVOKED_RULE["reaction"])))
            ).scalar_one())
        if count >= rules.reactions_per_message_cap:
            self._reaction_counts[msg] = count
            return
        tm = self._member(session, cid, target)
        level_before = tm.level
        snap = R.day_snapshot(tm.state)
        if not R.pair_allows(rules, tm.state, giver, ev.at, tz):
            return  # nothing else changed; the pair counter is already at its cap
        paid, _ = self._capped(rules, tm, rules.reaction_points, ev.at, tz)
        # One member counts once per message, whatever emoji: the source key has no emoji.
        # The emoji goes in the reason, so only removing that same emoji revokes the award.
        base = f"react:{msg}:{giver}"
        if reactors is not None:
            # Every award for this message went through this cache: the key is new.
            key = _generation_key(base, self._revoked_reactions.get((msg, giver), 0) + 1)
            posted = self._post(session, cid, target, tm, amount=paid, rule="reaction", source_key=key,
                                at=ev.at, subject=msg, reason=ev.emoji, fresh=True)
        else:
            posted = self._post_award(session, cid, target, tm, amount=paid, rule="reaction", base=base,
                                      at=ev.at, subject=msg, reason=ev.emoji)
        if not posted:
            self._undo(tm, snap)
            return
        if reactors is not None:
            reactors.add(giver)
        if len(self._reaction_counts) > _MAX_CACHE:
            self._reaction_counts.clear()
        self._reaction_counts[msg] = count + 1
        tm.state.bump("reactions")
        if self._replied_to(session, msg) == giver:
            R.note_helped(tm.state, giver)  # they reacted to an answer to their own message
        self._finish(session, cid, target, tm, ev.at, notices, level_before)

    # -- removed reactions -------------------------------------------------------------
    def _on_reaction_removed(self, session: Session, rec: Recorded, ev: ReactionRemoved,
                             notices: list[Notice]) -> None:
        """Take back what the removed reaction earned, with a compensating ledger entry.

        Revokes the live reaction award (or ✅ acceptance) that this same member earned
        for this message with this same emoji; nothing else. Idempotent by state, not by
        the event's key: once revoked, no live award is left to revoke, so a redelivered
        removal (Discord's may carry a new time, hence a new dedup key) changes nothing.
        Re-adding the reaction later earns one new award, under the rules of that moment.
        """
        giver, msg = rec.member_id, rec.message_id
        assert giver is not None
        if msg is None:
            return  # the message was never stored, so it cannot have earned anything
        emoji = clean_text(ev.emoji)[:512]
        if ev.emoji in R.ACCEPT_EMOJI:
            live, _ = self._live_award(session, f"accept:{msg}", "accepted")
            # Only an acceptance made by this reaction: not a /solved, not someone else's ✅.
            if live is not None and live.actor_id == giver and live.reason == emoji:
                self._revoke(session, rec.community_id, live, "accepted", giver, ev.at, msg, emoji, notices)
                return
        live, generation = self._live_award(session, f"react:{msg}:{giver}", "reaction")
        if live is None:
            return
        # Awards from before revocations existed did not record their emoji: they are taken
        # back once the member has no reaction left on the message.
        if live.reason != emoji and (live.reason or self._still_reacting(session, rec, giver)):
            return
        if self._revoke(session, rec.community_id, live, "reaction", giver, ev.at, msg, emoji, notices):
            reactors = self._reactors.get(msg)
            if reactors is not None:
                reactors.discard(giver)
                self._revoked_reactions[(msg, giver)] = generation
            count = self._reaction_counts.get(msg)
            if count is not None:
                self._reaction_counts[msg] = max(0, count - 1)

    def _still_reacting(self, session: Session, rec: Recorded, giver: int) -> bool:
        """Whether ``giver`` still has some reaction on the event's message (the recorder
        has already marked this removal)."""
        return bool(session.connection().execute(
            select(func.count()).select_from(Reaction).where(
                Reaction.chat_id == rec.chat_id, Reaction.message_external_id == (rec.event.message_id or ""),
                Reaction.member_id == giver, Reaction.removed_at.is_(None))
        ).scalar_one())

    def _revoke(self, session: Session, community_id: int, live: _Award, rule: str, giver: int,
                at: datetime, message_id: int, emoji: str, notices: list[Notice]) -> bool:
        """Append the entry that cancels ``live`` and undo its counters. False if it was
        revoked already (nothing changes then).

        The original row stays (the ledger is append-only); the revocation reuses its source
        key under the ``*_revoked`` rule, so the unique index allows one per award. The
        daily-cap room and pair credit the award used come back if the award was earned
        on the member's current local day (:func:`engine.points.rules.give_back`). Badges
        already earned stay, and a level lost here is not announced again when regained
        (see :meth:`_finish`). The full amount is taken back even when a manual take has
        since left less than that, so the total can go below zero.
        """
        m = self._member(session, community_id, live.member_id)
        level_before = m.level
        if not self._post(session, community_id, live.member_id, m, amount=-live.amount,
                          rule=R.REVOKED_RULE[rule], source_key=live.source_key, at=at,
                          subject=message_id, actor=giver, reason=emoji):
            return False
        R.give_back(m.state, giver, live.amount, live.at)
        m.state.bump("accepted" if rule == "accepted" else "reactions", -1)
        self._finish(session, community_id, live.member_id, m, at, notices, level_before)
        return True

    def _may_accept(self, session: Session, community_id: int, message_id: int, acceptor: int) -> bool:
        """Whether ``acceptor`` asked the question ``message_id`` answers (replied-to author
        or thread starter) or is one of Cohort's own moderators in the community."""
        conn = session.connection()
        row = conn.execute(_ASKER_OF, {"message_id": message_id}).first()
        if row is None:
            return False
        if row[0] == acceptor or (row[1] == acceptor and not row[2]):
            return True
        role = conn.execute(_STORED_ROLE, {"community_id": community_id, "member_id": acceptor}).scalar_one_or_none()
        return bool(role and role >= 1)

    # -- accepted answers ----------------------------------------------------------------
    def accept_answer(self, session: Session, community_id: int, message_id: int, answerer: int,
                      acceptor: int, at: datetime, *, reason: str = "") -> list[Notice]:
        """Pay ``answerer`` for the answer ``message_id`` that ``acceptor`` accepted.

        Once per answer message while that acceptance stands (a second acceptance changes
        nothing; after a ✅ acceptance was revoked by removing the ✅, a new one pays
        again). ``reason`` is the ✅ emoji when a reaction accepted, so removing it can
        revoke. Self-acceptance, bots and a pair over its daily cap earn nothing. The
        caller has checked that the acceptor may accept. Returns notices; raises nothing
        for those cases.
        """
        if answerer == acceptor or self._is_bot(session, answerer) or self._is_bot(session, acceptor):
            return []
        rules, _ = self._settings(session, community_id)
        if not rules.enabled:
            return []
        tz = self._zones[community_id]
        m = self._member(session, community_id, answerer)
        level_before = m.level
        snap = R.day_snapshot(m.state)
        if not R.pair_allows(rules, m.state, acceptor, at, tz):
            return []
        paid, _ = self._capped(rules, m, rules.accepted_points, at, tz)
        # Recorded even when the daily cap pays 0: the acceptance still counts for badges.
        if not self._post_award(session, community_id, answerer, m, amount=paid, rule="accepted",
                                base=f"accept:{message_id}", at=at, subject=message_id, actor=acceptor,
                                reason=reason):
            self._undo(m, snap)
            return []
        m.state.bump("accepted")
        R.note_helped(m.state, acceptor)
        notices: list[Notice] = [Notice("accepted", community_id, answerer,
                                        {"points": paid, "acceptor": acceptor, "message_id": message_id})]
        self._finish(session, community_id, answerer, m, at, notices, level_before)
        return notices

    # -- weekly top helper ----------------------------------------------------------------
    def _weekly(self, session: Session, community_id: int, at: datetime, tz: tzinfo,
                notices: list[Notice]) -> None:
        """Once per new local week: the last week's top helper gets the weekly badge."""
        week = D.week_key(at, tz)
        seen = self._weeks.get(community_id)
        if seen is not None and week <= seen:
            return
        self._weeks[community_id] = week
        self.flush(session)
        start, end, label = D.previous_week(at, tz)
        top = session.execute(
            select(PointsEntry.member_id, func.sum(PointsEntry.amount).label("pts"),
                   func.max(PointsEntry.at).label("last"))
            .where(PointsEntry.community_id == community_id, PointsEntry.at >= start,
                   PointsEntry.at < end, PointsEntry.rule.in_(R.HELP_RULES))
            .group_by(PointsEntry.member_id)
            .order_by(func.sum(PointsEntry.amount).desc(), func.max(PointsEntry.at), PointsEntry.member_id)
            .limit(1)
        ).first()
        if top is None or int(top[1] or 0) <= 0:
            return
        if self._grant(session, community_id, int(top[0]), None, WEEKLY_TOP_HELPER, label, end):
            notices.append(Notice("badge", community_id, int(top[0]), {"badge": WEEKLY_TOP_HELPER, "week": label}))

    # -- manual and external writes (called via Store.write, on the writer thread) --------
    def adjust(self, session: Session, community_id: int, member_id: int, amount: int, *,
               actor_id: int | None, reason: str, at: datetime, source_key: str) -> AdjustResult:
        """Give (amount > 0) or take (amount < 0) points by hand, with an audit entry.

        Raises :class:`PointsError` ``bad_amount`` for 0 or ``|amount| > MAX_AMOUNT``,
        ``self`` when the actor is the member, ``bot`` for a bot, ``negative`` when a
        take would leave a negative balance, ``duplicate`` for a replayed source key.
        """
        if amount == 0 or abs(amount) > MAX_AMOUNT:
            raise PointsError("bad_amount", max=MAX_AMOUNT)
        if actor_id is not None and actor_id == member_id:
            raise PointsError("self")
        if self._is_bot(session, member_id):
            raise PointsError("bot")
        m = self._member(session, community_id, member_id)
        if m.total + amount < 0:
            raise PointsError("negative", total=m.total)
        level_before = m.level
        if not self._post(session, community_id, member_id, m, amount=amount, rule="manual",
                          source_key=source_key, at=at, actor=actor_id, reason=reason):
            raise PointsError("duplicate")
        self._audit(session, community_id, actor_id, "points.give" if amount > 0 else "points.take",
                    member_id, {"amount": amount, "reason": reason, "total": m.total}, at)
        notices: list[Notice] = []
        self._finish(session, community_id, member_id, m, at, notices, level_before)
        return AdjustResult(m.total, tuple(notices))

    def award_completion(self, session: Session, community_id: int, member_id: int, item_key: str,
                         points: int, at: datetime, source_key: str) -> list[Notice]:
        """Pay a completed course item (not subject to the daily cap). Once per
        (source_key, member). Raises :class:`PointsError` ``bad_amount`` for points outside
        0..MAX_AMOUNT. Returns badge / level-up notices (empty for a repeat or a bot)."""
        if not 0 <= points <= MAX_AMOUNT:
            raise PointsError("bad_amount", max=MAX_AMOUNT)
        if self._is_bot(session, member_id):
            return []
        m = self._member(session, community_id, member_id)
        level_before = m.level
        if not self._post(session, community_id, member_id, m, amount=points, rule="completion",
                          source_key=source_key, at=at, reason=item_key):
            return []
        m.state.bump("completions")
        notices: list[Notice] = []
        self._finish(session, community_id, member_id, m, at, notices, level_before)
        return notices

    def award_course_finished(self, session: Session, community_id: int, member_id: int,
                              course_key: str, at: datetime) -> list[Notice]:
        """Count a finished course (for the ``course_finisher`` badge); once per course.
        Returns badge notices."""
        m = self._member(session, community_id, member_id)
        if not self._post(session, community_id, member_id, m, amount=0, rule="course",
                          source_key=f"course:{course_key}", at=at, reason=course_key):
            return []
        m.state.bump("courses")
        notices: list[Notice] = []
        self._finish(session, community_id, member_id, m, at, notices, m.level)
        return notices

    def grant_badge(self, session: Session, community_id: int, member_id: int, badge: str, *,
                    actor_id: int | None, at: datetime, reason: str = "") -> Notice:
        """Grant a badge by hand (or restore a revoked one), with an audit entry.

        Returns the badge notice. Raises :class:`PointsError` ``unknown_badge``, ``bot``,
        ``self`` (a moderator granting themselves) or ``already`` (held now).
        """
        if badge not in BADGE_KEYS:
            raise PointsError("unknown_badge", badges=sorted(BADGE_KEYS))
        if actor_id is not None and actor_id == member_id:
            raise PointsError("self")
        if self._is_bot(session, member_id):
            raise PointsError("bot")
        m = self._member(session, community_id, member_id)
        if not self._grant(session, community_id, member_id, m, badge, "", at, actor_id):
            restored = session.execute(
                update(PointsBadge)
                .where(PointsBadge.community_id == community_id, PointsBadge.member_id == member_id,
                       PointsBadge.badge == badge, PointsBadge.instance == "",
                       PointsBadge.revoked_at.is_not(None))
                .values(revoked_at=None, actor_id=actor_id)
            ).rowcount  # type: ignore[attr-defined]
            if not restored:
                raise PointsError("already")
        self._save(session, community_id, member_id, m)  # a badge holder always has a row
        self._audit(session, community_id, actor_id, "badge.grant", member_id,
                    {"badge": badge, "reason": reason}, at)
        return Notice("badge", community_id, member_id, {"badge": badge})

    def revoke_badge(self, session: Session, community_id: int, member_id: int, badge: str, *,
                     actor_id: int | None, at: datetime, reason: str = "") -> None:
        """Revoke a held badge (all instances); it is not re-awarded automatically.

        Raises :class:`PointsError` ``unknown_badge`` or ``not_held``.
        """
        if badge not in BADGE_KEYS:
            raise PointsError("unknown_badge", badges=sorted(BADGE_KEYS))
        done = session.execute(
            update(PointsBadge)
            .where(PointsBadge.community_id == community_id, PointsBadge.member_id == member_id,
                   PointsBadge.badge == badge, PointsBadge.revoked_at.is_(None))
            .values(revoked_at=at)
        ).rowcount  # type: ignore[attr-defined]
        if not done:
            raise PointsError("not_held")
        self._audit(session, community_id, actor_id, "badge.revoke", member_id,
                    {"badge": badge, "reason": reason}, at)

    def start_season(self, session: Session, community_id: int, name: str, *,
                     actor_id: int | None, at: datetime) -> int:
        """Open a season starting at ``at``; returns its id. Raises :class:`PointsError`
        ``season_open`` (with its name) if one is running, ``bad_name`` if empty."""
        name = clean_text(name).strip()[:128]
        if not name:
            raise PointsError("bad_name")
        running = active_season(session, community_id)
        if running is not None:
            raise PointsError("season_open", name=running.name)
        sid = session.execute(SEASONS.insert().values(
            community_id=community_id, name=name, started_at=at, ended_at=None, started_by=actor_id,
        ).returning(PointsSeason.id)).scalar_one()
        self._audit(session, community_id, actor_id, "season.start", None, {"name": name, "season": sid}, at)
        return int(sid)

    def end_season(self, session: Session, community_id: int, *, actor_id: int | None, at: datetime) -> str:
        """Close the running season at ``at``; returns its name. Raises
        :class:`PointsError` ``no_season`` when none is running."""
        running = active_season(session, community_id)
        if running is None:
            raise PointsError("no_season")
        session.execute(update(PointsSeason).where(PointsSeason.id == running.id).values(ended_at=at))
        self._audit(session, community_id, actor_id, "season.end", None,
                    {"name": running.name, "season": running.id}, at)
        return running.name

    def set_setting(self, session: Session, community_id: int, key: str, raw: str, *,
                    actor_id: int | None, at: datetime) -> Any:
        """Validate and store ``points.<key>`` for the community; returns the stored value.

        Raises :class:`engine.points.rules.RuleValueError` for a bad key or value.
        """
        value = R.parse_setting(key, raw)
        old = store_setting(session, community_id, f"points.{key}", value)
        self._rules.pop(community_id, None)
        # Levels depend on the curve: reload so the next change recomputes them.
        self._drop([k for k in self._members if k[0] == community_id])
        self._audit(session, community_id, actor_id, "config.points", None,
                    {"key": key, "value": value, "previous": old}, at)
        return value

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


def live_projections(session: Session) -> list[PointsProjection]:
    """The points projections of the writer transaction ``session`` belongs to."""
    return [p for p in projections_in(session) if isinstance(p, PointsProjection)]


def invalidate_everywhere(session: Session, community_id: int | None = None, member_id: int | None = None) -> None:
    """Drop cached state in the writer's points projections (after a write that bypassed them)."""
    for proj in live_projections(session):
        proj.invalidate(community_id, member_id)


def flush_everywhere(session: Session) -> None:
    """Write pending balance/state rows of the writer's points projections (before another
    writer reads or changes ``points_members`` in the same transaction)."""
    for proj in live_projections(session):
        proj.flush(session)
