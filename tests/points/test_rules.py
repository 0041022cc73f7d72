"""Pure rule tests: no database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from engine.points import rules as R
from engine.points.badges import earned

T = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def test_level_curve_is_monotonic_and_inverts() -> None:
    needs = [R.points_for_level(n) for n in range(0, 60)]
    assert needs[:3] == [0, 50, 152]
    assert all(a < b for a, b in itertools.pairwise(needs))
    for n in range(1, 60):
        assert R.level_for(needs[n]) == n
        assert R.level_for(needs[n] - 1) == n - 1


def test_progress_and_bar() -> None:
    p = R.progress(101)
    assert (p.level, p.floor, p.ceiling) == (1, 50, 152)
    assert 0.49 < p.fraction < 0.51
    assert R.progress_bar(0.5) == "▰" * 5 + "▱" * 5
    assert R.progress_bar(1.5) == "▰" * 10
    assert R.progress_bar(-1) == "▱" * 10


def test_message_cooldown_length_and_duplicates() -> None:
    rules, st = R.PointsRules(), R.MemberState()
    assert R.message_award(rules, st, T, 5, "short") == 0
    assert R.message_award(rules, st, T, 40, "a") == 1
    assert R.message_award(rules, st, T + timedelta(seconds=30), 40, "b") == 0  # cooldown
    assert R.message_award(rules, st, T + timedelta(seconds=61), 40, "a") == 0  # duplicate
    assert R.message_award(rules, st, T + timedelta(seconds=62), 40, "b") == 1
    assert R.message_award(rules, st, T + timedelta(hours=25), 40, "a") == 1  # outside the window


def test_daily_cap_diminishes_then_stops() -> None:
    rules = R.PointsRules(daily_soft_cap=10, daily_cap=14, diminishing_percent=50)
    st = R.MemberState()
    paid = [R.apply_daily_cap(rules, st, 4, T) for _ in range(6)]
    assert paid == [4, 4, 4, 2, 0, 0]  # 12 >= soft: halved; 14 = cap
    assert R.apply_daily_cap(rules, st, 4, T + timedelta(days=1)) == 4  # a new day


def test_pair_cap_counts_per_giver_and_day() -> None:
    rules, st = R.PointsRules(pair_daily_cap=2), R.MemberState()
    assert [R.pair_allows(rules, st, 7, T) for _ in range(3)] == [True, True, False]
    assert R.pair_allows(rules, st, 8, T)
    assert R.pair_allows(rules, st, 7, T + timedelta(days=1))


def test_streaks_and_milestones() -> None:
    st = R.MemberState()
    for d in range(7):
        assert R.advance_streak(st, T + timedelta(days=d))
        assert not R.advance_streak(st, T + timedelta(days=d, hours=1))  # same day again
    assert st.streak == 7 and R.PointsRules().milestone_bonus(7) == 15
    assert R.current_streak(st, (T + timedelta(days=7)).date()) == 7
    assert R.current_streak(st, (T + timedelta(days=8)).date()) == 0
    R.advance_streak(st, T + timedelta(days=9))
    assert (st.streak, st.best_streak) == (1, 7)


def test_settings_validation() -> None:
    assert R.parse_setting("message_cooldown_seconds", "120") == 120
    assert R.parse_setting("announce", "off") is False
    assert R.parse_setting("level_exponent", "1.5") == 1.5
    assert R.parse_setting("streak_milestones", "7:10, 3:5") == [[3, 5], [7, 10]]
    assert R.parse_setting("level_roles", "5=Regular,10=Mentor") == {"5": "Regular", "10": "Mentor"}
    for key, raw in [("daily_cap", "-1"), ("daily_cap", "abc"), ("level_exponent", "nan"),
                     ("announce", "maybe"), ("diminishing_percent", "101"), ("level_roles", "x")]:
        with pytest.raises(R.RuleValueError):
            R.parse_setting(key, raw)
    with pytest.raises(R.RuleValueError, match=r"valid keys: .*daily_cap"):
        R.parse_setting("nope", "1")


def test_rules_from_settings_ignores_garbage() -> None:
    rules = R.rules_from_settings({"daily_cap": 7, "reply_points": "x", "unknown": 1,
                                   "streak_milestones": [[2, 9]]})
    assert rules.daily_cap == 7 and rules.reply_points == 3 and rules.milestone_bonus(2) == 9
    assert R.level_roles({"level_roles": {"5": "A", "x": "B", "7": ""}}) == {5: "A"}


def test_badges_declarative() -> None:
    assert earned({"messages": 1, "accepted": 10}, ()) == ["first_message", "first_accepted", "accepted_10"]
    assert earned({"messages": 1}, {"first_message"}) == []
    assert earned({"best_streak": 30, "helped": 10}, ()) == ["streak_7", "streak_30", "helped_10"]


def test_state_json_roundtrip() -> None:
    st = R.MemberState(streak=3, pairs={"4": 1}, helped=[1, 2])
    st.bump("messages")
    again = R.MemberState.from_json({**st.to_json(), "future_key": 1})
    assert again == st


def test_state_json_has_every_field() -> None:
    from dataclasses import asdict, fields

    st = R.MemberState(fingerprints={"f": 1.0}, stats={"messages": 2})
    assert st.to_json() == asdict(st)
    assert set(st.to_json()) == {f.name for f in fields(R.MemberState)}


def test_award_keys_number_re_awards_after_a_revocation() -> None:
    assert R.award_key("react:9:4", 1) == "react:9:4"
    assert R.award_key("react:9:4", 3) == "react:9:4/3"
    for generation in (1, 2, 17):
        assert R.award_generation(R.award_key("accept:5", generation), "accept:5") == generation
