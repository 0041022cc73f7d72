"""Badges as declarative rules: a badge is earned when a member counter reaches a threshold.

Each badge is awarded at most once per member and community (a unique key in
``points_badges``); ``weekly_top_helper`` is the one repeating badge, once per ISO week
(its week is the instance part of the key). Names and descriptions shown to members
live in the bot's message catalog; here are the keys and the conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BadgeRule:
    """Earned when ``stat`` (a :class:`~engine.points.rules.MemberState` counter, or
    ``best_streak`` / ``helped``) reaches ``threshold``. ``stat=""`` means only granted
    explicitly (by a moderator, the catalog, or the weekly job)."""

    key: str
    stat: str
    threshold: int = 1
    description: str = ""


BADGES: tuple[BadgeRule, ...] = (
    BadgeRule("first_message", "messages", 1, "posted a first counted message"),
    BadgeRule("first_accepted", "accepted", 1, "had a first answer accepted"),
    BadgeRule("accepted_10", "accepted", 10, "had 10 answers accepted"),
    BadgeRule("streak_7", "best_streak", 7, "kept a 7-day streak"),
    BadgeRule("streak_30", "best_streak", 30, "kept a 30-day streak"),
    BadgeRule("helped_10", "helped", 10, "helped 10 different members"),
    BadgeRule("first_completion", "completions", 1, "completed a first course item"),
    BadgeRule("course_finisher", "courses", 1, "finished a whole course"),
    BadgeRule("weekly_top_helper", "", 0, "helped the most in a week"),
    BadgeRule("first_week", "", 0, "finished the first-week checklist (granted by onboarding)"),
)
BADGE_KEYS: frozenset[str] = frozenset(b.key for b in BADGES)
WEEKLY_TOP_HELPER = "weekly_top_helper"


def earned(stats: Mapping[str, int], held: Iterable[str]) -> list[str]:
    """Keys of automatic badges ``stats`` qualifies for that are not in ``held``, in
    declaration order (so announcements come out in a stable order)."""
    have = set(held)
    return [
        b.key for b in BADGES
        if b.stat and b.key not in have and stats.get(b.stat, 0) >= b.threshold
    ]
