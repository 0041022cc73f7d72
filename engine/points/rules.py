"""Points rules: what earns points, how much, and the limits that make farming pointless.

Everything here is pure: no database, no clock. Every decision is a function of the
rules, the community's timezone, a member's :class:`MemberState` and the *event's* time,
so replaying the same events rebuilds exactly the same ledger. Days are local days of
the community's timezone (:mod:`engine.points.days`); timestamps stay UTC.

Design in one paragraph: talking earns a little, being useful earns more. A message
earns :attr:`PointsRules.message_points` at most once per cooldown and only above a
minimum length, and a near-duplicate of a recent message earns nothing. What other
members do *because of you* earns more: a reply from a distinct member, a reaction from
a distinct member (capped per message), and most of all an answer the asker marks as
accepted. Automatic points share a daily cap with diminishing returns, and credit
flowing from one member to another is capped per day, so a pair (or a ring) of
accounts feeding each other hits a ceiling quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from engine.args import ArgError, excerpt, is_ascii_number, parse_decimal, parse_int
from engine.points.days import day_of, load_zone, zone_name
from engine.refusal import Refusal

# Reactions that mean "this answered my question" when the asker (or a moderator) adds them.
ACCEPT_EMOJI = frozenset({"✅", "✔️", "✔", "☑️", "☑"})

# Compensating entries: a removed reaction (or a removed ✅ acceptance) takes back what
# its award paid, under the award's own source key; see ``PointsProjection``.
REVOKED_RULE = {"reaction": "reaction_revoked", "accepted": "accepted_revoked"}
# Rules whose points count as "helping" (weekly top helper, helped-members badge); the
# revocations are in it so that add/remove cycles net to nothing on the weekly board.
HELP_RULES = ("reply", "reaction", "accepted", *REVOKED_RULE.values())
# Rules subject to the daily cap; manual changes, completions and streak bonuses are not.
CAPPED_RULES = ("message", "reply", "reaction", "accepted")


@dataclass(frozen=True, slots=True)
class PointsRules:
    """Per-community points rules. Defaults are declared here; a community overrides any
    of them under ``communities.settings["points"]`` (``/config points.<key> <value>``).

    Rationale for the defaults:

    * ``message_points=1``: talking keeps people present, but must never be the fastest
      way up the board; one point per minute at most cannot be farmed into a lead.
    * ``message_min_length=15``: filters "ok", "+1", "lol" and emoji-only messages while
      still counting a short real sentence.
    * ``message_cooldown_seconds=60``: a burst of ten messages is one contribution.
    * ``duplicate_window_hours=24``: a copy-pasted message (same text up to case, spacing
      and punctuation, see :func:`engine.text.fingerprint`) earns once a day.
    * ``reply_points=3``: another member found your message worth answering; each
      distinct replier counts once per message.
    * ``reaction_points=2`` with ``reactions_per_message_cap=5``: a liked message earns at
      most 10 points however many reactions it gets; one member counts once per message
      whatever emoji they add.
    * ``accepted_points=15``: solving someone's problem is what a learning community is
      for, so it is worth fifteen minutes of chatter.
    * ``pair_daily_cap=3``: at most three credited replies/reactions/acceptances per day
      from one member to the same other member, so two accounts reacting to each other
      in a loop earn almost nothing.
    * ``daily_soft_cap=40``, ``diminishing_percent=50``, ``daily_cap=100``: automatic
      points above 40 a day are halved and stop at 100, so a member active all day
      cannot outrun a member who helps a little every day (streaks reward that).
    * ``streak_milestones``: bonus points on the 3rd, 7th, 14th, 30th, 60th and 100th
      consecutive (local) day with a counted message; regularity over volume.
    * ``level_base=50``, ``level_exponent=1.6``: see :func:`points_for_level`.
    """

    enabled: bool = True
    message_points: int = 1
    message_min_length: int = 15
    message_cooldown_seconds: int = 60
    duplicate_window_hours: int = 24
    reply_points: int = 3
    reaction_points: int = 2
    reactions_per_message_cap: int = 5
    accepted_points: int = 15
    pair_daily_cap: int = 3
    daily_soft_cap: int = 40
    diminishing_percent: int = 50
    daily_cap: int = 100
    streak_milestones: tuple[tuple[int, int], ...] = ((3, 5), (7, 15), (14, 25), (30, 60), (60, 100), (100, 200))
    level_base: int = 50
    level_exponent: float = 1.6
    announce: bool = True

    def milestone_bonus(self, streak: int) -> int:
        """Bonus points for reaching exactly ``streak`` days (0 if it is no milestone)."""
        return dict(self.streak_milestones).get(streak, 0)


# key -> (minimum, maximum) for numeric settings: what /config accepts.
RANGES: dict[str, tuple[float, float]] = {
    "message_points": (0, 100),
    "message_min_length": (0, 2000),
    "message_cooldown_seconds": (0, 86_400),
    "duplicate_window_hours": (0, 24 * 30),
    "reply_points": (0, 1000),
    "reaction_points": (0, 1000),
    "reactions_per_message_cap": (0, 1000),
    "accepted_points": (0, 10_000),
    "pair_daily_cap": (0, 1000),
    "daily_soft_cap": (0, 100_000),
    "diminishing_percent": (0, 100),
    "daily_cap": (0, 100_000),
    "level_base": (1, 100_000),
    "level_exponent": (1.0, 3.0),
}
# Settings under "points" that are not PointsRules fields but are still valid keys.
EXTRA_KEYS = ("level_roles",)


def valid_keys() -> list[str]:
    """Every key ``/config points.<key>`` accepts, sorted."""
    return sorted([f.name for f in fields(PointsRules)] + list(EXTRA_KEYS))


class RuleValueError(Refusal, ValueError):
    """A bad ``points.<key>`` value or key; the message says what is allowed."""


def _parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise RuleValueError(f"expected on/off, got {raw!r}")


def _parse_milestones(raw: str) -> list[list[int]]:
    out: list[list[int]] = []
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        days_s, sep, pts_s = part.partition(":")
        if not sep or not days_s or not pts_s:
            raise RuleValueError(f"expected DAYS:POINTS,... e.g. 3:5,7:15 — got {excerpt(raw)!r}")
        try:
            days = parse_int(days_s, lo=1, hi=3650, what="streak days")
            pts = parse_int(pts_s, lo=0, hi=10_000, what="streak points")
        except ArgError as exc:
            raise RuleValueError(f"{exc} Expected DAYS:POINTS,... e.g. 3:5,7:15") from None
        out.append([days, pts])
    return sorted(out)


def _parse_level_roles(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        lvl, sep, role = part.partition("=")
        if not sep or not lvl.strip() or not role.strip():
            raise RuleValueError(f"expected LEVEL=Role name,... e.g. 5=Regular,10=Mentor — got {excerpt(raw)!r}")
        try:
            level = parse_int(lvl, lo=1, hi=1000, what="a level")
        except ArgError as exc:
            raise RuleValueError(f"{exc} Expected LEVEL=Role name,... e.g. 5=Regular,10=Mentor") from None
        out[str(level)] = role.strip()[:100]
    return out


def parse_setting(key: str, raw: str) -> Any:
    """Validate a ``/config points.<key> <value>`` value.

    Returns the JSON-storable value. Raises :class:`RuleValueError` for an unknown key
    (listing the valid ones), a wrong type or a value out of range.
    """
    names = {f.name: f for f in fields(PointsRules)}
    if key == "level_roles":
        return _parse_level_roles(raw)
    if key not in names:
        raise RuleValueError(f"unknown key {key!r}; valid keys: {', '.join(valid_keys())}")
    default = getattr(PointsRules(), key)
    if key == "streak_milestones":
        return _parse_milestones(raw)
    if isinstance(default, bool):
        return _parse_bool(raw)
    lo, hi = RANGES[key]
    try:
        if isinstance(default, float):
            return parse_decimal(raw, lo=lo, hi=hi, what=key)
        return parse_int(raw, lo=int(lo), hi=int(hi), what=key)
    except ArgError as exc:
        raise RuleValueError(str(exc)) from None


def rules_from_settings(points: dict[str, Any] | None) -> PointsRules:
    """The effective rules for a community's ``settings["points"]`` dict.

    Unknown keys and values of the wrong shape are ignored (the defaults apply), so a
    hand-edited settings row can never stop event processing. Never raises.
    """
    if not points:
        return PointsRules()
    changes: dict[str, Any] = {}
    defaults = PointsRules()
    for f in fields(PointsRules):
        if f.name not in points:
            continue
        value, default = points[f.name], getattr(defaults, f.name)
        try:
            if f.name == "streak_milestones":
                changes[f.name] = tuple((int(d), int(p)) for d, p in value)
            elif isinstance(default, bool):
                changes[f.name] = bool(value)
            elif isinstance(default, float):
                changes[f.name] = float(value)
            else:
                changes[f.name] = int(value)
        except (TypeError, ValueError):
            continue
    return replace(defaults, **changes)


def level_roles(points: dict[str, Any] | None) -> dict[int, str]:
    """The ``level -> platform role name`` map from a community's points settings."""
    raw = (points or {}).get("level_roles") or {}
    out: dict[int, str] = {}
    if isinstance(raw, dict):
        for lvl, name in raw.items():
            if is_ascii_number(str(lvl)) and isinstance(name, str) and name:
                out[int(lvl)] = name
    return out


# -- levels --------------------------------------------------------------------------


def points_for_level(level: int, rules: PointsRules = PointsRules()) -> int:
    """Cumulative points needed to reach ``level`` (level 0 needs 0).

    Default curve: ``50 * n ** 1.6`` rounded — 50, 152, 290, 459, 657, ... 1,990 for
    level 10, 6,034 for level 20. A power below 2 keeps every level reachable within a
    cohort's lifetime (the daily cap bounds how fast anyone climbs) while each level
    still takes a bit longer than the one before; an exponential curve would freeze
    veterans in place.
    """
    if level <= 0:
        return 0
    return round(rules.level_base * level ** rules.level_exponent)


def level_for(points: int, rules: PointsRules = PointsRules()) -> int:
    """The level a member with ``points`` cumulative points is at (0 below level 1)."""
    if points < points_for_level(1, rules):
        return 0
    # Invert the curve, then correct for rounding at the boundaries.
    guess = max(1, int((points / rules.level_base) ** (1 / rules.level_exponent)))
    while points_for_level(guess + 1, rules) <= points:
        guess += 1
    while guess > 0 and points_for_level(guess, rules) > points:
        guess -= 1
    return guess


@dataclass(frozen=True, slots=True)
class Progress:
    level: int
    points: int
    floor: int  # points where this level started
    ceiling: int  # points needed for the next level

    @property
    def fraction(self) -> float:
        span = self.ceiling - self.floor
        return 1.0 if span <= 0 else min(1.0, max(0.0, (self.points - self.floor) / span))


def progress(points: int, rules: PointsRules = PointsRules()) -> Progress:
    """Level and position within it for ``points``."""
    lvl = level_for(points, rules)
    return Progress(lvl, points, points_for_level(lvl, rules), points_for_level(lvl + 1, rules))


def progress_bar(fraction: float, width: int = 10) -> str:
    """A text bar like ``▰▰▰▱▱▱▱▱▱▱`` (renders on every platform, no markup)."""
    filled = min(width, max(0, int(fraction * width + 1e-9)))
    return "▰" * filled + "▱" * (width - filled)


# -- per-member state -----------------------------------------------------------------


@dataclass
class MemberState:
    """What the rules remember about one member in one community.

    Stored as JSON beside the balance (``points_members.state``) and cached by the
    projection; rebuilt exactly by replaying events.
    """

    last_message_award: float | None = None  # event timestamp of the last paid message
    day: str = ""  # ISO local date the day_* counters belong to
    day_points: int = 0  # capped points earned on ``day``
    pairs: dict[str, int] = field(default_factory=dict)  # giver member id -> credits on ``day``
    streak: int = 0
    streak_day: str = ""  # last day counted in the streak
    streak_start: str = ""  # first day of the current streak
    best_streak: int = 0
    fingerprints: dict[str, float] = field(default_factory=dict)  # fingerprint -> paid at
    stats: dict[str, int] = field(default_factory=dict)  # counters badges look at
    helped: list[int] = field(default_factory=list)  # distinct members helped (bounded)
    # Highest level ever announced: a level lost to a revocation or a take and reached
    # again is not announced twice.
    peak_level: int = 0
    # The timezone ``day`` and ``streak_day`` are dates in ("" = UTC); see follow_zone.
    zone: str = ""

    MAX_FINGERPRINTS = 64
    MAX_HELPED = 200

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy (hand-written: ``dataclasses.asdict`` deep-copies and is
        several times slower, and this runs once per changed member per commit)."""
        return {
            "last_message_award": self.last_message_award, "day": self.day,
            "day_points": self.day_points, "pairs": dict(self.pairs), "streak": self.streak,
            "streak_day": self.streak_day, "streak_start": self.streak_start,
            "best_streak": self.best_streak, "fingerprints": dict(self.fingerprints),
            "stats": dict(self.stats), "helped": list(self.helped), "peak_level": self.peak_level,
            "zone": self.zone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> MemberState:
        """Rebuild from stored JSON; unknown keys are dropped, missing ones defaulted."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def bump(self, stat: str, by: int = 1) -> None:
        self.stats[stat] = self.stats.get(stat, 0) + by


def _zone_tag(tz: tzinfo) -> str:
    name = zone_name(tz)
    return "" if name == "UTC" else name


def follow_zone(state: MemberState, at: datetime, tz: tzinfo) -> None:
    """Re-express the state's dates in ``tz`` if the community changed its timezone since
    they were written (a no-op otherwise).

    A change applies from then on, without free cap room or a frozen day: counters of
    the old zone's current day (at ``at``) carry over to the new zone's current day, older
    ones are dropped. The streak's last day is re-dated from the last paid message (a day
    is counted only by a paid message, and ``message_award`` must not have run yet for
    ``at``), so moving midnight does not break a streak (around the switch one day may
    be shorter or longer than 24 hours, as the offset difference says).
    """
    tag = _zone_tag(tz)
    if state.zone == tag:
        return
    old = load_zone(state.zone)
    if state.day:
        then = day_of(at, old)
        if state.day == then:
            state.day = day_of(at, tz)
        elif state.day < then:
            state.day, state.day_points, state.pairs = "", 0, {}
        # (counters of a later day than ``at``'s, for a late event, are kept as they are)
    if state.streak_day and state.last_message_award is not None:
        state.streak_day = day_of(datetime.fromtimestamp(state.last_message_award, UTC), tz)
    state.zone = tag


def day_snapshot(state: MemberState) -> tuple[Any, ...]:
    """What :func:`restore_day` needs to undo a rule's day-counter accounting."""
    return state.day, state.day_points, dict(state.pairs), state.zone, state.streak_day


def restore_day(state: MemberState, snap: tuple[Any, ...]) -> None:
    """Undo day-counter changes (and a zone switch) made since ``snap`` was taken."""
    state.day, state.day_points, state.pairs, state.zone, state.streak_day = snap


def roll_day(state: MemberState, at: datetime, tz: tzinfo = UTC) -> str:
    """Start fresh day counters when ``at`` is on a later local day than the state's.
    Returns ``at``'s local day."""
    follow_zone(state, at, tz)
    today = day_of(at, tz)
    if today > state.day:
        state.day = today
        state.day_points = 0
        state.pairs = {}
    return today


def apply_daily_cap(rules: PointsRules, state: MemberState, amount: int, at: datetime,
                    tz: tzinfo = UTC) -> int:
    """How much of ``amount`` a capped rule may pay now, and count it for today (the
    local day of ``at`` in ``tz``).

    Above ``daily_soft_cap`` an award is scaled by ``diminishing_percent`` (rounded up, so
    a small award is not wiped out), and nothing is paid past ``daily_cap``.
    """
    if amount <= 0:
        return 0
    if roll_day(state, at, tz) < state.day:
        return 0  # a late event from a past day: its day's counters are gone; pay nothing
    remaining = rules.daily_cap - state.day_points
    if remaining <= 0:
        return 0
    if state.day_points >= rules.daily_soft_cap:
        amount = math.ceil(amount * rules.diminishing_percent / 100)
    paid = max(0, min(amount, remaining))
    state.day_points += paid
    return paid


def message_award(
    rules: PointsRules, state: MemberState, at: datetime, text_length: int, fp: str, tz: tzinfo = UTC
) -> int:
    """Points (before the daily cap) a message of ``text_length`` with fingerprint ``fp``
    earns, remembering the cooldown and fingerprint when it earns any. 0 when it is too
    short, within the cooldown or a near-duplicate of a paid message in the window."""
    follow_zone(state, at, tz)  # before the last paid message moves (the streak's re-dating uses it)
    if rules.message_points <= 0 or text_length < max(1, rules.message_min_length):
        return 0
    ts = at.timestamp()
    if state.last_message_award is not None and ts - state.last_message_award < rules.message_cooldown_seconds:
        return 0
    window = rules.duplicate_window_hours * 3600
    seen = state.fingerprints.get(fp)
    if seen is not None and ts - seen < window:
        return 0
    state.last_message_award = ts
    state.fingerprints[fp] = ts
    # Keep the newest few: old ones are outside the window or the map would grow forever.
    if len(state.fingerprints) > MemberState.MAX_FINGERPRINTS:
        for old in sorted(state.fingerprints, key=state.fingerprints.__getitem__)[
            : len(state.fingerprints) - MemberState.MAX_FINGERPRINTS
        ]:
            del state.fingerprints[old]
    return rules.message_points


def pair_allows(rules: PointsRules, state: MemberState, giver: int, at: datetime,
                tz: tzinfo = UTC) -> bool:
    """Whether ``giver`` may still credit this member today (local day of ``at`` in
    ``tz``); counts the credit if so."""
    roll_day(state, at, tz)
    key = str(giver)
    if state.pairs.get(key, 0) >= rules.pair_daily_cap:
        return False
    state.pairs[key] = state.pairs.get(key, 0) + 1
    return True


def give_back(state: MemberState, giver: int, paid: int, awarded_at: datetime) -> None:
    """Undo the day-counter accounting of a revoked award of ``paid`` points that
    ``giver`` credited at ``awarded_at``: its daily-cap room and its pair credit return,
    but only while the counters still belong to the award's local day (an older day's
    counters are gone, and today's must not grow room from yesterday's award). The day
    is taken in the zone the counters were kept in, so no timezone is needed here."""
    if state.day != day_of(awarded_at, load_zone(state.zone)):
        return
    state.day_points = max(0, state.day_points - max(0, paid))
    key = str(giver)
    left = state.pairs.get(key, 0) - 1
    if left > 0:
        state.pairs[key] = left
    else:
        state.pairs.pop(key, None)


def note_helped(state: MemberState, member_id: int) -> bool:
    """Remember that this member helped ``member_id``; True if it is a new one."""
    if member_id in state.helped or len(state.helped) >= MemberState.MAX_HELPED:
        return False
    state.helped.append(member_id)
    return True


def advance_streak(state: MemberState, at: datetime, tz: tzinfo = UTC) -> bool:
    """Count ``at``'s local day (in ``tz``) in the streak. True when the streak grew (a new day)."""
    follow_zone(state, at, tz)
    today = day_of(at, tz)
    if state.streak_day and today <= state.streak_day:
        return False
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    if state.streak_day == yesterday:
        state.streak += 1
    else:
        state.streak = 1
        state.streak_start = today
    state.streak_day = today
    state.best_streak = max(state.best_streak, state.streak)
    return True


def current_streak(state: MemberState, today: date) -> int:
    """The streak as of ``today`` (a local date): still alive if the last counted day was
    today or yesterday."""
    if not state.streak_day:
        return 0
    last = date.fromisoformat(state.streak_day)
    return state.streak if (today - last).days <= 1 else 0


def award_key(base: str, generation: int) -> str:
    """Source key of the ``generation``-th award for one cause: the first keeps the plain
    key, a re-award after a revocation appends ``/n`` (so the unique ledger key holds)."""
    return base if generation <= 1 else f"{base}/{generation}"


def award_generation(key: str, base: str) -> int:
    """Which award for the cause ``base`` the source key ``key`` is (inverse of :func:`award_key`)."""
    return 1 if key == base else int(key[len(base) + 1:])
