"""Hyper-parameter search for :class:`~engine.recsys.torch_model.CohortRecommender`.

Uses ONLY the training matrix it is given: each fold holds out a random 20% of every
user's training interactions (:func:`engine.recsys.evaluate.holdout_split`), fits on the
rest, and scores NDCG@10 on the held-out part. The test split never reaches this module.

Components are cached so the blend weight costs no extra fit: one EDLAE solve per
``(l2, dropout)`` and one eigen-solve per ``factors`` value per fold.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from engine.recsys.evaluate import evaluate_scores, holdout_split
from engine.recsys.torch_model import CohortParams, CohortRecommender, Device

DEFAULT_GRID: dict[str, list[float]] = {
    "l2": [250.0, 400.0, 600.0],
    "dropout": [0.25, 0.33, 0.5],
    "factors": [32, 48, 64],
    "factor_weight": [0.2, 0.3, 0.4, 0.5, 0.7],
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
    grid: dict[str, list[float]] | None = None,
    base: CohortParams | None = None,
    folds: int = 2,
    holdout_fraction: float = 0.2,
    max_eval_users: int = 3000,
    device: Device | str = "auto",
    seed: int = 0,
) -> TuneResult:
    """Grid-search ``l2``, ``dropout``, ``factors`` and ``factor_weight`` on training data only.

    ``l2`` values are meant for the full matrix; on a fold fit on ``1 - holdout_fraction``
    of the data λ is scaled by that fraction because the Gram matrix shrinks with it.
    Returns a :class:`TuneResult`; raises ``ValueError`` on an empty grid or matrix.
    """
    grid = {**DEFAULT_GRID, **(grid or {})}
    base = base or CohortParams()
    if any(len(values) == 0 for values in grid.values()):
        raise ValueError("every grid entry needs at least one value")
    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if matrix.nnz == 0:
        raise ValueError("cannot tune on an empty interaction matrix")
    keep = 1.0 - holdout_fraction
    totals: dict[tuple[float, float, int, float], float] = {}
    for fold in range(folds):
        fit_part, held = holdout_split(matrix, holdout_fraction, seed=seed + 1 + fold)
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if len(users) > max_eval_users:  # bound memory of the cached score blocks
            users = np.sort(np.random.default_rng(seed + fold).choice(users, max_eval_users, replace=False))
        item_scores = {}
        for l2, dropout in itertools.product(grid["l2"], grid["dropout"]):
            params = replace(base, l2=l2 * keep, dropout=dropout, factor_weight=0.0)
            model = CohortRecommender(params).fit(fit_part, device=device, seed=seed)
            item_scores[(l2, dropout)] = model.score(users)
        factor_scores = {}
        for factors in grid["factors"]:
            params = replace(base, factors=int(factors), item_weight=0.0, factor_weight=1.0)
            model = CohortRecommender(params).fit(fit_part, device=device, seed=seed)
            factor_scores[int(factors)] = model.score(users)
        sub_train, sub_held = fit_part[users], held[users]
        for (l2, dropout), factors, weight in itertools.product(item_scores, factor_scores, grid["factor_weight"]):
            blend = item_scores[(l2, dropout)] + weight * factor_scores[factors]
            ndcg = evaluate_scores(lambda rows, b=blend: b[rows], sub_train, sub_held).ndcg
            key = (l2, dropout, factors, weight)
            totals[key] = totals.get(key, 0.0) + ndcg / folds
    trials = sorted(
        (
            (score, replace(base, l2=l2, dropout=dropout, factors=factors, factor_weight=weight))
            for (l2, dropout, factors, weight), score in totals.items()
        ),
        key=lambda trial: -trial[0],
    )
    best_score, best = trials[0]
    return TuneResult(best=best, best_ndcg=best_score, trials=trials)
