"""Who is flagged, who fits under the cap, and the seeded draw into treated and control.

Pure and replayable: the same candidates, fraction and seed give the same arms, so the
stored campaign can be re-drawn to check it. Ranking happens *before* the draw and the cap
limits the candidate set, never the treated arm after the draw: both arms are then random
halves of the same population, which is what makes treated − control an unbiased effect.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from engine.nudge.policy import NudgePolicy


@dataclass(frozen=True, slots=True)
class Scored:
    """A member with the day's risk (and, when an uplift model ranks, its estimate)."""

    member_id: int
    risk: float
    uplift: float | None = None


def flag(scored: Sequence[Scored], policy: NudgePolicy) -> list[Scored]:
    """Members the policy flags, highest risk first: risk ≥ threshold, or the top k %
    of all scored members (at least one when anyone is scored)."""
    ordered = sorted(scored, key=lambda s: (-s.risk, s.member_id))
    if policy.top_percent is not None:
        k = max(1, math.floor(len(ordered) * policy.top_percent / 100)) if ordered else 0
        return ordered[:k]
    return [s for s in ordered if s.risk >= policy.threshold]


def rank(candidates: Sequence[Scored], by: str) -> list[Scored]:
    """Best first: by estimated uplift (then risk) when ``by == "uplift"``, else by risk."""
    if by == "uplift":
        return sorted(candidates, key=lambda s: (-(s.uplift if s.uplift is not None else -1.0), -s.risk,
                                                 s.member_id))
    return sorted(candidates, key=lambda s: (-s.risk, s.member_id))


def capacity(cap: int, control_fraction: float) -> int:
    """How many candidates to draw from so that at most ``cap`` end up treated."""
    return max(1, math.floor(cap / (1 - control_fraction)))


def campaign_seed(community_id: int, run_on: date) -> int:
    """The draw's seed: fixed by community and day, so a dry run shows the real arms."""
    digest = hashlib.sha256(f"nudge:{community_id}:{run_on.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit column


def draw_arms(member_ids: Sequence[int], control_fraction: float, seed: int, cap: int) -> dict[int, bool]:
    """member id → True for control. Exactly ``n − treated`` members go to control, where
    ``treated = min(cap, round((1 − f)·n))`` (complete randomisation: balanced arms even
    for small campaigns). Raises ValueError for a fraction outside (0, 1)."""
    if not 0 < control_fraction < 1:
        raise ValueError("control fraction must be strictly between 0 and 1")
    ids = sorted(set(member_ids))
    n = len(ids)
    if n == 0:
        return {}
    rng = np.random.default_rng(seed)
    share = (1 - control_fraction) * n
    # Random rounding keeps the expected control share exact for tiny campaigns (n = 1, 2).
    treated = min(cap, math.floor(share) + int(rng.random() < share - math.floor(share)))
    order = rng.permutation(n)
    control = {ids[i] for i in order[treated:]}
    return {m: m in control for m in ids}
