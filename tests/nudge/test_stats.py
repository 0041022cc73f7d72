"""The intervals against published values, and their coverage on simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nudge.stats import Arms, newcombe, stratified, wald, wilson


def test_wilson_matches_newcombe_1998_table() -> None:
    # Newcombe (1998a), 81/263: 0.2553–0.3662
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(("x1", "n1", "x0", "n0", "low", "high"), [
    (56, 70, 48, 80, 0.0524, 0.3339),   # Newcombe 1998b, example (a)
    (9, 10, 3, 10, 0.1705, 0.8090),     # example (b)
    (5, 56, 0, 29, -0.0381, 0.1926),    # example (e): a zero cell
])
def test_newcombe_matches_published_examples(x1: int, n1: int, x0: int, n0: int, low: float, high: float) -> None:
    d = newcombe(x1, n1, x0, n0)
    assert (round(d.low, 4), round(d.high, 4)) == (low, high)
    assert d.estimate == pytest.approx(x1 / n1 - x0 / n0)


def test_wald_is_the_textbook_interval_and_narrower_near_zero() -> None:
    d = wald(56, 70, 48, 80)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0575, 0.3425)
    zero = wald(5, 56, 0, 29)
    assert zero.high - zero.low < newcombe(5, 56, 0, 29).high - newcombe(5, 56, 0, 29).low


def test_empty_or_impossible_arms_are_refused() -> None:
    with pytest.raises(ValueError):
        newcombe(0, 0, 1, 2)
    with pytest.raises(ValueError):
        wald(3, 2, 1, 2)
    with pytest.raises(ValueError, match="both"):
        stratified([Arms(1, 2, 0, 0)])


def test_stratified_with_one_stratum_is_newcombe_and_weights_strata() -> None:
    one = stratified([Arms(56, 70, 48, 80)])
    assert (one.low, one.high) == (newcombe(56, 70, 48, 80).low, newcombe(56, 70, 48, 80).high)
    # Two campaigns with very different treated shares and base rates, same true effect 0.1:
    # the crude pooled difference is biased, the stratified one is not.
    strata = [Arms(50, 100, 40 * 9, 900), Arms(90 * 9, 900, 80, 100)]
    pooled = stratified(strata)
    assert pooled.estimate == pytest.approx(0.1)
    crude = (50 + 810) / 1000 - (360 + 80) / 1000
    assert abs(crude - 0.1) > 0.3


def test_coverage_is_close_to_95_percent() -> None:
    rng = np.random.default_rng(7)
    n1, n0, p1, p0 = 160, 40, 0.35, 0.25
    covered = 0
    trials = 2000
    for _ in range(trials):
        x1, x0 = int(rng.binomial(n1, p1)), int(rng.binomial(n0, p0))
        covered += newcombe(x1, n1, x0, n0).covers(p1 - p0)
    assert 0.93 <= covered / trials <= 0.975
