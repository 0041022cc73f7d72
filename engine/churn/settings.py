"""Per-community churn settings (``Community.settings["churn"]``), defaults declared here.

Only this module reads the ``churn`` section; :func:`parse_setting` validates a change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.refusal import Refusal


class ChurnSettingError(Refusal, ValueError):
    """A churn setting value a moderator typed is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class ChurnSettings:
    window_days: int = 28        # W: a member counts if active (or joined) within W days before
    horizon_days: int = 14       # H: ... and is churned if silent for the next H days
    flag_threshold: float = 0.3  # calibrated risk at or above this flags a member
    max_flag_share: float = 0.3  # never flag more than this share of scored members at once
    gap_days: int = 3            # this many days with no event from anyone is a gap in the log
    min_train_examples: int = 200  # fewer labelled examples: train on the pooled communities
    min_train_positives: int = 20  # ... or fewer churners / fewer stayers than this


_LIMITS: dict[str, tuple[float, float]] = {
    "window_days": (7, 365), "horizon_days": (7, 180), "flag_threshold": (0.01, 0.99),
    "max_flag_share": (0.01, 1.0), "gap_days": (1, 60), "min_train_examples": (10, 10_000_000),
    "min_train_positives": (2, 1_000_000),
}


def parse_setting(key: str, raw: str) -> tuple[str, int | float]:
    """``(key, value)`` for a typed setting; raises :class:`ChurnSettingError` with the reason."""
    names = {f.name: f for f in fields(ChurnSettings)}
    if key not in names:
        raise ChurnSettingError(f"unknown churn setting {key!r}: one of {', '.join(names)}")
    text = raw.strip()
    if not text.isascii():
        raise ChurnSettingError(f"{key} must be a plain number (ASCII digits), not {raw!r}")
    want_int = names[key].type in ("int", int)
    try:
        value: int | float = int(text) if want_int else float(text)
    except ValueError:
        kind = "a whole number" if want_int else "a number"
        raise ChurnSettingError(f"{key} must be {kind}, not {raw!r}") from None
    lo, hi = _LIMITS[key]
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ChurnSettingError(f"{key} must be between {lo:g} and {hi:g}, not {raw}")
    return key, value


def churn_settings(community_settings: dict[str, Any] | None) -> ChurnSettings:
    """The community's churn settings; unknown keys and invalid stored values fall back to defaults."""
    section = (community_settings or {}).get("churn") or {}
    result = ChurnSettings()
    if not isinstance(section, dict):
        return result
    for key, raw in section.items():
        try:
            name, value = parse_setting(str(key), str(raw))
        except ChurnSettingError:
            continue
        result = replace(result, **{name: value})  # type: ignore[arg-type]
    return result
