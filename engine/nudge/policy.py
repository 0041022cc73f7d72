"""A community's nudge policy: its per-community settings (``nudge.<key>``) with defaults,
parsing and the reasons a value is refused, and the typed :class:`NudgePolicy` they make.

Nudges are off until an admin sends ``/nudge on``. Each ``nudge.<key>`` is declared to the
settings mechanism (``/config nudge.<key> VALUE``, see :mod:`bot.nudges`) with its parser as
the validator; values are stored in the community's settings under ``nudge``
(``{"enabled": true, "threshold": 0.6, ...}``). ``top_percent`` set means "the top k %"
(``none`` goes back to the threshold). A stored value that no longer parses falls back to
its default (a hand-edited row never stops the job).
Pure: no database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.refusal import Refusal

DEFAULT_THRESHOLD = 0.5
DEFAULT_COOLDOWN_DAYS = 14
DEFAULT_DAILY_CAP = 50
DEFAULT_QUIET_HOURS = (22, 8)  # local 22:00 up to 08:00
DEFAULT_LOCAL_HOUR = 10
DEFAULT_CONTROL = 0.2
# Outcomes per arm before ranking by estimated uplift instead of risk: below this a
# two-model estimate of individual effects is mostly noise.
DEFAULT_MIN_OUTCOMES_PER_ARM = 200
OUTCOME_DAYS = 7
MAX_DAILY_CAP = 100_000
RANKINGS = ("auto", "risk", "uplift")


class PolicyError(Refusal, ValueError):
    """A refused setting; the message says why, for the chat."""


@dataclass(frozen=True, slots=True)
class NudgePolicy:
    """What a community decided. ``top_percent`` set means "the top k % by risk" instead of
    "risk ≥ threshold". ``quiet_hours`` is (start, end) local hours, start inclusive, end
    exclusive, wrapping midnight; None for no quiet hours."""

    enabled: bool = False
    paused: bool = False
    threshold: float = DEFAULT_THRESHOLD
    top_percent: float | None = None
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS
    daily_cap: int = DEFAULT_DAILY_CAP
    quiet_hours: tuple[int, int] | None = DEFAULT_QUIET_HOURS
    local_hour: int = DEFAULT_LOCAL_HOUR
    control_fraction: float = DEFAULT_CONTROL
    ranking: str = "auto"
    min_outcomes_per_arm: int = DEFAULT_MIN_OUTCOMES_PER_ARM

    @property
    def active(self) -> bool:
        return self.enabled and not self.paused

    def quiet_at(self, hour: int) -> bool:
        """Whether local ``hour`` (0–23) falls in the quiet hours."""
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        return start <= hour < end if start < end else hour >= start or hour < end

    def describe_selection(self) -> str:
        if self.top_percent is not None:
            return f"the top {self.top_percent:g} % by churn risk"
        return f"churn risk ≥ {self.threshold:g}"

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "paused": self.paused, "threshold": self.threshold,
                "top_percent": self.top_percent, "cooldown_days": self.cooldown_days,
                "daily_cap": self.daily_cap,
                "quiet_hours": format_quiet(self.quiet_hours), "local_hour": self.local_hour,
                "control_fraction": self.control_fraction, "ranking": self.ranking,
                "min_outcomes_per_arm": self.min_outcomes_per_arm}


# -- parsing one value -------------------------------------------------------------------

def _number(raw: str, what: str) -> float:
    text = raw.strip().rstrip("%").strip()
    # float() accepts "²"-free ASCII only after this check: str.isdigit says True for "²".
    if not text or not all(c.isascii() for c in text):
        raise PolicyError(f"{what} must be a number, not {raw!r}")
    try:
        value = float(text)
    except ValueError:
        raise PolicyError(f"{what} must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise PolicyError(f"{what} must be a finite number")
    return value


def _integer(raw: str, what: str, low: int, high: int) -> int:
    value = _number(raw, what)
    if value != int(value):
        raise PolicyError(f"{what} must be a whole number, not {raw!r}")
    if not low <= value <= high:
        raise PolicyError(f"{what} must be between {low} and {high}, not {int(value)}")
    return int(value)


def parse_threshold(raw: str) -> float:
    value = _number(raw, "the threshold")
    if not 0 < value < 1:
        raise PolicyError(f"the threshold is a churn probability, strictly between 0 and 1 (e.g. 0.6), "
                          f"not {value:g}")
    return value


def parse_top_percent(raw: str) -> float | None:
    if raw.strip().lower() in ("none", "off"):
        return None  # back to the threshold
    value = _number(raw, "top_percent")
    if not 0 < value <= 100:
        raise PolicyError(f"top_percent is a share of scored members, above 0 and at most 100 (e.g. 10), "
                          f"not {value:g}")
    return value


def parse_control(raw: str) -> float:
    value = _number(raw, "the control fraction")
    if raw.strip().endswith("%"):
        value /= 100
    if value <= 0:
        raise PolicyError("the control fraction must be above 0: without a control group nobody can tell "
                          "whether nudges help or drive members away (retention contacts have raised churn "
                          "in field studies)")
    if value >= 1:
        raise PolicyError("the control fraction must be below 1: with everyone in control nobody is nudged "
                          "— use /nudge pause to stop sending")
    return value


def parse_quiet(raw: str) -> tuple[int, int] | None:
    text = raw.strip().lower()
    if text in ("none", "off", "no"):
        return None
    parts = text.replace("–", "-").split("-")
    if len(parts) != 2:
        raise PolicyError(f"quiet hours are START-END local hours such as 22-8, or none; not {raw!r}")
    start = _integer(parts[0].split(":")[0], "a quiet-hours start", 0, 23)
    end = _integer(parts[1].split(":")[0], "a quiet-hours end", 0, 24) % 24
    if start == end:
        raise PolicyError("quiet hours need a start and an end that differ (or none)")
    return start, end


def parse_local_hour(raw: str) -> int:
    """An hour such as ``9``, ``09`` or ``09:00`` (the run starts on the hour)."""
    hour, _, minutes = raw.strip().partition(":")
    if minutes and minutes.strip() not in ("0", "00"):
        raise PolicyError(f"local_hour is a whole hour such as 9 or 09:00, not {raw!r}")
    return _integer(hour, "local_hour", 0, 23)


def format_hour(hour: int) -> str:
    """How ``local_hour`` is stored: HH:00, the scheduler's daily time for the job."""
    return f"{hour:02d}:00"


def format_quiet(quiet: tuple[int, int] | None) -> str:
    return "none" if quiet is None else f"{quiet[0]:02d}-{quiet[1]:02d}"


def parse_ranking(raw: str) -> str:
    value = raw.strip().lower()
    if value not in RANKINGS:
        raise PolicyError(f"ranking is one of {', '.join(RANKINGS)}, not {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``nudge.<key>``: how to parse a typed value and how to store it."""

    key: str
    parse: Callable[[str], Any]
    summary: str
    admin_only: bool = False
    stored: Callable[[Any], Any] = field(default=lambda v: v)


SETTINGS: tuple[Setting, ...] = (
    Setting("threshold", parse_threshold, "flag members whose churn risk is at least this (0–1)"),
    Setting("top_percent", parse_top_percent, "instead: flag the top k % by risk (1–100); 'none' for threshold"),
    Setting("cooldown_days", lambda r: _integer(r, "cooldown_days", 1, 365),
            "days before the same member can be drawn again (any community)"),
    Setting("daily_cap", lambda r: _integer(r, "daily_cap", 1, MAX_DAILY_CAP), "at most this many DMs a day"),
    Setting("quiet_hours", parse_quiet, "local hours with no nudges, e.g. 22-8, or none",
            stored=format_quiet),
    Setting("local_hour", parse_local_hour, "the local hour the daily run starts (e.g. 9 or 09:00)",
            stored=format_hour),
    Setting("control_fraction", parse_control, "share of flagged members kept as a control group (0–1, not 0 or 1)",
            admin_only=True),
    Setting("ranking", parse_ranking, "auto (uplift once enough outcomes), risk, or uplift"),
    Setting("min_outcomes_per_arm", lambda r: _integer(r, "min_outcomes_per_arm", 30, 1_000_000),
            "outcomes per arm before ranking by estimated uplift"),
)
SETTING_BY_KEY = {s.key: s for s in SETTINGS}


def policy_from(stored: Mapping[str, Any] | None) -> NudgePolicy:
    """The policy a community's stored ``nudge`` settings describe. Never raises: a value
    that does not parse any more is replaced by its default."""
    policy = NudgePolicy()
    if not isinstance(stored, Mapping):
        return policy
    changes: dict[str, Any] = {}
    for flag in ("enabled", "paused"):
        if isinstance(stored.get(flag), bool):
            changes[flag] = stored[flag]
    for setting in SETTINGS:
        if setting.key not in stored:
            continue
        value = stored[setting.key]
        if value is None and setting.key == "top_percent":
            changes["top_percent"] = None
            continue
        if isinstance(value, bool):
            continue  # a hand-edited true/false is no number
        try:
            changes[setting.key] = setting.parse(str(value))
        except PolicyError:
            continue
    return replace(policy, **changes)


def set_flag(stored: Mapping[str, Any] | None, flag: str, value: bool) -> dict[str, Any]:
    """``enabled`` / ``paused`` set in a copy of the stored settings."""
    if flag not in ("enabled", "paused"):
        raise PolicyError(f"unknown flag {flag!r}")
    updated = dict(stored or {})
    updated[flag] = value
    return updated
