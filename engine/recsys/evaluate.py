"""Offline evaluation: ranking metrics, the fixed MovieLens split, and a temporal split.

Numpy/scipy only, so the same code scores every model (ours, ``implicit``, EASE,
popularity) and can run inside the bot process for a community's own data.

Protocol (the one the benchmark bar is quoted against):

* every interaction is a positive;
* per-user random 80/20 split: users are visited in sorted id order, one
  ``numpy.random.default_rng(seed)`` permutes each user's interactions, the first
  ``round(0.2 * n)`` of the permutation go to test;
* full ranking over all items with the user's training items masked;
* Recall@k = hits / min(k, |test|); NDCG@k with binary gains, IDCG over
  min(k, |test|) positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp

# A scorer takes a batch of user rows and returns a dense (len(rows), n_items) score block.
ScoreFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class Split:
    """A train/test split of one interaction matrix; both share row/column indices."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    user_ids: list[str]
    item_ids: list[str]


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    """Mean ranking metrics over the users that have at least one test item."""

    ndcg: float
    recall: float
    k: int
    n_users: int

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON manifests: ``{"ndcg@k": .., "recall@k": .., "users": ..}``."""
        return {f"ndcg@{self.k}": self.ndcg, f"recall@{self.k}": self.recall, "users": float(self.n_users)}


def _sort_key(external_id: str) -> tuple[int, int | str]:
    # Numeric ids sort as numbers ("2" before "10"), anything else as text after them.
    return (0, int(external_id)) if external_id.isascii() and external_id.isdigit() else (1, external_id)


def recall_at_k(ranked: Sequence[int] | np.ndarray, relevant: Iterable[int], k: int = 10) -> float:
    """Recall@k = hits in the top k / min(k, |relevant|); 0.0 when nothing is relevant."""
    relevant_set = set(int(i) for i in relevant)
    if not relevant_set:
        return 0.0
    hits = sum(1 for i in list(ranked)[:k] if int(i) in relevant_set)
    return hits / min(k, len(relevant_set))


def ndcg_at_k(ranked: Sequence[int] | np.ndarray, relevant: Iterable[int], k: int = 10) -> float:
    """NDCG@k with binary gains; the ideal DCG places min(k, |relevant|) hits at the top.

    Returns 0.0 when nothing is relevant.
    """
    relevant_set = set(int(i) for i in relevant)
    if not relevant_set:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.array([1.0 if int(i) in relevant_set else 0.0 for i in list(ranked)[:k]])
    dcg = float((gains * discounts[: len(gains)]).sum())
    idcg = float(discounts[: min(k, len(relevant_set))].sum())
    return dcg / idcg


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first (argpartition then sort)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def evaluate_scores(
    score_fn: ScoreFn,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 10,
    batch_size: int = 1024,
) -> RankingMetrics:
    """Rank all items for each user with a test item, training items masked, and average.

    ``score_fn(rows)`` must return a float array of shape ``(len(rows), n_items)``.
    Returns :class:`RankingMetrics`; raises ``ValueError`` if the shapes disagree.
    """
    train = sp.csr_matrix(train)
    test = sp.csr_matrix(test)
    if train.shape != test.shape:
        raise ValueError(f"train {train.shape} and test {test.shape} shapes differ")
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    idcg_table = np.concatenate([[1.0], np.cumsum(discounts)])
    ndcg_sum = 0.0
    recall_sum = 0.0
    for start in range(0, len(users), batch_size):
        rows = users[start : start + batch_size]
        scores = np.array(score_fn(rows), dtype=np.float64, copy=True)
        if scores.shape != (len(rows), train.shape[1]):
            raise ValueError(f"score_fn returned {scores.shape}, expected {(len(rows), train.shape[1])}")
        seen = train[rows]
        scores[seen.nonzero()] = -np.inf  # training items can never be recommended
        top = top_k_rows(scores, k)
        truth = test[rows]
        truth.data[:] = 1.0
        hits = np.asarray(truth[np.arange(len(rows))[:, None], top].todense()) > 0
        n_rel = np.minimum(np.diff(truth.indptr), k)
        ndcg_sum += float(((hits * discounts).sum(axis=1) / idcg_table[n_rel]).sum())
        recall_sum += float((hits.sum(axis=1) / n_rel).sum())
    n = max(len(users), 1)
    return RankingMetrics(ndcg=ndcg_sum / n, recall=recall_sum / n, k=k, n_users=len(users))


def random_split(
    interactions: Sequence[tuple[str, str]],
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """The fixed per-user random split over ``(user_id, item_id)`` pairs (see module doc).

    Duplicated pairs count once. Item columns follow first appearance in the input.
    Returns a :class:`Split`; raises ``ValueError`` on an empty input.
    """
    if not interactions:
        raise ValueError("no interactions to split")
    item_index: dict[str, int] = {}
    by_user: dict[str, list[int]] = {}
    for user, item in interactions:
        col = item_index.setdefault(item, len(item_index))
        by_user.setdefault(user, []).append(col)
    user_ids = sorted(by_user, key=_sort_key)
    rng = np.random.default_rng(seed)
    train_rows: list[int] = []
    train_cols: list[int] = []
    test_rows: list[int] = []
    test_cols: list[int] = []
    for row, user in enumerate(user_ids):
        items = np.array(list(dict.fromkeys(by_user[user])), dtype=np.int64)
        perm = rng.permutation(len(items))
        n_test = round(test_fraction * len(items))
        test_part, train_part = items[perm[:n_test]], items[perm[n_test:]]
        test_rows += [row] * len(test_part)
        test_cols += test_part.tolist()
        train_rows += [row] * len(train_part)
        train_cols += train_part.tolist()
    shape = (len(user_ids), len(item_index))
    item_ids = list(item_index)
    return Split(
        train=_binary_csr(train_rows, train_cols, shape),
        test=_binary_csr(test_rows, test_cols, shape),
        user_ids=user_ids,
        item_ids=item_ids,
    )


def holdout_split(user_items: sp.csr_matrix, fraction: float = 0.2, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-user random holdout of an already-indexed matrix (used for validation carved from train).

    Users with a single interaction keep it in the first part. Returns ``(fit_part, holdout)``
    with the same shape and the original weights.
    """
    user_items = sp.csr_matrix(user_items)
    rng = np.random.default_rng(seed)
    mask = np.zeros(user_items.nnz, dtype=bool)
    for row in range(user_items.shape[0]):
        lo, hi = user_items.indptr[row], user_items.indptr[row + 1]
        n = hi - lo
        n_out = round(fraction * int(n)) if n > 1 else 0
        if n_out:
            mask[lo + rng.permutation(n)[:n_out]] = True
    coo = user_items.tocoo()
    keep = sp.csr_matrix((coo.data[~mask], (coo.row[~mask], coo.col[~mask])), shape=user_items.shape)
    held = sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=user_items.shape)
    return keep, held


def temporal_split(
    interactions: Sequence[tuple[str, str, datetime]],
    cutoff: datetime,
) -> Split:
    """Train on interactions strictly before ``cutoff``, test on those at or after it.

    Only users and items seen before the cutoff get rows/columns (a model cannot rank
    what it has never seen); test pairs already in train are dropped because a seen
    item is masked anyway. Returns a :class:`Split`; raises ``ValueError`` if nothing
    precedes the cutoff.
    """
    before = [(u, i) for u, i, at in interactions if at < cutoff]
    if not before:
        raise ValueError(f"no interactions before {cutoff.isoformat()}")
    user_ids = sorted({u for u, _ in before}, key=_sort_key)
    item_ids = sorted({i for _, i in before}, key=_sort_key)
    u_index = {u: n for n, u in enumerate(user_ids)}
    i_index = {i: n for n, i in enumerate(item_ids)}
    shape = (len(user_ids), len(item_ids))
    train = _binary_csr([u_index[u] for u, _ in before], [i_index[i] for _, i in before], shape)
    after = [
        (u_index[u], i_index[i])
        for u, i, at in interactions
        if at >= cutoff and u in u_index and i in i_index
    ]
    test = _binary_csr([r for r, _ in after], [c for _, c in after], shape)
    test = test - test.multiply(train)  # already-seen pairs cannot be hits
    test.eliminate_zeros()
    return Split(train=train, test=sp.csr_matrix(test), user_ids=user_ids, item_ids=item_ids)


def _binary_csr(rows: Sequence[int], cols: Sequence[int], shape: tuple[int, int]) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=shape,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def read_movielens_inter(path: str) -> list[tuple[str, str]]:
    """Read a RecBole ``.inter`` file (tab-separated, typed header) as ``(user, item)`` pairs.

    Raises ``ValueError`` if the header lacks ``user_id``/``item_id`` columns.
    """
    with open(path, encoding="utf-8") as handle:
        header = [name.split(":")[0] for name in handle.readline().rstrip("\n").split("\t")]
        if "user_id" not in header or "item_id" not in header:
            raise ValueError(f"{path}: header {header} lacks user_id/item_id")
        u_col, i_col = header.index("user_id"), header.index("item_id")
        pairs = []
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) > max(u_col, i_col):
                pairs.append((fields[u_col], fields[i_col]))
    return pairs
