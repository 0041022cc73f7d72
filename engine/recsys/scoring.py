"""Numpy scorer for an exported model: the arrays the serving side needs, and the blend.

Shared by :mod:`engine.recsys.serve` and :mod:`engine.recsys.artifact`; imports only
numpy/scipy so the bot process never pulls in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(slots=True)
class ScoringArrays:
    """Everything needed to score one user: plain float32 arrays, no model objects.

    ``user_items`` — training history (users×items CSR), used both for the item-item
    component and to exclude seen items. ``item_item`` — EDLAE weights (items×items CSR)
    or ``None``. ``user_factors``/``item_factors`` — spectral factors or ``None``.
    Scores are ``item_weight·z(history·B) + factor_weight·z(U_u·Vᵀ)``, z = per-user z-score,
    plus, for the families and blends :mod:`engine.recsys.selection` chooses,
    ``popularity_weight·z(item_popularity)`` and ``content_weight·z(history·C)`` with ``C`` the
    items×items TF-IDF similarity of the catalog text (reaches items nobody touched yet).
    """

    user_items: sp.csr_matrix
    item_item: sp.csr_matrix | None
    user_factors: np.ndarray | None
    item_factors: np.ndarray | None
    item_weight: float
    factor_weight: float
    item_popularity: np.ndarray
    popularity_weight: float = 0.0
    content_item: sp.csr_matrix | None = None
    content_weight: float = 0.0

    @property
    def n_users(self) -> int:
        """Number of user rows."""
        return int(self.user_items.shape[0])

    @property
    def n_items(self) -> int:
        """Number of item columns."""
        return int(self.user_items.shape[1])

    def score_row(self, row: int) -> np.ndarray:
        """Blended float32 scores of every item for one user row (seen items not masked)."""
        total = np.zeros(self.n_items, dtype=np.float32)
        if self.item_item is not None and self.item_weight:
            part = self._through(self.item_item, row)
            if part is not None:
                total += self.item_weight * _zscore(part)
        if self.user_factors is not None and self.item_factors is not None and self.factor_weight:
            total += self.factor_weight * _zscore(self.item_factors @ self.user_factors[row])
        if self.popularity_weight:
            total += self.popularity_weight * _zscore(self.item_popularity.astype(np.float32))
        if self.content_item is not None and self.content_weight:
            part = self._through(self.content_item, row)
            if part is not None:
                total += self.content_weight * _zscore(part)
        return total

    def _through(self, item_item: sp.csr_matrix, row: int) -> np.ndarray | None:
        """``history · item_item`` for one user row (None for an empty history)."""
        lo, hi = self.user_items.indptr[row], self.user_items.indptr[row + 1]
        history = self.user_items.indices[lo:hi]
        if not len(history):
            return None
        weights = self.user_items.data[lo:hi]
        # Sum of the matrix's rows for the items in the history, without a sparse-matrix product.
        part = np.zeros(self.n_items, dtype=np.float32)
        for item, weight in zip(history.tolist(), weights.tolist(), strict=True):
            s, e = item_item.indptr[item], item_item.indptr[item + 1]
            part[item_item.indices[s:e]] += weight * item_item.data[s:e]
        return part

    def seen(self, row: int) -> np.ndarray:
        """Item columns the user already interacted with."""
        return self.user_items.indices[self.user_items.indptr[row] : self.user_items.indptr[row + 1]]


def _zscore(scores: np.ndarray) -> np.ndarray:
    # Same standardisation as training (population std) so the blend matches exactly.
    std = scores.std()
    return (scores - scores.mean()) / (std + np.float32(1e-9))


def top_k(scores: np.ndarray, k: int, banned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best finite entries, best first.

    ``banned`` columns are never returned. Uses argpartition so cost is O(n + k log k).
    """
    scores = scores.astype(np.float32, copy=True)
    if banned is not None and len(banned):
        scores[banned] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order, scores[order]
