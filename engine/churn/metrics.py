"""Ranking and calibration metrics, and a member-clustered bootstrap for AUC differences."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

F64 = NDArray[np.float64]


def roc_auc(y: NDArray[np.integer], score: NDArray[np.floating]) -> float:
    """ROC-AUC by ranks (ties count half); nan when only one class is present."""
    y = np.asarray(y).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def pr_auc(y: NDArray[np.integer], score: NDArray[np.floating]) -> float:
    """Average precision (the area under the precision-recall curve, step-wise)."""
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(score), kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def top_decile_lift(y: NDArray[np.integer], score: NDArray[np.floating]) -> float:
    """Churn rate in the riskiest 10 % over the overall rate."""
    y = np.asarray(y).astype(float)
    if not len(y) or y.mean() == 0:
        return float("nan")
    k = max(1, int(np.ceil(len(y) * 0.1)))
    top = np.argsort(-np.asarray(score), kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def brier(y: NDArray[np.integer], prob: NDArray[np.floating]) -> float:
    return float(np.mean((np.asarray(prob, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def bootstrap_auc_difference(y: NDArray[np.integer], a: F64, b: F64, clusters: NDArray[np.integer],
                             *, rounds: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """AUC(a) − AUC(b) and its 95 % percentile interval, resampling whole members.

    A member appears in several snapshots; resampling members (not rows) keeps their rows
    together, so the interval is not too narrow.
    """
    rng = np.random.default_rng(seed)
    diff = roc_auc(y, a) - roc_auc(y, b)
    ids, inverse = np.unique(clusters, return_inverse=True)
    rows_of = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(ids)))])
    diffs = []
    for _ in range(rounds):
        pick = rng.integers(0, len(ids), len(ids))
        rows = np.concatenate([rows_of[bounds[i]:bounds[i + 1]] for i in pick])
        d = roc_auc(y[rows], a[rows]) - roc_auc(y[rows], b[rows])
        if np.isfinite(d):
            diffs.append(d)
    if not diffs:
        return diff, float("nan"), float("nan")
    low, high = np.percentile(diffs, [2.5, 97.5])
    return diff, float(low), float(high)
