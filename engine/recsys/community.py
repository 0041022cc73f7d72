"""Train and evaluate a community's recommender from its own interaction log.

Importing this module does NOT import torch: :func:`train_community` and
:func:`evaluate_community` import the training code lazily, so the scheduler (or the
``cohort recsys`` CLI) can import it cheaply and only pay for torch when it trains.

Settings read from ``Community.settings["recsys"]`` (all optional)::

    {"kind_weights": {"completion": 5, "click": 1, ...}, "half_life_days": 60}
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.catalog.tables import CatalogItem
from engine.recsys.evaluate import RankingMetrics, evaluate_scores, temporal_split
from engine.recsys.feedback import DEFAULT_KIND_WEIGHTS, FeedbackMatrix, Interaction, build_feedback_matrix
from engine.store.models import Community
from engine.store.models import Interaction as LoggedInteraction

log = logging.getLogger(__name__)
KEEP_ARTIFACTS = 3
MIN_MEMBERS = 3
MIN_INTERACTIONS = 10


class NotEnoughData(ValueError):
    """The community's log is too small to train or evaluate a model on."""


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Temporal-split comparison of the trained model with popularity."""

    cutoff: datetime
    model: RankingMetrics
    popularity: RankingMetrics
    train_interactions: int
    test_users: int


def _engine_of(store_or_engine: Any) -> Engine:
    engine = getattr(store_or_engine, "engine", store_or_engine)
    if not isinstance(engine, Engine):
        raise TypeError("pass a Store or a SQLAlchemy Engine")
    return engine


def recsys_settings(session: Session, community_id: int) -> tuple[dict[str, float], float | None]:
    """``(kind weights, half-life in days)`` for the community (defaults filled in).

    Raises ``ValueError`` if the community does not exist or a weight is not a number.
    """
    settings = session.scalar(select(Community.settings).where(Community.id == community_id))
    if settings is None:
        raise ValueError(f"no community with id {community_id}")
    section = (settings or {}).get("recsys", {}) if isinstance(settings, dict) else {}
    weights = {**DEFAULT_KIND_WEIGHTS, **{str(k): float(v) for k, v in section.get("kind_weights", {}).items()}}
    half_life = section.get("half_life_days", 60.0)
    return weights, (None if half_life is None else float(half_life))


def item_interactions(session: Session, community_id: int) -> list[Interaction]:
    """The community's logged interactions with items that are still in the catalog,
    oldest first; member and item ids are the internal ids as strings."""
    rows = session.execute(
        select(LoggedInteraction.member_id, LoggedInteraction.item_id, LoggedInteraction.kind, LoggedInteraction.at)
        .join(CatalogItem, CatalogItem.id == LoggedInteraction.item_id)
        .where(LoggedInteraction.community_id == community_id, CatalogItem.community_id == community_id)
        .order_by(LoggedInteraction.at, LoggedInteraction.id)
    )
    return [Interaction(str(m), str(i), k, at) for m, i, k, at in rows]


def community_feedback(session: Session, community_id: int, now: datetime | None = None) -> FeedbackMatrix:
    """The weighted, time-decayed member×item matrix of a community (every catalog item
    gets a column, even one nobody touched yet). Unknown interaction kinds are ignored."""
    weights, half_life = recsys_settings(session, community_id)
    item_ids = [str(i) for i in session.scalars(select(CatalogItem.id).where(CatalogItem.community_id == community_id)
                                                .order_by(CatalogItem.id))]
    return build_feedback_matrix(item_interactions(session, community_id), kind_weights=weights,
                                 half_life_days=half_life, now=now, item_ids=item_ids, ignore_unknown_kinds=True)


def community_dir(artifact_dir: str | os.PathLike[str], community_id: int) -> Path:
    """Where a community's artifacts live: ``<artifact_dir>/<community id>/``."""
    return Path(artifact_dir) / str(community_id)


def _prune(directory: Path, keep: int) -> None:
    entries = sorted((p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def train_community(
    store_or_engine: Any,
    community_id: int,
    artifact_dir: str | os.PathLike[str],
    device: str = "auto",
    *,
    tune: bool = True,
    seed: int = 0,
    now: datetime | None = None,
    keep: int = KEEP_ARTIFACTS,
) -> Path:
    """Read the community's interaction log, fit the model (tuned on a validation split
    carved from this training data only) and write a new artifact under
    ``<artifact_dir>/<community_id>/``; keeps the newest ``keep`` artifacts.

    Returns the artifact path. Raises :class:`NotEnoughData` when fewer than
    ``MIN_MEMBERS`` members or ``MIN_INTERACTIONS`` interactions are logged, ``ValueError``
    for an unknown community, ``RuntimeError`` for ``device="cuda"`` without CUDA.
    Safe to call from a nightly job; imports torch only here.
    """
    engine = _engine_of(store_or_engine)
    with Session(engine) as session:
        feedback = community_feedback(session, community_id, now)
    matrix = feedback.matrix
    if matrix.shape[0] < MIN_MEMBERS or matrix.nnz < MIN_INTERACTIONS or matrix.shape[1] < 2:
        raise NotEnoughData(f"community {community_id}: {matrix.shape[0]} members, {matrix.nnz} member-item pairs "
                            f"over {matrix.shape[1]} items; need ≥{MIN_MEMBERS} members, ≥{MIN_INTERACTIONS} pairs")
    from engine.recsys.torch_model import CohortParams
    from engine.recsys.train import train_artifact

    # Small catalogs: fewer factors than items, or the spectral part just memorises.
    params = CohortParams(factors=max(1, min(48, matrix.shape[1] // 2)))
    target = community_dir(artifact_dir, community_id)
    target.mkdir(parents=True, exist_ok=True)
    path = train_artifact(matrix, feedback.member_ids, feedback.item_ids, target, params=params,
                          tune_first=tune and matrix.shape[0] >= 20, grid=small_grid(matrix.shape[1]),
                          device=device, seed=seed)
    _prune(target, keep)
    log.info("recsys: community %s trained -> %s", community_id, path)
    return path


def small_grid(n_items: int) -> dict[str, list[float]]:
    """Tuning grid for a community: λ spans small values too (a community's Gram matrix
    holds far smaller counts than MovieLens), factors stay below the catalog size."""
    return {"l2": [1.0, 10.0, 50.0, 250.0], "dropout": [0.25, 0.5],
            "factors": sorted({max(1, min(n_items // 2, k)) for k in (8, 16, 32)}),
            "factor_weight": [0.2, 0.5, 1.0]}


def evaluate_community(
    store_or_engine: Any,
    community_id: int,
    *,
    test_fraction: float = 0.2,
    device: str = "auto",
    k: int = 10,
    seed: int = 0,
) -> EvalReport:
    """Temporal split of the community's own log: train on the oldest ``1-test_fraction``
    of interactions, rank for the rest, compare with popularity (NDCG@k / Recall@k).

    Raises :class:`NotEnoughData` when the split leaves no test users or too little
    training data.
    """
    engine = _engine_of(store_or_engine)
    with Session(engine) as session:
        rows = item_interactions(session, community_id)
    if len(rows) < MIN_INTERACTIONS * 2:
        raise NotEnoughData(f"community {community_id}: only {len(rows)} item interactions logged")
    stamps = sorted(r.at for r in rows)
    cutoff = stamps[min(len(stamps) - 1, int(len(stamps) * (1.0 - test_fraction)))]
    if cutoff == stamps[0]:
        cutoff = cutoff + timedelta(microseconds=1)
    split = temporal_split([(r.member_id, r.item_id, r.at) for r in rows], cutoff)
    test_users = int((np.diff(split.test.indptr) > 0).sum())
    if test_users == 0 or split.train.nnz < MIN_INTERACTIONS:
        raise NotEnoughData(f"community {community_id}: the temporal split leaves {test_users} test members")
    from engine.recsys.torch_model import CohortParams, CohortRecommender
    from engine.recsys.tune import tune

    n_items = split.train.shape[1]
    base = CohortParams(factors=max(1, min(48, n_items // 2)))
    if split.train.shape[0] >= 20:
        base = tune(split.train, base=base, grid=small_grid(n_items), device=device, seed=seed).best
    model = CohortRecommender(base).fit(split.train, device=device, seed=seed)
    popularity = np.asarray(split.train.sum(axis=0), dtype=np.float32).ravel()
    pop_metrics = evaluate_scores(lambda r: np.tile(popularity, (len(r), 1)), split.train, split.test, k=k)
    return EvalReport(cutoff=cutoff, model=evaluate_scores(model.score, split.train, split.test, k=k),
                      popularity=pop_metrics, train_interactions=int(split.train.nnz), test_users=test_users)
