"""Cohort's collaborative-filtering model, trained with PyTorch (training side only).

The model is a per-user z-score blend of two closed-form implicit-feedback scorers,
chosen because on the fixed MovieLens-100k protocol the blend beats either alone
(see ``benchmarks/README_recsys.md``):

* **item-item EDLAE** — EASE with dropout-emphasised L2 (Steck 2020): the item weight
  matrix ``B = I - P·Λ`` with ``P = (XᵀX + Λ)⁻¹`` and ``Λ = λ·I + p/(1-p)·diag(XᵀX)``.
  One Cholesky solve of an items×items matrix — or, with fewer members than items, of a
  members×members one (Woodbury identity, same ``B``); skipped above ``max_item_item`` items
  because the dense ``B`` grows with items².
* **spectral factors** — the top-``factors`` eigenvectors ``Q`` of the degree-normalised
  item graph ``Rᵀ R`` with ``R = D_u^-a X D_i^-g`` (a = ½ by default; a low-pass graph filter, as in
  GF-CF). It is a plain factor model: user factor ``x_u D_i^-g Q F``, item factor
  ``D_i^g Q``. ``F`` is the filter: the identity (an ideal low-pass over all ``factors``
  eigenpairs) or, with ``filter_cutoff = c > 0``, a smooth low-pass
  ``f(λ) = min(1, (λ/λ_c)^filter_power)`` that keeps the top ``c`` eigenpairs whole and
  tapers the rest by their eigenvalue. Found by seeded subspace iteration so it is
  deterministic and scales to large catalogues.

This module imports torch; the bot process must only import :mod:`engine.recsys.serve`,
which scores the exported arrays with numpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from engine.recsys.scoring import ScoringArrays
from engine.recsys.torch_threads import default_threads, training_threads

Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True, slots=True)
class CohortParams:
    """Hyper-parameters of :class:`CohortRecommender`.

    The defaults are the point :func:`engine.recsys.tune.tune`'s repeated 10-fold CV chose
    on ml-100k's training split (seed 0), confirmed on validation folds of split seeds 1–4
    (``benchmarks/README_recsys.md``); they are what ships and what the benchmark measures.

    ``l2`` is λ for the full training matrix; :mod:`engine.recsys.tune` rescales it when
    it tunes on a smaller fit part. ``degree_exponent``/``user_degree_exponent`` are the
    item/member degree normalisation of the spectral step. ``factor_weight``/``item_weight`` weight the z-scored
    components. ``filter_cutoff``/``filter_power`` shape the spectral filter (0 = ideal
    low-pass; see the module docstring). ``neighbors`` keeps that many strongest weights
    per item row of ``B`` in the exported artifact (``None`` keeps all).
    """

    l2: float = 400.0
    dropout: float = 0.33
    factors: int = 96
    degree_exponent: float = 0.4
    user_degree_exponent: float = 0.5
    filter_cutoff: int = 16
    filter_power: float = 4.0
    item_weight: float = 1.0
    factor_weight: float = 1.0
    neighbors: int | None = None
    max_item_item: int = 10_000
    subspace_iterations: int = 12

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-friendly copy of the parameters."""
        return asdict(self)


def resolve_device(device: Device | str, cuda_available: Callable[[], bool] | None = None) -> torch.device:
    """Map ``"auto"`` to CUDA when available, else CPU; raises ``ValueError`` on unknown names
    and ``RuntimeError`` if ``"cuda"`` is asked for on a machine without it.

    ``cuda_available`` is the availability probe (default ``torch.cuda.is_available``, asked
    only for ``"auto"`` and ``"cuda"``); tests inject one to cover the GPU branch on a CPU box.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    if device == "cpu":
        return torch.device("cpu")
    available = (cuda_available or torch.cuda.is_available)()
    if device == "auto":
        return torch.device("cuda" if available else "cpu")
    if not available:
        raise RuntimeError("device='cuda' requested but CUDA is not available (a CPU-only torch build, "
                           "or no GPU/driver)")
    return torch.device("cuda")


@dataclass(slots=True)
class FitReport:
    """What :meth:`CohortRecommender.fit` did: device, seconds per stage, shapes."""

    device: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    used_item_item: bool = False


class CohortRecommender:
    """EDLAE + spectral-factor blend over an implicit user×item matrix.

    Rows are users and columns items of the CSR matrix given to :meth:`fit`; the
    model knows nothing of external ids (that is :mod:`engine.recsys.artifact`'s job).
    """

    name = "cohort-edlae-spectral"

    def __init__(self, params: CohortParams | None = None) -> None:
        self.params = params or CohortParams()
        self.report = FitReport()
        self._device = torch.device("cpu")
        self._user_items: sp.csr_matrix | None = None
        self._item_item: torch.Tensor | None = None  # dense B on the fit device
        self._user_factors: torch.Tensor | None = None
        self._item_factors: torch.Tensor | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        user_items: sp.csr_matrix,
        *,
        device: Device | str = "auto",
        seed: int = 0,
        progress: bool = False,
        threads: int | None = None,
    ) -> CohortRecommender:
        """Fit on a users×items CSR matrix of non-negative interaction weights.

        ``threads`` bounds torch's and BLAS's thread pools for the fit (``None``:
        :func:`engine.recsys.torch_threads.default_threads`). Returns ``self``. Same ``seed``
        and device give the same factors. Raises
        ``ValueError`` on an empty or negative matrix, ``RuntimeError`` for an
        unavailable CUDA device.
        """
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if matrix.nnz == 0:
            raise ValueError("cannot fit on an empty interaction matrix")
        if matrix.data.min() < 0:
            raise ValueError("interaction weights must be non-negative")
        matrix.sum_duplicates()
        with training_threads(threads or default_threads(matrix.nnz)):
            return self._fit(matrix, device, seed, progress)

    def _fit(self, matrix: sp.csr_matrix, device: Device | str, seed: int, progress: bool) -> CohortRecommender:
        self._device = resolve_device(device)
        self.report = FitReport(device=str(self._device))
        self._user_items = matrix
        p = self.params
        n_items = matrix.shape[1]

        start = time.perf_counter()
        self._item_item = None
        if p.item_weight > 0 and n_items <= p.max_item_item:
            self._item_item = self._fit_edlae(matrix)
            self.report.used_item_item = True
        self.report.seconds["item_item"] = time.perf_counter() - start
        if progress:
            print(f"[recsys] item-item done in {self.report.seconds['item_item']:.2f}s on {self._device}")

        start = time.perf_counter()
        self._user_factors = self._item_factors = None
        if p.factor_weight > 0 and p.factors > 0:
            self._fit_spectral(matrix, seed)
        self.report.seconds["factors"] = time.perf_counter() - start
        if progress:
            print(f"[recsys] spectral factors done in {self.report.seconds['factors']:.2f}s")
        if self._item_item is None and self._user_factors is None:
            raise ValueError("both components are disabled (item_weight/factor_weight/factors)")
        return self

    def _fit_edlae(self, matrix: sp.csr_matrix) -> torch.Tensor:
        p = self.params
        n_users, n_items = matrix.shape
        gram_diag = np.asarray(matrix.multiply(matrix).sum(axis=0), dtype=np.float64).ravel()
        penalty = p.l2 + p.dropout / (1.0 - p.dropout) * gram_diag
        if n_users < n_items and penalty.min() > 0:
            return edlae_member_space(matrix, penalty, self._device).to(torch.float32)
        return edlae_item_space(matrix, penalty, self._device).to(torch.float32)

    def _fit_spectral(self, matrix: sp.csr_matrix, seed: int) -> None:
        p = self.params
        n_users, n_items = matrix.shape
        rank = min(p.factors, n_items - 1, n_users - 1)
        if rank < 1:
            return
        user_deg = np.maximum(np.asarray(matrix.sum(axis=1)).ravel(), 1e-12)
        item_deg = np.maximum(np.asarray(matrix.sum(axis=0)).ravel(), 1e-12)
        item_scale = item_deg ** (-p.degree_exponent)
        normalised = sp.diags(user_deg ** -p.user_degree_exponent) @ matrix @ sp.diags(item_scale)
        r = _to_torch_sparse(sp.csr_matrix(normalised), self._device, torch.float64)
        rt = _to_torch_sparse(sp.csr_matrix(normalised.T), self._device, torch.float64)
        # Seeded subspace iteration: deterministic, and never densifies users×items.
        generator = torch.Generator().manual_seed(seed)
        width = min(rank + 16, n_items)
        basis = torch.randn(n_items, width, generator=generator, dtype=torch.float64).to(self._device)
        basis, _ = torch.linalg.qr(basis)
        for _ in range(p.subspace_iterations):
            basis, _ = torch.linalg.qr(torch.sparse.mm(rt, torch.sparse.mm(r, basis)))
        projected = torch.sparse.mm(r, basis)
        small = projected.T @ projected  # Rayleigh-Ritz on the subspace
        eigvals, eigvecs = torch.linalg.eigh(small)
        top = torch.argsort(eigvals, descending=True)[:rank]
        q = basis @ eigvecs[:, top]
        q = q * torch.sign(q.sum(dim=0, keepdim=True) + 1e-30)  # fix eigenvector signs for determinism
        scale = torch.from_numpy(item_scale).to(self._device)
        x = _to_torch_sparse(matrix, self._device)
        self._item_factors = (q / scale[:, None]).float()  # D_i^g Q
        self._user_factors = torch.sparse.mm(x, (q * scale[:, None]).float())  # x_u D_i^-g Q
        if 0 < p.filter_cutoff < rank:
            # Smooth low-pass: the top `filter_cutoff` eigenpairs whole, the rest tapered by
            # (λ/λ_c)^power. The Ritz values are the eigenvalues of RᵀR on the subspace.
            lam = eigvals[top].clamp(min=0.0)
            gain = torch.clamp((lam / lam[p.filter_cutoff - 1]) ** p.filter_power, max=1.0)
            self._user_factors = self._user_factors * gain.float()[None, :]

    # ------------------------------------------------------------------ scoring
    def score(self, user_rows: np.ndarray | list[int]) -> np.ndarray:
        """Blended scores ``(len(user_rows), n_items)`` as float32 numpy (seen items not masked).

        Raises ``RuntimeError`` before :meth:`fit`.
        """
        if self._user_items is None:
            raise RuntimeError("fit() the model first")
        rows = np.asarray(user_rows, dtype=np.int64)
        p = self.params
        total = torch.zeros(len(rows), self._user_items.shape[1], device=self._device)
        if self._item_item is not None:
            history = _to_torch_sparse(self._user_items[rows], self._device)
            total += p.item_weight * _zscore(torch.sparse.mm(history, self._item_item))
        if self._user_factors is not None and self._item_factors is not None:
            idx = torch.from_numpy(rows).to(self._device)
            total += p.factor_weight * _zscore(self._user_factors[idx] @ self._item_factors.T)
        return total.cpu().numpy()

    def recommend(
        self, user_rows: np.ndarray | list[int], k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item columns per user row, best first, and their scores.

        Returns ``(item_ids, scores)`` of shape ``(len(user_rows), k')`` with
        ``k' = min(k, n_items)``; excluded slots (when a user has seen almost every item)
        carry score ``-inf``. Raises ``RuntimeError`` before :meth:`fit`.
        """
        scores = self.score(user_rows)
        assert self._user_items is not None
        if exclude_seen:
            seen = self._user_items[np.asarray(user_rows, dtype=np.int64)]
            scores[seen.nonzero()] = -np.inf
        k = min(k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        items = np.take_along_axis(part, order, axis=1)
        return items, np.take_along_axis(scores, items, axis=1)

    # ------------------------------------------------------------------ export
    def export(self) -> ScoringArrays:
        """Plain CPU float32 arrays for :mod:`engine.recsys.serve` (works after a GPU fit).

        Raises ``RuntimeError`` before :meth:`fit`.
        """
        if self._user_items is None:
            raise RuntimeError("fit() the model first")
        item_item = None
        if self._item_item is not None:
            item_item = _prune_rows(self._item_item.cpu().numpy(), self.params.neighbors)
        return ScoringArrays(
            user_items=self._user_items.astype(np.float32),
            item_item=item_item,
            user_factors=None if self._user_factors is None else self._user_factors.cpu().numpy().astype(np.float32),
            item_factors=None if self._item_factors is None else self._item_factors.cpu().numpy().astype(np.float32),
            item_weight=float(self.params.item_weight),
            factor_weight=float(self.params.factor_weight),
            item_popularity=np.asarray(self._user_items.sum(axis=0), dtype=np.float32).ravel(),
        )

    def export_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(user_factors, item_factors)`` of the spectral component as float32 numpy.

        Raises ``RuntimeError`` if the model was not fit or has no factor component.
        """
        if self._user_factors is None or self._item_factors is None:
            raise RuntimeError("no factor component (not fit, or factor_weight/factors is 0)")
        return self._user_factors.cpu().numpy(), self._item_factors.cpu().numpy()


def edlae_item_space(matrix: sp.csr_matrix, penalty: np.ndarray, device: torch.device) -> torch.Tensor:
    """EDLAE weights ``B = I - P·Λ`` with ``P = (XᵀX + Λ)⁻¹``: one items×items Cholesky (float64)."""
    # The Gram matrix is integer-like counts; float64 keeps the solve well conditioned.
    gram = torch.from_numpy((matrix.T @ matrix).toarray().astype(np.float64)).to(device)
    lam = torch.from_numpy(np.asarray(penalty, dtype=np.float64)).to(device)
    gram.diagonal().add_(lam)
    precision = torch.cholesky_inverse(torch.linalg.cholesky(gram))
    return torch.eye(gram.shape[0], dtype=gram.dtype, device=device) - precision * lam


def edlae_member_space(matrix: sp.csr_matrix, penalty: np.ndarray, device: torch.device) -> torch.Tensor:
    """The same ``B`` through the Woodbury identity, for fewer members than items:
    ``B = Λ⁻¹ Xᵀ (I + X Λ⁻¹ Xᵀ)⁻¹ X`` — a members×members Cholesky instead of items×items.

    Needs every entry of ``penalty`` (the diagonal Λ) positive.
    """
    x = torch.from_numpy(matrix.toarray().astype(np.float64)).to(device)
    inverse_penalty = torch.from_numpy(1.0 / np.asarray(penalty, dtype=np.float64)).to(device)
    kernel = (x * inverse_penalty) @ x.T
    kernel.diagonal().add_(1.0)
    solved = torch.cholesky_solve(x, torch.linalg.cholesky(kernel))  # K⁻¹ X
    return inverse_penalty[:, None] * (x.T @ solved)


def _zscore(scores: torch.Tensor) -> torch.Tensor:
    # Per-user standardisation puts both components on one scale before blending.
    mean = scores.mean(dim=1, keepdim=True)
    std = scores.std(dim=1, keepdim=True, correction=0)
    return (scores - mean) / (std + 1e-9)


def _to_torch_sparse(
    matrix: sp.csr_matrix, device: torch.device, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data).to(dtype)
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False).coalesce().to(device)


def _prune_rows(dense: np.ndarray, neighbors: int | None) -> sp.csr_matrix:
    if neighbors is None or neighbors >= dense.shape[1]:
        return sp.csr_matrix(dense)
    # Keep the strongest |weights| per source item; the rest barely move a ranking.
    keep = np.argpartition(-np.abs(dense), neighbors - 1, axis=1)[:, :neighbors]
    rows = np.repeat(np.arange(dense.shape[0]), neighbors)
    values = np.take_along_axis(dense, keep, axis=1).ravel()
    return sp.csr_matrix((values, (rows, keep.ravel())), shape=dense.shape, dtype=np.float32)
