"""Manual and external points writes — give/take, badges by hand, seasons, rule settings,
course completions — each with its audit entry, through the ledger's caches. Called via
``Store.write`` (the writer thread), by the commands and by other capabilities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.points import rules as R
from engine.points.badges import BADGE_KEYS
from engine.points.ledger import MAX_AMOUNT, AdjustResult, PointsError, PointsLedger, active_season
from engine.points.tables import (
    SEASONS,
    PointsBadge,
    PointsSeason,
)
from engine.store.community_settings import store_setting
from engine.store.writer import Notice
from engine.text import clean_text


class PointsAdmin(PointsLedger):
    """The manual operations (one object with the projection: they share its caches)."""

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
