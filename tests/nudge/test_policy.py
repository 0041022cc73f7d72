"""Nudge settings: defaults, refusals with reasons, and the seeded draw."""

from __future__ import annotations

from datetime import date

import pytest

from engine.nudge.draw import Scored, campaign_seed, capacity, draw_arms, flag, rank
from engine.nudge.policy import (
    DEFAULT_CONTROL,
    DEFAULT_COOLDOWN_DAYS,
    NudgePolicy,
    policy_from,
)


def clean(stored: dict[str, object], key: str, raw: str) -> dict[str, object]:
    """What ``/config nudge.KEY VALUE`` stores: the module's SettingSpec for the key."""
    from bot.nudges import MODULE
    spec = {s.key: s for s in MODULE.settings}[f"nudge.{key}"]
    return {**stored, key: spec.clean(raw)}


def test_defaults_are_off_with_a_20_percent_control_and_14_day_cooldown() -> None:
    policy = policy_from(None)
    assert not policy.enabled and not policy.active
    assert policy.control_fraction == DEFAULT_CONTROL == 0.2
    assert policy.cooldown_days == DEFAULT_COOLDOWN_DAYS == 14


@pytest.mark.parametrize(("key", "raw", "why"), [
    ("threshold", "2", "strictly between 0 and 1"),
    ("threshold", "-1", "strictly between 0 and 1"),
    ("threshold", "0.²", "must be a number"),
    ("threshold", "nan", "finite"),
    ("control_fraction", "0", "without a control group"),
    ("control_fraction", "1", "nobody is nudged"),
    ("control_fraction", "100%", "nobody is nudged"),
    ("daily_cap", "0", "between 1 and"),
    ("daily_cap", "2.5", "whole number"),
    ("cooldown_days", "²", "must be a number"),
    ("top_percent", "150", "at most 100"),
    ("quiet_hours", "8-8", "differ"),
    ("quiet_hours", "late", "START-END"),
    ("ranking", "vibes", "one of"),
    ("local_hour", "9:30", "whole hour"),
    ("local_hour", "24", "between 0 and 23"),
])
def test_refused_values_say_why(key: str, raw: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        clean({}, key, raw)


def test_accepted_values_round_trip_through_the_stored_dict() -> None:
    stored = clean({}, "control_fraction", "25%")
    stored = clean(stored, "top_percent", "10")
    stored = clean(stored, "quiet_hours", "23-7")
    stored = clean(stored, "local_hour", "9")
    assert stored["local_hour"] == "09:00"  # the scheduler's HH:MM for the daily job
    policy = policy_from(stored)
    assert policy.control_fraction == 0.25
    assert policy.top_percent == 10
    assert policy.quiet_hours == (23, 7)
    assert policy.local_hour == 9
    assert policy.quiet_at(23) and policy.quiet_at(3) and not policy.quiet_at(7)
    # top_percent none goes back to the threshold
    assert policy_from(clean(stored, "top_percent", "none")).top_percent is None


def test_a_hand_edited_bad_value_falls_back_to_its_default() -> None:
    policy = policy_from({"enabled": True, "threshold": 7, "control_fraction": 0, "daily_cap": "lots"})
    assert policy.enabled
    assert (policy.threshold, policy.control_fraction, policy.daily_cap) == (0.5, 0.2, 50)


def test_flag_by_threshold_or_top_percent() -> None:
    scored = [Scored(i, i / 10) for i in range(10)]
    assert [s.member_id for s in flag(scored, NudgePolicy(threshold=0.7))] == [9, 8, 7]
    assert [s.member_id for s in flag(scored, NudgePolicy(top_percent=20))] == [9, 8]
    assert [s.member_id for s in flag(scored[:3], NudgePolicy(top_percent=1))] == [2]  # at least one
    assert flag([], NudgePolicy(top_percent=50)) == []


def test_rank_by_uplift_puts_unscored_last() -> None:
    cands = [Scored(1, 0.9, None), Scored(2, 0.6, 0.2), Scored(3, 0.8, 0.05)]
    assert [s.member_id for s in rank(cands, "uplift")] == [2, 3, 1]
    assert [s.member_id for s in rank(cands, "risk")] == [1, 3, 2]


def test_draw_is_replayable_balanced_and_respects_the_cap() -> None:
    ids = list(range(1, 1001))
    seed = campaign_seed(7, date(2026, 3, 2))
    arms = draw_arms(ids, 0.2, seed, cap=10_000)
    assert arms == draw_arms(list(reversed(ids)), 0.2, seed, cap=10_000)  # order does not matter
    assert sum(arms.values()) == 200
    other = draw_arms(ids, 0.2, campaign_seed(7, date(2026, 3, 3)), cap=10_000)
    assert other != arms
    capped = draw_arms(ids[: capacity(50, 0.2)], 0.2, seed, cap=50)
    assert sum(not c for c in capped.values()) <= 50
    assert len(capped) == 62  # floor(50 / 0.8)
    with pytest.raises(ValueError):
        draw_arms(ids, 0.0, seed, cap=5)


def test_tiny_campaigns_still_get_controls_on_average() -> None:
    controls = sum(draw_arms([1], 0.2, s, cap=10)[1] for s in range(2000))
    assert 320 <= controls <= 480  # expected 400
