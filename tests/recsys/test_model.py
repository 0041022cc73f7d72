from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.recsys.evaluate import holdout_split
from engine.recsys.torch_model import CohortParams, CohortRecommender, resolve_device
from tests.recsys.helpers import block_matrix

SMALL = CohortParams(l2=5.0, factors=4)


def test_recovers_planted_blocks() -> None:
    matrix, user_block, item_block = block_matrix()
    fit_part, held = holdout_split(matrix, 0.3, seed=1)
    model = CohortRecommender(SMALL).fit(fit_part, device="cpu", seed=0)
    items, _ = model.recommend(np.arange(matrix.shape[0]), k=5)
    # Every recommendation stays in the user's own block...
    assert (item_block[items] == user_block[:, None]).all()
    # ...and held-out items outrank the other blocks' items.
    scores = model.score(np.arange(matrix.shape[0]))
    aucs = []
    for user in range(matrix.shape[0]):
        heldout = held[user].indices
        other = np.flatnonzero(item_block != user_block[user])
        aucs.append((scores[user, heldout][:, None] > scores[user, other][None, :]).mean())
    assert np.mean(aucs) > 0.97


@pytest.mark.parametrize("params", [SMALL, CohortParams(l2=5.0, factors=4, item_weight=0.0, factor_weight=1.0)])
def test_deterministic_for_a_seed(params: CohortParams) -> None:
    matrix, _, _ = block_matrix(seed=3)
    a = CohortRecommender(params).fit(matrix, device="cpu", seed=7).score(np.arange(20))
    b = CohortRecommender(params).fit(matrix, device="cpu", seed=7).score(np.arange(20))
    np.testing.assert_array_equal(a, b)


def test_seen_items_excluded() -> None:
    matrix, _, _ = block_matrix(seed=4)
    model = CohortRecommender(SMALL).fit(matrix, device="cpu")
    items, scores = model.recommend(np.arange(matrix.shape[0]), k=10)
    for user in range(matrix.shape[0]):
        assert not set(items[user][np.isfinite(scores[user])]) & set(matrix[user].indices)
    kept, _ = model.recommend([0], k=matrix.shape[1], exclude_seen=False)
    assert set(matrix[0].indices) <= set(kept[0])


def test_export_factors_shapes_and_cpu_arrays() -> None:
    matrix, _, _ = block_matrix()
    model = CohortRecommender(SMALL).fit(matrix, device="auto")
    users, items = model.export_factors()
    assert users.shape == (matrix.shape[0], 4) and items.shape == (matrix.shape[1], 4)
    assert users.dtype == np.float32 and isinstance(items, np.ndarray)


def test_smooth_low_pass_keeps_the_top_eigenpairs_and_tapers_the_rest() -> None:
    matrix, _, _ = block_matrix(n_users=200, n_items=80, density=0.3, seed=8)
    factors_only = {"item_weight": 0.0, "factor_weight": 1.0, "l2": 5.0}
    ideal = CohortRecommender(CohortParams(factors=12, **factors_only)).fit(matrix, device="cpu", seed=0)
    smooth = CohortRecommender(CohortParams(factors=12, filter_cutoff=4, filter_power=4.0, **factors_only))
    smooth.fit(matrix, device="cpu", seed=0)
    (u_ideal, v_ideal), (u_smooth, v_smooth) = ideal.export_factors(), smooth.export_factors()
    np.testing.assert_array_equal(v_ideal, v_smooth)  # same eigenvectors, only user weights change
    gain = (u_smooth / np.where(u_ideal == 0, 1, u_ideal))[np.abs(u_ideal).max(axis=1) > 0].mean(axis=0)
    np.testing.assert_allclose(gain[:4], 1.0, rtol=1e-5)  # the top `cutoff` pairs stay whole
    assert (gain[4:] < 1.0).all() and (np.diff(gain[3:]) <= 1e-6).all()  # then a falling taper
    # A cutoff at or beyond the number of eigenpairs is the ideal low-pass.
    same = CohortRecommender(CohortParams(factors=12, filter_cutoff=12, **factors_only)).fit(matrix, device="cpu")
    np.testing.assert_array_equal(same.export_factors()[0], u_ideal)


def test_tune_chooses_among_spectral_filters() -> None:
    from engine.recsys.tune import tune

    matrix, _, _ = block_matrix(seed=9)
    grid = {"l2": [5.0], "dropout": [0.33], "spectral": [(4, 0, 6.0), (8, 2, 4.0)], "degree_exponent": [0.5],
            "factor_weight": [0.5]}
    result = tune(matrix, grid=grid, folds=2, repeats=1, device="cpu")
    chosen = {(p.factors, p.filter_cutoff, p.filter_power) for _, p in result.trials}
    assert chosen == {(4, 0, 6.0), (8, 2, 4.0)}
    assert (result.best.factors, result.best.filter_cutoff) in {(4, 0), (8, 2)}


def test_rejects_bad_input() -> None:
    import scipy.sparse as sp

    with pytest.raises(ValueError):
        CohortRecommender().fit(sp.csr_matrix((3, 3)), device="cpu")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    with pytest.raises(RuntimeError):
        CohortRecommender().score([0])


def test_tune_uses_training_data_and_returns_grid_point() -> None:
    from engine.recsys.tune import tune

    matrix, _, _ = block_matrix(seed=5)
    result = tune(
        matrix,
        grid={"l2": [2.0, 20.0], "dropout": [0.33], "factors": [3], "degree_exponent": [0.5], "factor_weight": [0.0, 0.5]},
        folds=1,
        device="cpu",
    )
    assert len(result.trials) == 4
    assert result.best.l2 in (2.0, 20.0) and 0.0 < result.best_ndcg <= 1.0


def test_tune_cross_validation_folds_partition_the_training_data() -> None:
    from engine.recsys.tune import _fold_assignment, tune

    matrix, _, _ = block_matrix(seed=6)
    matrix = matrix.tocsr()
    assignment = _fold_assignment(matrix, 5, seed=0)
    counts = np.diff(matrix.indptr)
    users = np.repeat(np.arange(matrix.shape[0]), counts)
    # Every interaction of a multi-item user lands in exactly one fold; folds are balanced per user.
    assert ((assignment >= 0) == (counts[users] > 1)).all()
    for user in np.flatnonzero(counts > 1):
        per_fold = np.bincount(assignment[users == user], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(assignment, _fold_assignment(matrix, 5, seed=0))
    grid = {"l2": [2.0, 20.0], "dropout": [0.33], "factors": [3], "degree_exponent": [0.4, 0.5], "factor_weight": [0.5]}
    first = tune(matrix, grid=grid, folds=3, device="cpu")
    again = tune(matrix, grid=grid, folds=3, device="cpu")
    assert first.best == again.best and first.best_ndcg == again.best_ndcg


@pytest.mark.parametrize(("l2", "dropout"), [(5.0, 0.33), (0.5, 0.0), (250.0, 0.5)])
def test_member_space_edlae_equals_item_space(l2: float, dropout: float) -> None:
    import scipy.sparse as sp
    import torch

    from engine.recsys.torch_model import edlae_item_space, edlae_member_space

    rng = np.random.default_rng(3)
    dense = (rng.random((40, 120)) < 0.08) * rng.integers(1, 4, (40, 120))
    matrix = sp.csr_matrix(dense.astype(np.float32))
    diag = np.asarray(matrix.multiply(matrix).sum(axis=0), dtype=np.float64).ravel()
    penalty = l2 + dropout / (1.0 - dropout) * diag
    item = edlae_item_space(matrix, penalty, torch.device("cpu")).numpy()
    member = edlae_member_space(matrix, penalty, torch.device("cpu")).numpy()
    assert np.abs(item).max() > 0.01  # a real, non-trivial B
    np.testing.assert_allclose(member, item, atol=1e-6, rtol=0)
    # and the model takes the member-space path here (40 members < 120 items) with the same result
    model = CohortRecommender(CohortParams(l2=l2, dropout=dropout, factor_weight=0.0)).fit(matrix, device="cpu")
    assert model._item_item is not None
    np.testing.assert_allclose(model._item_item.numpy(), item, atol=1e-6, rtol=0)


def test_device_resolution_follows_the_availability_probe() -> None:
    import torch

    asked: list[str] = []

    def probe(answer: bool):
        def available() -> bool:
            asked.append("probe")
            return answer
        return available

    assert resolve_device("auto", probe(True)) == torch.device("cuda")
    assert resolve_device("auto", probe(False)) == torch.device("cpu")
    assert resolve_device("cuda", probe(True)) == torch.device("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda", probe(False))
    assert len(asked) == 4
    assert resolve_device("cpu", probe(True)) == torch.device("cpu")  # an explicit CPU never asks
    assert len(asked) == 4
    with pytest.raises(ValueError):
        resolve_device("gpu", probe(True))


def test_auto_device_trains_on_this_machine_and_records_it() -> None:
    import torch

    matrix, _, _ = block_matrix()
    model = CohortRecommender(SMALL).fit(matrix, device="auto", seed=0)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.report.device.startswith(expected)
    assert model.export().user_factors is not None  # exported arrays are CPU numpy either way


@pytest.mark.parametrize("user_exponent", [0.0, 0.3, 0.5])
def test_spectral_factors_are_the_top_eigenvectors_of_the_normalised_item_graph(user_exponent: float) -> None:
    # R = D_u^-a X D_i^-g with uneven member activity, so a changes the graph; Q from numpy's eigh.
    rng = np.random.default_rng(5)
    dense = (rng.random((150, 40)) < np.linspace(0.05, 0.6, 150)[:, None]).astype(np.float64)
    matrix = sp.csr_matrix(dense, dtype=np.float32)
    params = CohortParams(factors=3, filter_cutoff=0, degree_exponent=0.4, user_degree_exponent=user_exponent,
                          item_weight=0.0, factor_weight=1.0, subspace_iterations=60)
    model = CohortRecommender(params).fit(matrix, device="cpu", seed=0)
    _, item_factors = model.export_factors()
    item_deg, user_deg = dense.sum(axis=0), dense.sum(axis=1)
    r = (user_deg ** -user_exponent)[:, None] * dense * (item_deg ** -0.4)[None, :]
    _, vectors = np.linalg.eigh(r.T @ r)
    expected = vectors[:, -3:]
    q = item_factors / (item_deg ** 0.4)[:, None]  # item factors are D_i^g Q
    q /= np.linalg.norm(q, axis=0, keepdims=True)
    # Same subspace: every principal angle's cosine is 1.
    np.testing.assert_allclose(np.linalg.svd(expected.T @ q, compute_uv=False), 1.0, atol=1e-3)
