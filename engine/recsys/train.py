"""Training entry point: fit Cohort's model on a feedback matrix and write an artifact.

Runs in a worker/cron process, never in the bot (it imports torch). Example::

    fb = build_feedback_matrix(interactions)
    path = train_artifact(fb.matrix, fb.member_ids, fb.item_ids, "artifacts/recsys", tune_first=True)
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scipy.sparse as sp

from engine.recsys.artifact import save_artifact
from engine.recsys.evaluate import evaluate_scores, holdout_split
from engine.recsys.torch_model import CohortParams, CohortRecommender, Device
from engine.recsys.tune import tune


def train_artifact(
    user_items: sp.csr_matrix,
    user_ids: list[str],
    item_ids: list[str],
    artifact_dir: str | os.PathLike[str],
    *,
    params: CohortParams | None = None,
    tune_first: bool = False,
    grid: dict[str, list[Any]] | None = None,
    device: Device | str = "auto",
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Fit (optionally after :func:`engine.recsys.tune.tune`) and save a new artifact.

    ``grid`` overrides entries of :data:`engine.recsys.tune.DEFAULT_GRID` when tuning.
    The artifact lands in ``artifact_dir/<UTC timestamp>-<model>``; its manifest records
    the validation NDCG@10 measured on a holdout of the training data and the fit time.
    Returns the artifact path. Raises ``ValueError`` on empty data or mismatched id lists.
    """
    matrix = sp.csr_matrix(user_items)
    if tune_first:
        params = tune(matrix, grid=grid, base=params, device=device, seed=seed).best
    params = params or CohortParams()
    fit_part, held = holdout_split(matrix, 0.2, seed=seed + 1)
    check = CohortRecommender(params).fit(fit_part, device=device, seed=seed)
    validation = evaluate_scores(check.score, fit_part, held)
    start = time.perf_counter()
    model = CohortRecommender(params).fit(matrix, device=device, seed=seed, progress=progress)
    fit_seconds = time.perf_counter() - start
    created = datetime.now(UTC)
    name = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{CohortRecommender.name}"
    return save_artifact(
        Path(artifact_dir) / name,
        model.export(),
        user_ids,
        item_ids,
        model_name=CohortRecommender.name,
        hyper_parameters=params.as_dict(),
        metrics={
            "validation_ndcg@10": validation.ndcg,
            "validation_recall@10": validation.recall,
            "fit_seconds": fit_seconds,
            "device": model.report.device,
        },
        created_at=created,
    )
