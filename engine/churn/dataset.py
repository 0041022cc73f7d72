"""Labelled examples from weekly sliding snapshots, and the time-based split.

At a snapshot ``t`` a member is *eligible* if present (joined, not left) and active — or
joined — within the ``W`` days before ``t``. Their label is 1 (churned) if they do nothing
in ``[t, t + H)`` or leave in it. Snapshots whose ``[t - W, t + H)`` holds a gap in the log
are skipped: that silence is the bot's, not the members'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.churn.features import FeatureBuilder, Snapshot
from engine.churn.guards import SKEW_TOLERANCE_DAYS, recent_gap, usual_silence

STEP_DAYS = 7.0


@dataclass(frozen=True)
class Examples:
    """Rows of (member, snapshot); ``y`` is None for unlabelled (scoring) rows."""

    X: NDArray[np.float32]
    member: NDArray[np.int32]        # member index in the log
    t: NDArray[np.float64]           # snapshot time of the row
    y: NDArray[np.int8] | None
    last_active: NDArray[np.float64]
    community: NDArray[np.int64]     # community id of the row (pooled training)

    def __len__(self) -> int:
        return len(self.member)

    def where(self, mask: NDArray[np.bool_]) -> Examples:
        return Examples(self.X[mask], self.member[mask], self.t[mask],
                        None if self.y is None else self.y[mask], self.last_active[mask],
                        self.community[mask])

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        if not parts:
            return empty_examples()
        ys = [p.y for p in parts]
        return Examples(np.concatenate([p.X for p in parts]), np.concatenate([p.member for p in parts]),
                        np.concatenate([p.t for p in parts]),
                        None if any(y is None for y in ys) else np.concatenate([y for y in ys if y is not None]),
                        np.concatenate([p.last_active for p in parts]),
                        np.concatenate([p.community for p in parts]))


def empty_examples() -> Examples:
    from engine.churn.features import FEATURES

    return Examples(np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.int32), np.zeros(0),
                    np.zeros(0, np.int8), np.zeros(0), np.zeros(0, np.int64))


def eligible(snap: Snapshot, window_days: float) -> NDArray[np.bool_]:
    """Present at the snapshot and active or joined within the window before it."""
    with np.errstate(invalid="ignore"):
        recent = np.nan_to_num(snap.last_active, nan=-np.inf) >= snap.t - window_days
        new = np.nan_to_num(snap.joined, nan=-np.inf) >= snap.t - window_days
    return snap.present & (recent | new)


def snapshot_times(builder: FeatureBuilder, window_days: float, horizon_days: float, now: float,
                   gap_days: float) -> list[float]:
    """Weekly midnights with a full window behind and a full horizon ahead (before ``now``), gaps skipped."""
    times = builder.log.act_t[builder.log.act_t <= now + SKEW_TOLERANCE_DAYS]
    if not len(times):
        return []
    first, last = float(times.min()), min(float(times.max()), now)
    # the last snapshot whose horizon is fully observed; then back in weekly steps
    t = np.floor(last - horizon_days)
    usual = usual_silence(builder.log, now)
    out: list[float] = []
    while t - window_days >= np.floor(first):
        end = t + horizon_days
        if recent_gap(builder.log, end, window_days + horizon_days, gap_days, usual) is None:
            out.append(float(t))
        t -= STEP_DAYS
    return sorted(out)


def labelled(builder: FeatureBuilder, times: list[float], window_days: float, horizon_days: float,
             community_id: int = 0) -> Examples:
    """Eligible members at each snapshot with their churn label."""
    parts: list[Examples] = []
    for t in times:
        snap = builder.at(t)
        rows = eligible(snap, window_days)
        future = builder.activity_between(t, t + horizon_days)
        churned = (future == 0) | builder.left_between(t, t + horizon_days)
        idx = np.nonzero(rows)[0].astype(np.int32)
        parts.append(Examples(snap.X[idx], idx, np.full(len(idx), t), churned[idx].astype(np.int8),
                              snap.last_active[idx], np.full(len(idx), community_id, np.int64)))
    return Examples.concat(parts)


def current(builder: FeatureBuilder, t: float, window_days: float, community_id: int = 0) -> Examples:
    """Unlabelled rows of the members eligible at ``t`` (what scoring scores)."""
    snap = builder.at(t)
    idx = np.nonzero(eligible(snap, window_days))[0].astype(np.int32)
    return Examples(snap.X[idx], idx, np.full(len(idx), t), None, snap.last_active[idx],
                    np.full(len(idx), community_id, np.int64))


@dataclass(frozen=True)
class Split:
    train: Examples
    test: Examples
    test_start: float


def time_split(examples: Examples, horizon_days: float, test_share: float = 0.3) -> Split | None:
    """Train on earlier snapshots, test on the later ``test_share`` of snapshot dates.

    Training snapshots whose horizon reaches into the test window are dropped (their
    labels would read the test period). None when there are fewer than 3 snapshot dates.
    """
    dates = np.unique(examples.t)
    if len(dates) < 3:
        return None
    n_test = max(1, round(len(dates) * test_share))
    test_start = float(dates[len(dates) - n_test])
    train = examples.where(examples.t + horizon_days <= test_start)
    test = examples.where(examples.t >= test_start)
    if not len(train) or not len(test):
        return None
    return Split(train, test, test_start)


def later_blocks(t: NDArray[np.float64], share: float, n_blocks: int) -> list[tuple[float, float]]:
    """(first, last) snapshot date of ``n_blocks`` consecutive blocks covering the later
    ``share`` of the distinct dates in ``t`` (fewer blocks when there are fewer dates)."""
    dates = np.unique(t)
    if not len(dates):
        return []
    later = dates[len(dates) - max(1, round(len(dates) * share)):]
    return [(float(b[0]), float(b[-1])) for b in np.array_split(later, min(n_blocks, len(later)))]


def rolling_splits(examples: Examples, horizon_days: float, n_splits: int = 4, share: float = 0.4) -> list[Split]:
    """Several later windows (rolling origins): the later ``share`` of snapshot dates in
    ``n_splits`` consecutive test blocks, each with the training rows whose horizon ends
    before the block starts. Blocks with no training or no test rows are left out."""
    out = []
    for start, stop in later_blocks(examples.t, share, n_splits):
        train = examples.where(examples.t + horizon_days <= start)
        test = examples.where((examples.t >= start) & (examples.t <= stop))
        if len(train) and len(test):
            out.append(Split(train, test, start))
    return out
