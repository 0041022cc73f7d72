from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.sparse as sp

from engine.recsys.evaluate import (
    evaluate_scores,
    holdout_split,
    ndcg_at_k,
    random_split,
    recall_at_k,
    temporal_split,
)


def test_metrics_hand_computed() -> None:
    # Hits at ranks 1 and 3 out of 2 relevant: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3).
    assert ndcg_at_k([7, 1, 9, 4], [7, 9], k=10) == pytest.approx(1.5 / (1 + 1 / np.log2(3)))
    assert recall_at_k([7, 1, 9, 4], [7, 9], k=10) == 1.0
    assert recall_at_k([7, 1, 9, 4], [7, 9], k=2) == 0.5
    # 12 relevant, k=10: recall is over min(10, 12), IDCG over 10 positions.
    assert recall_at_k(list(range(10)), range(12), k=10) == 1.0
    assert ndcg_at_k(list(range(10)), range(12), k=10) == pytest.approx(1.0)
    assert ndcg_at_k([1, 2], [], k=10) == 0.0


def test_evaluate_scores_masks_training_items() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    fixed = np.array([[9.0, 1.0, 3.0, 2.0], [9.0, 8.0, 1.0, 2.0]])
    result = evaluate_scores(lambda rows: fixed[rows], train, test, k=1)
    # User 0: item 0 masked, top-1 is item 2 (hit). User 1: item 0 ranks first (miss).
    assert result.ndcg == pytest.approx(0.5) and result.recall == pytest.approx(0.5) and result.n_users == 2


def test_random_split_protocol() -> None:
    pairs = [(str(u), f"i{j}") for u in (10, 2) for j in range(10)]
    split = random_split(pairs)
    assert split.user_ids == ["2", "10"]  # numeric ids sort as numbers
    assert np.diff(split.test.indptr).tolist() == [2, 2]
    assert (split.train.multiply(split.test)).nnz == 0
    assert split.train.nnz + split.test.nnz == 20
    again = random_split(pairs)
    assert (again.test != split.test).nnz == 0


def test_holdout_split_keeps_singletons() -> None:
    matrix = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=np.float32))
    keep, held = holdout_split(matrix, 0.2, seed=0)
    assert held[0].nnz == 0 and held[1].nnz == 1 and keep.nnz == 5


def test_temporal_split() -> None:
    t = lambda day: datetime(2024, 1, day, tzinfo=UTC)  # noqa: E731
    rows = [("a", "x", t(1)), ("a", "y", t(5)), ("b", "y", t(2)), ("b", "x", t(6)), ("c", "z", t(7)), ("a", "x", t(8))]
    split = temporal_split(rows, cutoff=t(4))
    assert split.user_ids == ["a", "b"] and split.item_ids == ["x", "y"]
    assert split.train.toarray().tolist() == [[1, 0], [0, 1]]
    assert split.test.toarray().tolist() == [[0, 1], [1, 0]]  # seen (a, x) and unseen user c dropped
    with pytest.raises(ValueError):
        temporal_split(rows, cutoff=t(1))
