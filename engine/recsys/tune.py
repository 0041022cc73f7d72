"""Hyper-parameter search for :class:`~engine.recsys.torch_model.CohortRecommender`.

Uses ONLY the training matrix it is given. By default it runs repeated per-user K-fold
cross validation (``folds=10``, ``repeats=3``): every user's training interactions are
shuffled and dealt into ``folds`` disjoint parts, each fold fits on the other parts and
scores NDCG@10 on its own part, so every training interaction is validated once per
repeat; each repeat deals the folds with a different seed and the score of a grid point is
the mean over all ``folds × repeats`` fits. The test split never reaches this module.

Why repeats: the validation surface near the optimum is flat (on ml-100k the ten best grid
points lie within 0.0003 NDCG) and one 10-fold run's argmax moves with the fold seed
(seeds 0/1/2 pick three different points), so a single run's choice is partly fold noise.
Averaging three dealings lowers that variance at three times the tuning cost.

Why 10 disjoint folds rather than a 20% holdout: the chosen parameters are refit on the
whole training matrix, and the best item-item/factor balance and regularisation drift with
the amount of data (on ml-100k a 20% holdout — fit on 80% of train — kept preferring a
smaller λ, more dropout and a larger factor weight than a 10% one; see
``benchmarks/README_recsys.md``). Holding out 10% keeps each fold's fit part at 90% of the
final training size, and disjoint folds make the most of the small validation parts.
``holdout_fraction`` restores the old repeated random holdout.

Components are cached so the blend weight costs no extra fit: one EDLAE solve per
``(l2, dropout)`` and one eigen-solve per spectral option and ``degree_exponent`` per fold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.recsys.evaluate import evaluate_scores, holdout_split
from engine.recsys.torch_model import CohortParams, CohortRecommender, Device

# Spectral options are (factors, filter_cutoff, filter_power): cutoff 0 is the ideal low-pass
# over `factors` eigenpairs, cutoff c > 0 the smooth low-pass over them (see torch_model).
DEFAULT_SPECTRAL: list[tuple[int, int, float]] = [
    (32, 0, 6.0), (48, 0, 6.0), (64, 0, 6.0),
    *((96, cutoff, power) for cutoff in (12, 16, 20, 24) for power in (4.0, 6.0)),
]

DEFAULT_GRID: dict[str, list[Any]] = {
    "l2": [250.0, 400.0, 600.0],
    "dropout": [0.25, 0.33, 0.5],
    "spectral": list(DEFAULT_SPECTRAL),
    "degree_exponent": [0.3, 0.4, 0.5],
    "factor_weight": [0.2, 0.3, 0.4, 0.5, 0.7, 0.85, 1.0],
}


@dataclass(frozen=True, slots=True)
class TuneResult:
    """Best parameters (``l2`` already rescaled to the full training matrix) and every trial.

    ``trials`` rows are ``(mean validation NDCG@10, params)``, best first.
    """

    best: CohortParams
    best_ndcg: float
    trials: list[tuple[float, CohortParams]]


def tune(
    user_items: sp.csr_matrix,
    *,
    grid: dict[str, list[Any]] | None = None,
    base: CohortParams | None = None,
    folds: int = 10,
    repeats: int = 3,
    holdout_fraction: float | None = None,
    max_eval_users: int = 3000,
    device: Device | str = "auto",
    seed: int = 0,
) -> TuneResult:
    """Grid-search ``l2``, ``dropout``, the spectral filter (``spectral``: (factors, cutoff,
    power) options; a ``factors`` list means ideal low-passes), ``degree_exponent`` and
    ``factor_weight`` on training data only.

    ``holdout_fraction=None`` (default) is disjoint per-user ``folds``-fold cross validation,
    repeated ``repeats`` times with differently seeded fold assignments;
    a float instead holds out that random fraction of each user's items ``folds × repeats`` times
    (:func:`engine.recsys.evaluate.holdout_split`; ``folds=1`` always does this, with 0.2).
    ``l2`` values are meant for the full matrix; on a fold λ is scaled by the fold's share of
    the interactions because the Gram matrix shrinks with it.
    Returns a :class:`TuneResult`; raises ``ValueError`` on an empty grid or matrix.
    """
    asked = grid or {}
    grid = {**DEFAULT_GRID, **asked}
    if "factors" in asked and "spectral" not in asked:  # a plain list of ideal low-pass sizes
        grid["spectral"] = [(int(k), 0, 6.0) for k in asked["factors"]]
    grid.pop("factors", None)
    base = base or CohortParams()
    if any(len(values) == 0 for values in grid.values()):
        raise ValueError("every grid entry needs at least one value")
    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if matrix.nnz == 0:
        raise ValueError("cannot tune on an empty interaction matrix")
    if folds < 1 or repeats < 1:
        raise ValueError("folds and repeats must be at least 1")
    if holdout_fraction is None and folds == 1:
        holdout_fraction = 0.2
    runs = folds * repeats
    assignment = np.empty(0, dtype=np.int64)
    totals: dict[tuple[float, float, tuple[int, int, float], float, float], float] = {}
    for run in range(runs):
        repeat, fold = divmod(run, folds)
        if holdout_fraction is not None:
            fit_part, held = holdout_split(matrix, holdout_fraction, seed=seed + 1 + run)
        else:
            if fold == 0:
                assignment = _fold_assignment(matrix, folds, seed + repeat)
            fit_part, held = _split_by_mask(matrix, assignment == fold)
        keep = fit_part.nnz / matrix.nnz  # the fold's share of the data, for λ
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if len(users) > max_eval_users:  # bound memory of the cached score blocks
            users = np.sort(np.random.default_rng(seed + run).choice(users, max_eval_users, replace=False))
        item_scores = {}
        for l2, dropout in itertools.product(grid["l2"], grid["dropout"]):
            params = replace(base, l2=l2 * keep, dropout=dropout, factor_weight=0.0)
            model = CohortRecommender(params).fit(fit_part, device=device, seed=seed)
            item_scores[(l2, dropout)] = model.score(users)
        factor_scores = {}
        for spectral, exponent in itertools.product(grid["spectral"], grid["degree_exponent"]):
            factors, cutoff, power = int(spectral[0]), int(spectral[1]), float(spectral[2])
            params = replace(base, factors=factors, filter_cutoff=cutoff, filter_power=power,
                             degree_exponent=exponent, item_weight=0.0, factor_weight=1.0)
            model = CohortRecommender(params).fit(fit_part, device=device, seed=seed)
            factor_scores[((factors, cutoff, power), exponent)] = model.score(users)
        sub_train, sub_held = fit_part[users], held[users]
        for (l2, dropout), (spectral, exponent), weight in itertools.product(
            item_scores, factor_scores, grid["factor_weight"]
        ):
            blend = item_scores[(l2, dropout)] + weight * factor_scores[(spectral, exponent)]
            ndcg = evaluate_scores(_rows_of(blend), sub_train, sub_held).ndcg
            key = (l2, dropout, spectral, exponent, weight)
            totals[key] = totals.get(key, 0.0) + ndcg / runs
    trials = sorted(
        (
            (
                score,
                replace(
                    base, l2=l2, dropout=dropout, factors=spectral[0], filter_cutoff=spectral[1],
                    filter_power=spectral[2], degree_exponent=exponent, factor_weight=weight,
                ),
            )
            for (l2, dropout, spectral, exponent, weight), score in totals.items()
        ),
        key=lambda trial: -trial[0],
    )
    best_score, best = trials[0]
    return TuneResult(best=best, best_ndcg=best_score, trials=trials)


def _fold_assignment(matrix: sp.csr_matrix, folds: int, seed: int) -> np.ndarray:
    """Fold index per stored interaction: each user's items shuffled, then dealt round-robin.

    Users with a single interaction always keep it for fitting (fold ``-1``).
    """
    rng = np.random.default_rng(seed + 1)
    assignment = np.full(matrix.nnz, -1, dtype=np.int64)
    for row in range(matrix.shape[0]):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        n = int(hi - lo)
        if n > 1:
            # A random offset spreads users with fewer items than folds over all folds.
            assignment[lo + rng.permutation(n)] = (np.arange(n) + rng.integers(folds)) % folds
    return assignment


def _split_by_mask(matrix: sp.csr_matrix, held_mask: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    coo = matrix.tocoo()  # CSR -> COO keeps the stored order, so the mask lines up
    fit = sp.csr_matrix((coo.data[~held_mask], (coo.row[~held_mask], coo.col[~held_mask])), shape=matrix.shape)
    held = sp.csr_matrix((coo.data[held_mask], (coo.row[held_mask], coo.col[held_mask])), shape=matrix.shape)
    return fit, held


def _rows_of(scores: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A score function over precomputed scores (one per blend, not a late-bound lambda)."""

    def score(rows: np.ndarray) -> np.ndarray:
        return scores[rows]

    return score
