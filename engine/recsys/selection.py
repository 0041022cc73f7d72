"""Choose a community's recommender on time-aware validation (training side).

A community must be predicted from its past, so validation is carved from the END of the
training period: rolling origins (by default the 70/80/90 % points of the log when each
window has enough members, else one origin at 80 %). At each origin every candidate fits on
what happened before it — items and members that existed then, weights decayed to that
moment — and ranks what each member touched from the origin to the next one. The score of
a candidate is the mean NDCG@10 over all (origin, member) pairs; the per-member values are
kept so intervals can be bootstrapped.

Candidates (:data:`FAMILIES`): Cohort's EDLAE + spectral model, EASE, cosine item-kNN,
recency-weighted popularity, content TF-IDF (catalog text, EN+ZH character n-grams, the
only family that reaches items nobody touched yet), and blends of the best
collaborative candidate with popularity and content. Every family exports the same
:class:`~engine.recsys.scoring.ScoringArrays`, so serving stays numpy.

Torch is imported only when a Cohort candidate is fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from engine.recsys.evaluate import top_k_rows
from engine.recsys.feedback import Interaction, build_feedback_matrix
from engine.recsys.scoring import ScoringArrays
from engine.recsys.tfidf import CharWordTfidf

if TYPE_CHECKING:  # torch is imported only when a Cohort candidate is fit
    from engine.recsys.torch_model import CohortParams

Progress = Callable[[str], None]
NEIGHBORS = 100
MIN_WINDOW_MEMBERS = 5


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    """One configuration: ``family`` plus its settings (``name`` is how reports show it);
    a blend names its collaborative ``base``. Compared by identity."""

    name: str
    family: str
    settings: dict[str, float] = field(default_factory=dict)
    base: Candidate | None = None


@dataclass(frozen=True, slots=True)
class CandidateScore:
    """Validation result of one candidate: mean NDCG@10 and the per-(origin, member) values."""

    candidate: Candidate
    ndcg: float
    per_user: np.ndarray


@dataclass(frozen=True, slots=True)
class Selection:
    """What :func:`select_model` found: the chosen candidate and every candidate's score, best first."""

    chosen: Candidate
    scores: list[CandidateScore]
    origins: list[datetime]
    content: sp.csr_matrix | None = None  # the catalog's text similarity, columns in item_ids order

    @property
    def chosen_score(self) -> CandidateScore:
        """The chosen candidate's validation score."""
        return next(s for s in self.scores if s.candidate == self.chosen)


def collaborative_candidates(n_items: int) -> list[Candidate]:
    """The single-family collaborative candidates for a catalog of ``n_items``."""
    factors = max(1, min(32, n_items // 4))
    out = [Candidate(f"cohort l2={l2:g}", "cohort", {"l2": l2, "factors": factors}) for l2 in (10.0, 100.0)]
    out += [Candidate(f"ease l2={l2:g}", "ease", {"l2": l2}) for l2 in (20.0, 100.0, 500.0)]
    out += [Candidate(f"item-knn k={k}", "itemknn", {"neighbors": k, "shrink": 10.0}) for k in (20, 100)]
    return out


FAMILIES = ("cohort", "ease", "itemknn", "popularity", "content", "blend")
# Simplest first: the order ties are broken in when validation cannot tell candidates apart.
SIMPLICITY = ("popularity", "itemknn", "ease", "content", "cohort", "blend")


# ---------------------------------------------------------------------------------- families
def ease_weights(matrix: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE (Steck 2019): ``B = I - P·diag(1/diag P)``, ``P = (XᵀX + λI)⁻¹``, zero diagonal.

    With fewer members than items ``P`` comes from the Woodbury identity (a members×members solve).
    """
    n_users, n_items = matrix.shape
    if n_users < n_items:
        x = matrix.toarray().astype(np.float64)
        kernel = np.eye(n_users) + (x @ x.T) / l2
        solved = np.linalg.solve(kernel, x).astype(np.float32)  # the big product in float32: 2x faster
        precision = np.eye(n_items, dtype=np.float32) / l2 - (x.T.astype(np.float32) @ solved) / np.float32(l2 * l2)
    else:
        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += l2
        precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def ease_scores(matrix: sp.csr_matrix, rows: np.ndarray, l2: float) -> np.ndarray:
    """``history · B`` of EASE for ``rows`` of ``matrix`` without forming the items×items ``B``.

    ``B = I - P·D⁻¹`` with ``D = diag P`` and a zero diagonal, so ``x·B = x - (x·P) / diag P``.
    With fewer members than items ``P = I/λ - Xᵀ K⁻¹ X / λ²`` (``K = I + X Xᵀ / λ``), so both
    ``x·P`` and ``diag P`` come from members×items products: validation scores every EASE
    candidate for the cost of a members×members solve. Otherwise ``B`` is formed as in
    :func:`ease_weights`. Returns float32 scores ``(len(rows), n_items)``.
    """
    n_users, n_items = matrix.shape
    history = matrix[rows].toarray().astype(np.float64)
    if n_users >= n_items:
        return (history @ ease_weights(matrix, l2)).astype(np.float32)
    x = matrix.toarray().astype(np.float64)
    kernel = np.eye(n_users) + (x @ x.T) / l2
    solved = np.linalg.solve(kernel, x)  # K⁻¹ X
    diagonal = 1.0 / l2 - np.einsum("ui,ui->i", x, solved) / (l2 * l2)
    through = history / l2 - ((history @ x.T) @ solved) / (l2 * l2)  # x·P
    return (history - through / diagonal).astype(np.float32)


def item_cosine(matrix: sp.csr_matrix, shrink: float) -> np.ndarray:
    """Dense items×items cosine of who touched what (binary), shrunk: ``|i∩j| / (‖i‖‖j‖ + shrink)``."""
    binary = matrix.copy()
    binary.data[:] = 1.0
    gram = (binary.T @ binary).toarray().astype(np.float64)
    norms = np.sqrt(np.diag(gram))
    sim = gram / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(sim, 0.0)
    return sim.astype(np.float32)


def item_knn_weights(matrix: sp.csr_matrix, neighbors: int, shrink: float,
                     similarity: np.ndarray | None = None) -> sp.csr_matrix:
    """Cosine item-item similarity with shrinkage, the ``neighbors`` strongest per item row
    (``similarity``: :func:`item_cosine` of this matrix, when already computed)."""
    return prune_rows(item_cosine(matrix, shrink) if similarity is None else similarity, neighbors)


TEXT_CHUNK = 256  # item columns per block of the text-similarity product


def content_weights(texts: Sequence[str], neighbors: int = NEIGHBORS) -> sp.csr_matrix:
    """Items×items cosine of the catalog text's TF-IDF (both blocks), strongest ``neighbors`` per row."""
    vectors = CharWordTfidf().fit_transform([t or "" for t in texts]).astype(np.float32)
    # The product is nearly dense (common n-grams link every pair): sparse × dense column
    # blocks are twice as fast as sparse × sparse, and a block bounds the dense memory.
    columns = vectors.T.tocsc()
    n = vectors.shape[0]
    sim = np.empty((n, n), dtype=np.float32)
    for start in range(0, n, TEXT_CHUNK):
        sim[:, start:start + TEXT_CHUNK] = vectors @ columns[:, start:start + TEXT_CHUNK].toarray()
    sim /= np.float32(2.0)
    np.fill_diagonal(sim, 0.0)
    return prune_rows(sim, neighbors)


def prune_rows(dense: np.ndarray, neighbors: int) -> sp.csr_matrix:
    """Keep the ``neighbors`` largest-magnitude entries of each row."""
    if neighbors >= dense.shape[1]:
        return sp.csr_matrix(dense)
    keep = np.argpartition(-np.abs(dense), neighbors - 1, axis=1)[:, :neighbors]
    rows = np.repeat(np.arange(dense.shape[0]), neighbors)
    values = np.take_along_axis(dense, keep, axis=1).ravel()
    out = sp.csr_matrix((values, (rows, keep.ravel())), shape=dense.shape, dtype=np.float32)
    out.eliminate_zeros()
    return out


def _cohort_params(settings: dict[str, float], n_items: int) -> CohortParams:
    from engine.recsys.torch_model import CohortParams

    return CohortParams(l2=settings.get("l2", 100.0),
                        factors=int(settings.get("factors", max(1, min(32, n_items // 4)))), filter_cutoff=0)


def fit_arrays(candidate: Candidate, matrix: sp.csr_matrix, popularity: np.ndarray,
               content: sp.csr_matrix | None, *, device: str = "cpu", seed: int = 0) -> ScoringArrays:
    """Fit one single-family candidate on ``matrix`` and return its serving arrays.

    ``popularity`` is the recency-weighted item popularity, ``content`` the catalog's
    text similarity (``None`` when the catalog has no text). Raises ``ValueError`` for an
    unknown family or a content candidate without text.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    base = {"user_items": matrix, "item_item": None, "user_factors": None, "item_factors": None,
            "item_weight": 0.0, "factor_weight": 0.0, "item_popularity": popularity.astype(np.float32)}
    family, s = candidate.family, candidate.settings
    if family == "cohort":
        from engine.recsys.torch_model import CohortRecommender

        return CohortRecommender(_cohort_params(s, matrix.shape[1])).fit(matrix, device=device, seed=seed).export()
    if family == "ease":
        return ScoringArrays(**{**base, "item_item": sp.csr_matrix(ease_weights(matrix, s["l2"])),
                                "item_weight": 1.0})
    if family == "itemknn":
        return ScoringArrays(**{**base, "item_weight": 1.0,
                                "item_item": item_knn_weights(matrix, int(s["neighbors"]), s["shrink"])})
    if family == "popularity":
        return ScoringArrays(**{**base, "popularity_weight": 1.0})
    if family == "content":
        if content is None:
            raise ValueError("the content family needs catalog text")
        return ScoringArrays(**{**base, "content_item": content, "content_weight": 1.0})
    raise ValueError(f"unknown family {family!r}")


def candidate_scores(candidate: Candidate, matrix: sp.csr_matrix, rows: np.ndarray, popularity: np.ndarray,
                     content: sp.csr_matrix | None, *, device: str = "cpu", seed: int = 0,
                     shared: dict[float, np.ndarray] | None = None) -> np.ndarray:
    """What :func:`score_rows` gives for ``fit_arrays(candidate, ...)`` on ``rows`` (the same
    per-user z-scored blend), computed without building serving arrays: EASE through
    :func:`ease_scores`, Cohort straight from the fitted model. Used by validation, which
    scores every candidate at every origin and never serves them. ``shared`` (one dict per
    ``matrix``) keeps the item-kNN cosine by shrinkage, so its candidates compute it once."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    s = candidate.settings
    if candidate.family == "ease":
        return _z(ease_scores(matrix, rows, s["l2"]))
    if candidate.family == "itemknn" and shared is not None:
        similarity = shared.get(s["shrink"])
        if similarity is None:
            similarity = shared[s["shrink"]] = item_cosine(matrix, s["shrink"])
        weights = item_knn_weights(matrix, int(s["neighbors"]), s["shrink"], similarity)
        return _z((matrix[rows] @ weights).toarray())
    if candidate.family == "cohort":
        from engine.recsys.torch_model import CohortRecommender
        from engine.recsys.torch_threads import default_threads, training_threads

        model = CohortRecommender(_cohort_params(s, matrix.shape[1])).fit(matrix, device=device, seed=seed)
        with training_threads(default_threads(matrix.nnz)):  # scoring runs torch too: same thread count
            return model.score(rows)
    return score_rows(fit_arrays(candidate, matrix, popularity, content, device=device, seed=seed), rows)


def blend_arrays(collaborative: ScoringArrays, popularity_weight: float, content: sp.csr_matrix | None,
                 content_weight: float) -> ScoringArrays:
    """The collaborative arrays with popularity and content components added."""
    return ScoringArrays(
        user_items=collaborative.user_items, item_item=collaborative.item_item,
        user_factors=collaborative.user_factors, item_factors=collaborative.item_factors,
        item_weight=collaborative.item_weight, factor_weight=collaborative.factor_weight,
        item_popularity=collaborative.item_popularity,
        popularity_weight=collaborative.popularity_weight + popularity_weight,
        content_item=content if content_weight else None, content_weight=content_weight if content is not None else 0.0,
    )


def score_rows(arrays: ScoringArrays, rows: np.ndarray) -> np.ndarray:
    """Dense ``(len(rows), n_items)`` scores, the same blend as serving, vectorised."""
    x = arrays.user_items[rows]
    total = np.zeros((len(rows), arrays.n_items), dtype=np.float32)

    def z(block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        return (block - block.mean(axis=1, keepdims=True)) / (block.std(axis=1, keepdims=True) + np.float32(1e-9))

    if arrays.item_item is not None and arrays.item_weight:
        total += arrays.item_weight * z((x @ arrays.item_item).toarray())
    if arrays.user_factors is not None and arrays.item_factors is not None and arrays.factor_weight:
        total += arrays.factor_weight * z(arrays.user_factors[rows] @ arrays.item_factors.T)
    if arrays.popularity_weight:
        total += arrays.popularity_weight * z(np.tile(arrays.item_popularity, (len(rows), 1)))
    if arrays.content_item is not None and arrays.content_weight:
        total += arrays.content_weight * z((x @ arrays.content_item).toarray())
    return total


def per_user_ndcg(scores: np.ndarray, train: sp.csr_matrix, target: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """NDCG@k per row of ``scores`` (rows of ``train``/``target`` in the same order), seen items masked."""
    scores = scores.astype(np.float64, copy=True)
    scores[train.nonzero()] = -np.inf
    top = top_k_rows(scores, k)
    truth = sp.csr_matrix(target, copy=True)
    truth.data[:] = 1.0
    hits = np.asarray(truth[np.arange(len(scores))[:, None], top].todense()) > 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[1.0], np.cumsum(discounts)])[np.minimum(np.diff(truth.indptr), k)]
    return (hits * discounts).sum(axis=1) / ideal


# ---------------------------------------------------------------------------------- origins
@dataclass(frozen=True, slots=True)
class Window:
    """One validation origin: what was known before it and what members touched after."""

    origin: datetime
    fit: sp.csr_matrix
    target: sp.csr_matrix
    rows: np.ndarray
    popularity: np.ndarray
    item_ids: list[str]


def rolling_origins(rows: Sequence[Interaction], fractions: Sequence[float] = (0.7, 0.8, 0.9)) -> list[datetime]:
    """Origin times at those shares of the (time-ordered) log; one at 80 % when windows would be tiny."""
    stamps = sorted(r.at for r in rows)
    origins = [stamps[min(len(stamps) - 1, int(len(stamps) * f))] for f in fractions]
    members_after = [len({r.member_id for r in rows if a <= r.at < b})
                     for a, b in zip(origins, [*origins[1:], stamps[-1] + timedelta(seconds=1)], strict=True)]
    if len(set(origins)) < len(origins) or min(members_after) < MIN_WINDOW_MEMBERS:
        origins = [stamps[min(len(stamps) - 1, int(len(stamps) * 0.8))]]
    return sorted(set(origins))


def make_window(rows: Sequence[Interaction], origin: datetime, until: datetime | None,
                item_ids: Sequence[str], kind_weights: dict[str, float], half_life: float | None,
                item_created: dict[str, datetime] | None = None) -> Window | None:
    """The fit matrix before ``origin`` and the member×item targets in ``[origin, until)``."""
    before = [r for r in rows if r.at < origin]
    touched = {r.item_id for r in before}
    existing = [i for i in item_ids if i in touched or (item_created is not None and i in item_created
                                                          and item_created[i] < origin)]
    if not before or len(existing) < 2:
        return None
    fb = build_feedback_matrix(before, kind_weights=kind_weights, half_life_days=half_life, now=origin,
                               item_ids=existing, ignore_unknown_kinds=True)
    seen = fb.matrix
    pairs = {(fb.member_index[r.member_id], fb.item_index[r.item_id]) for r in rows
             if r.at >= origin and (until is None or r.at < until)
             and r.member_id in fb.member_index and r.item_id in fb.item_index}
    pairs = {(u, i) for u, i in pairs if seen[u, i] == 0}
    if not pairs:
        return None
    users = sorted({u for u, _ in pairs})
    remap = {u: n for n, u in enumerate(users)}
    target = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32),
                            ([remap[u] for u, _ in pairs], [i for _, i in pairs])), shape=(len(users), seen.shape[1]))
    popularity = np.asarray(seen.sum(axis=0), dtype=np.float32).ravel()
    return Window(origin, seen, target, np.asarray(users, dtype=np.int64), popularity, fb.item_ids)


# ---------------------------------------------------------------------------------- selection
def select_model(
    rows: Sequence[Interaction],
    item_ids: Sequence[str],
    *,
    kind_weights: dict[str, float],
    half_life: float | None,
    item_texts: dict[str, str] | None = None,
    item_created: dict[str, datetime] | None = None,
    candidates: Sequence[Candidate] | None = None,
    origins: Sequence[datetime] | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: Progress | None = None,
) -> Selection:
    """Score every candidate on rolling-origin validation of ``rows`` (time-ordered training
    log) and choose: the best mean NDCG@10, or, among the candidates a paired bootstrap over
    the validation members cannot tell from it, the simplest family (:data:`SIMPLICITY`).

    Returns a :class:`Selection`. Raises ``ValueError`` when no origin leaves both history
    and members to validate on.
    """
    say = progress or (lambda _text: None)
    origins = list(origins) if origins is not None else rolling_origins(rows)
    windows = []
    for n, origin in enumerate(origins):
        until = origins[n + 1] if n + 1 < len(origins) else None
        window = make_window(rows, origin, until, item_ids, kind_weights, half_life, item_created)
        if window is not None:
            windows.append(window)
    if not windows:
        raise ValueError("no validation window: too little history before the origins")
    has_text = bool(item_texts) and any((item_texts or {}).get(i, "").strip() for i in item_ids)
    base = list(candidates) if candidates is not None else [
        Candidate("popularity (recency-weighted)", "popularity"),
        *collaborative_candidates(len(item_ids)),
        *([Candidate("content tf-idf", "content")] if has_text else []),
    ]
    per_user: dict[Candidate, list[np.ndarray]] = {c: [] for c in base}
    cached: dict[Candidate, list[np.ndarray]] = {c: [] for c in base}
    contents: list[sp.csr_matrix | None] = []
    # Text similarity once over the catalog (idf over all its text — text, not interactions),
    # then each window's rows and columns: the items that existed at its origin.
    say("content similarity of the catalog text")
    column = {item: n for n, item in enumerate(item_ids)}
    catalog_content = content_weights([(item_texts or {}).get(i, "") for i in item_ids]) if has_text else None
    for n, window in enumerate(windows):
        content = None
        if catalog_content is not None:
            cols = np.asarray([column[i] for i in window.item_ids], dtype=np.int64)
            content = sp.csr_matrix(catalog_content[cols][:, cols])
        contents.append(content)
        shared: dict[float, np.ndarray] = {}
        for candidate in base:
            say(f"validation origin {n + 1}/{len(windows)} ({window.origin:%Y-%m-%d}): {candidate.name}")
            scores = candidate_scores(candidate, window.fit, window.rows, window.popularity, content,
                                      device=device, seed=seed, shared=shared)
            cached[candidate].append(scores)
            per_user[candidate].append(per_user_ndcg(scores, window.fit[window.rows], window.target))
    results = {c: np.concatenate(v) for c, v in per_user.items()}
    collaborative = [c for c in base if c.family in ("cohort", "ease", "itemknn")]
    if collaborative:
        best_cf = max(collaborative, key=lambda c: results[c].mean())
        say(f"blends of {best_cf.name} with popularity and content")
        for pop_w, content_w in itertools.product((0.0, 0.25, 0.5), (0.0, 0.25, 0.5) if has_text else (0.0,)):
            if pop_w == 0.0 and content_w == 0.0:
                continue
            blend = Candidate(f"blend {best_cf.name} + {pop_w:g}·popularity + {content_w:g}·content", "blend",
                              {"popularity_weight": pop_w, "content_weight": content_w}, best_cf)
            values = []
            for n, window in enumerate(windows):
                scores = cached[best_cf][n].copy()
                if pop_w:
                    scores += pop_w * _z(np.tile(window.popularity, (len(window.rows), 1)))
                if content_w and contents[n] is not None:
                    scores += content_w * _z((window.fit[window.rows] @ contents[n]).toarray())
                values.append(per_user_ndcg(scores, window.fit[window.rows], window.target))
            results[blend] = np.concatenate(values)
    order = sorted(results, key=lambda c: (-round(float(results[c].mean()), 6), SIMPLICITY.index(c.family)))
    ranked = [CandidateScore(c, float(results[c].mean()), results[c]) for c in order]
    # One-standard-error style rule: a community's validation set is small, so among the
    # candidates the best cannot be told apart from (paired bootstrap over the same
    # members), take the simplest family — popularity unless something clearly beats it.
    best = order[0]
    tied = [c for c in order if c is best or not distinguishable(results[best], results[c], seed=seed)]
    chosen = min(tied, key=lambda c: (SIMPLICITY.index(c.family), -results[c].mean()))
    return Selection(chosen=chosen, scores=ranked, origins=[w.origin for w in windows], content=catalog_content)


def _z(block: np.ndarray) -> np.ndarray:
    block = np.asarray(block, dtype=np.float32)
    return (block - block.mean(axis=1, keepdims=True)) / (block.std(axis=1, keepdims=True) + np.float32(1e-9))


def fit_chosen(selection: Selection, matrix: sp.csr_matrix, popularity: np.ndarray, item_texts: Sequence[str] | None,
               *, device: str = "cpu", seed: int = 0) -> ScoringArrays:
    """Refit the chosen candidate on the whole training matrix (columns in ``item_texts`` order;
    the selection's content similarity is reused when it has the same columns)."""
    chosen = selection.chosen
    content = selection.content
    if content is None or content.shape[0] != matrix.shape[1]:
        content = content_weights(item_texts) if item_texts and any(t.strip() for t in item_texts) else None
    if chosen.family != "blend":
        return fit_arrays(chosen, matrix, popularity, content, device=device, seed=seed)
    assert chosen.base is not None
    arrays = fit_arrays(chosen.base, matrix, popularity, content, device=device, seed=seed)
    return blend_arrays(arrays, float(chosen.settings["popularity_weight"]), content,
                        float(chosen.settings["content_weight"]))


def bootstrap_interval(values: np.ndarray, *, samples: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling members)."""
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (samples, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def distinguishable(best: np.ndarray, other: np.ndarray, *, samples: int = 1000, seed: int = 0) -> bool:
    """True when the paired bootstrap interval of ``best - other`` (same members) excludes 0."""
    low, high = bootstrap_interval(np.asarray(best) - np.asarray(other), samples=samples, seed=seed)
    return low > 0 or high < 0
