"""Per-community model choice on time-aware validation (engine.recsys.selection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import scipy.sparse as sp

from engine.recsys.feedback import Interaction
from engine.recsys.selection import (
    Candidate,
    bootstrap_interval,
    candidate_scores,
    content_weights,
    distinguishable,
    ease_weights,
    fit_arrays,
    make_window,
    rolling_origins,
    score_rows,
    select_model,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEIGHTS = {"click": 1.0}


def blocks_log(members: int = 40, items: int = 30, days: int = 60, seed: int = 0) -> list[Interaction]:
    """Two taste groups, each member clicking items of their own group over time."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(members):
        group = m % 2
        mine = [i for i in range(items) if i % 2 == group]
        for i in rng.choice(mine, 8, replace=False):
            rows.append(Interaction(str(m), str(i), "click", T0 + timedelta(days=float(rng.uniform(0, days)))))
    return sorted(rows, key=lambda r: r.at)


def test_rolling_origins_lie_inside_the_log_in_order_and_fall_back_to_one() -> None:
    rows = blocks_log()
    origins = rolling_origins(rows)
    assert len(origins) == 3 and origins == sorted(origins)
    assert rows[0].at < origins[0] and origins[-1] < rows[-1].at
    tiny = rows[:12]  # too few members after each origin: one origin at 80 %
    assert len(rolling_origins(tiny)) == 1


def test_window_fits_only_the_past_and_targets_only_new_pairs() -> None:
    rows = blocks_log()
    origin = rows[len(rows) // 2].at
    items = [str(i) for i in range(30)] + ["future"]
    created = {"future": origin + timedelta(days=1)}
    window = make_window(rows, origin, None, items, WEIGHTS, None, created)
    assert window is not None
    assert "future" not in window.item_ids  # created after the origin: cannot be ranked then
    before = {(r.member_id, r.item_id) for r in rows if r.at < origin}
    assert window.fit.nnz == len(before)
    seen_target = window.fit[window.rows].multiply(window.target)
    assert seen_target.nnz == 0  # already-seen pairs are never targets
    assert window.target.nnz > 0


def test_collaborative_family_beats_popularity_on_planted_groups() -> None:
    rows = blocks_log()
    items = [str(i) for i in range(30)]
    candidates = [Candidate("popularity", "popularity"), Candidate("ease l2=5", "ease", {"l2": 5.0}),
                  Candidate("item-knn", "itemknn", {"neighbors": 10, "shrink": 1.0})]
    selection = select_model(rows, items, kind_weights=WEIGHTS, half_life=None, candidates=candidates)
    by_name = {s.candidate.name: s.ndcg for s in selection.scores}
    assert selection.chosen.family in ("ease", "itemknn", "blend")  # clearly better than popularity: not it
    assert by_name["ease l2=5"] > by_name["popularity"] + 0.05
    assert len(selection.origins) == 3


def test_ease_member_space_equals_item_space() -> None:
    rng = np.random.default_rng(1)
    wide = sp.csr_matrix((rng.random((20, 50)) < 0.2).astype(np.float32))  # 20 members < 50 items
    tall_gram = (wide.T @ wide).toarray().astype(np.float64) + 7.0 * np.eye(50)
    precision = np.linalg.inv(tall_gram)
    expected = -precision / np.diag(precision)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(ease_weights(wide, 7.0), expected, atol=1e-4)


def test_bootstrap_interval_and_paired_difference() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(400)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high and high - low < 0.1
    assert not distinguishable(values, values + rng.normal(0, 0.01, 400))
    assert distinguishable(values + 0.2, values)


def test_when_validation_cannot_tell_candidates_apart_the_simplest_family_wins() -> None:
    rows = blocks_log(members=12, items=30, days=60, seed=2)
    rows = [Interaction(r.member_id, "0" if n % 3 == 0 else r.item_id, r.kind, r.at) for n, r in enumerate(rows)]
    items = [str(i) for i in range(30)]
    same = [Candidate("ease a", "ease", {"l2": 50.0}), Candidate("popularity", "popularity")]
    selection = select_model(rows, items, kind_weights=WEIGHTS, half_life=None, candidates=same)
    best, other = selection.scores[0], selection.scores[1]
    if not distinguishable(best.per_user, other.per_user):
        assert selection.chosen.family == "popularity"
    else:
        assert selection.chosen is best.candidate


def test_validation_scores_equal_the_served_blend_for_every_family() -> None:
    # Validation scores candidates without building serving arrays (EASE through a
    # members×members solve, Cohort straight from the model); the ranking it judges must be
    # the one the artifact would serve, on both sides of the members/items switch.
    rng = np.random.default_rng(3)
    texts = [f"item {i} {'gears chain' if i % 2 else 'tyres brakes'} {'urban' if i % 3 else 'touring'}"
             for i in range(40)]
    content = content_weights(texts)
    candidates = [Candidate("ease", "ease", {"l2": 3.0}), Candidate("cohort", "cohort", {"l2": 5.0, "factors": 4}),
                  Candidate("knn", "itemknn", {"neighbors": 10, "shrink": 1.0}),
                  Candidate("popularity", "popularity"), Candidate("content", "content")]
    for members in (25, 60):  # fewer members than items, then more
        matrix = sp.csr_matrix((rng.random((members, 40)) < 0.2).astype(np.float32))
        popularity = np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()
        rows = np.arange(0, members, 2)
        for candidate in candidates:
            served = score_rows(fit_arrays(candidate, matrix, popularity, content, device="cpu"), rows)
            fast = candidate_scores(candidate, matrix, rows, popularity, content, device="cpu")
            assert fast.shape == served.shape
            np.testing.assert_allclose(fast, served, atol=2e-3, err_msg=f"{candidate.name}, {members} members")
