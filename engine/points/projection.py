"""The points projection: applies the rules to each stored event inside the writer's
transaction. Its caches and ledger primitives are :mod:`engine.points.ledger`'s, the
manual operations sharing them :mod:`engine.points.admin`'s, the rules
:mod:`engine.points.rules`' (pure).

Everything here runs on the single writer thread, so the caches need no locks; the
writer calls :meth:`PointsProjection.reset` after any rollback, and the caches are
rebuilt from the database on the next miss. Rules read only event data and event
times, never the wall clock, so a replay produces the same ledger. Days and weeks are
local to the community's timezone (``settings["timezone"]``), cached with its rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.events import MessagePosted, ReactionAdded, ReactionRemoved
from engine.points import days as D
from engine.points import rules as R
from engine.points.admin import PointsAdmin
from engine.points.badges import WEEKLY_TOP_HELPER
from engine.points.ledger import (  # MAX_AMOUNT, AdjustResult, PointsError re-exported
    _ACCOUNT_OF,
    _ASKER_OF,
    _MAX_CACHE,
    _MEMBER_NAME,
    _STORED_ROLE,
    MAX_AMOUNT,
    AdjustResult,
    PointsError,
    _Award,
    active_season,
)
from engine.points.tables import PointsEntry
from engine.store.models import Message, Reaction
from engine.store.recorder import Recorded
from engine.store.writer import Notice, projections_in
from engine.text import clean_text, fingerprint

__all__ = ["MAX_AMOUNT", "AdjustResult", "PointsError", "PointsProjection", "active_season", "flush_everywhere",
           "invalidate_everywhere", "live_projections"]


class PointsProjection(PointsAdmin):
    """The writer projection for points (``name = "points"``): the caches, the manual
    operations and, here, the rules applied to every stored event."""

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
            key = R.award_key(base, self._revoked_reactions.get((msg, giver), 0) + 1)
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
