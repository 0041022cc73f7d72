"""Confidence intervals for a difference of two proportions (treated − control).

* :func:`newcombe` — Newcombe's hybrid score interval (method 10 of Newcombe, Stat. Med.
  1998), built from the two Wilson intervals: good coverage for small arms and rates near
  0 or 1, where the Wald interval is too narrow. Used per campaign.
* :func:`wald` — the textbook normal interval, shown beside it.
* :func:`stratified` — pooling several campaigns (communities, days) whose control
  fractions may differ: the Mantel–Haenszel weighted risk difference, weights
  n₁n₀/(n₁+n₀), with a Wald variance Σw²v/(Σw)². Summing the arms instead would mix
  campaigns with different treated shares (Simpson's paradox).
Pure functions, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Difference:
    """An estimated difference of proportions with its interval (``low`` ≤ ``high``)."""

    estimate: float
    low: float
    high: float
    method: str

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Arms:
    """Successes and sizes of the treated and control arms of one stratum."""

    treated_successes: int
    treated: int
    control_successes: int
    control: int


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes / n``. Raises ValueError for n < 1 or
    successes outside 0..n."""
    _check(successes, n)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> Difference:
    """p₁ − p₀ with Newcombe's hybrid score interval. Raises ValueError for empty arms."""
    _check(x1, n1)
    _check(x0, n0)
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Difference(d, max(-1.0, low), min(1.0, high), "newcombe")


def wald(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> Difference:
    """p₁ − p₀ with the Wald interval. Raises ValueError for empty arms."""
    _check(x1, n1)
    _check(x0, n0)
    p1, p0 = x1 / n1, x0 / n0
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return Difference(p1 - p0, max(-1.0, p1 - p0 - half), min(1.0, p1 - p0 + half), "wald")


def stratified(strata: Sequence[Arms], z: float = Z95) -> Difference:
    """The Mantel–Haenszel risk difference over ``strata`` (strata with an empty arm are
    skipped); with one usable stratum, its Newcombe interval. Raises ValueError when no
    stratum has both arms."""
    usable = [s for s in strata if s.treated > 0 and s.control > 0]
    if not usable:
        raise ValueError("no campaign has both a treated and a control member")
    if len(usable) == 1:
        s = usable[0]
        return newcombe(s.treated_successes, s.treated, s.control_successes, s.control, z)
    weights, diffs, variances = [], [], []
    for s in usable:
        _check(s.treated_successes, s.treated)
        _check(s.control_successes, s.control)
        p1, p0 = s.treated_successes / s.treated, s.control_successes / s.control
        weights.append(s.treated * s.control / (s.treated + s.control))
        diffs.append(p1 - p0)
        variances.append(p1 * (1 - p1) / s.treated + p0 * (1 - p0) / s.control)
    total = sum(weights)
    d = sum(w * x for w, x in zip(weights, diffs, strict=True)) / total
    half = z * math.sqrt(sum(w * w * v for w, v in zip(weights, variances, strict=True))) / total
    return Difference(d, max(-1.0, d - half), min(1.0, d + half), "mantel-haenszel")


def _check(successes: int, n: int) -> None:
    if n < 1:
        raise ValueError("an arm needs at least one member")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}")
