"""Train and evaluate a community's recommender from its own interaction log.

Model family and settings are chosen per community on time-aware validation
(:mod:`engine.recsys.selection`). Importing this module does NOT import torch:
:func:`train_community` and :func:`evaluate_community` import the training code lazily, so the scheduler (or the
``cohort recsys`` CLI) can import it cheaply and only pay for torch when it trains.

Settings read from ``Community.settings["recsys"]`` (all optional)::

    {"kind_weights": {"completion": 5, "click": 1, ...}, "half_life_days": 60}
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.catalog.tables import CatalogItem
from engine.recsys.feedback import DEFAULT_KIND_WEIGHTS, FeedbackMatrix, Interaction, build_feedback_matrix
from engine.store.community_settings import lookup, stored_settings
from engine.store.models import Community
from engine.store.models import Interaction as LoggedInteraction

log = logging.getLogger(__name__)
KEEP_ARTIFACTS = 3
MIN_MEMBERS = 3
MIN_INTERACTIONS = 10
MIN_SELECTION_MEMBERS = 10  # below this, validation cannot tell families apart: fit the default


class NotEnoughData(ValueError):
    """The community's log is too small to train or evaluate a model on."""


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Temporal-split comparison of every candidate on the test period.

    ``beats_best_other`` is whether the chosen candidate's paired bootstrap interval
    against the best other candidate on test excludes zero (``False``: too few test members
    to tell them apart); ``vs_popularity`` is the chosen minus popularity test NDCG.
    """

    cutoff: datetime
    candidates: list[CandidateResult]
    train_interactions: int
    test_users: int
    validation_origins: list[datetime]
    beats_best_other: bool | None
    best_other: str | None
    vs_popularity: float | None
    popularity_distinguishable: bool | None

    @property
    def chosen(self) -> CandidateResult:
        """The candidate validation chose."""
        return next(c for c in self.candidates if c.chosen)


def _engine_of(store_or_engine: Any) -> Engine:
    engine = getattr(store_or_engine, "engine", store_or_engine)
    if not isinstance(engine, Engine):
        raise TypeError("pass a Store or a SQLAlchemy Engine")
    return engine


def recsys_settings(session: Session, community_id: int) -> tuple[dict[str, float], float | None]:
    """``(kind weights, half-life in days)`` for the community (defaults filled in).

    Raises ``ValueError`` if the community does not exist or a weight is not a number.
    """
    if session.get(Community, community_id) is None:
        raise ValueError(f"no community with id {community_id}")
    section = lookup(stored_settings(session, community_id), "recsys", {})
    section = section if isinstance(section, dict) else {}
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


def catalog_of(session: Session, community_id: int) -> tuple[list[str], dict[str, str], dict[str, datetime]]:
    """``(item ids in column order, item id -> text, item id -> created_at)`` of the catalog."""
    ids: list[str] = []
    texts: dict[str, str] = {}
    created: dict[str, datetime] = {}
    for item in session.scalars(select(CatalogItem).where(CatalogItem.community_id == community_id)
                                .order_by(CatalogItem.id)):
        key = str(item.id)
        ids.append(key)
        title = item.title or ""
        tags = " ".join(item.tags or ())
        texts[key] = f"{title} {title} {tags} {tags} {item.description or ''}".strip()
        if item.created_at is not None:
            created[key] = item.created_at
    return ids, texts, created


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
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Read the community's interaction log, choose the model family and its settings on
    time-aware validation carved from the end of this log (:mod:`engine.recsys.selection`;
    ``tune=False`` skips that and fits Cohort's default model), refit the choice on the
    whole log and write a new artifact under ``<artifact_dir>/<community_id>/``; keeps the
    newest ``keep`` artifacts. The chosen family and every candidate's validation NDCG@10
    go into the manifest's metrics.

    Returns the artifact path. Raises :class:`NotEnoughData` when fewer than
    ``MIN_MEMBERS`` members or ``MIN_INTERACTIONS`` interactions are logged, ``ValueError``
    for an unknown community, ``RuntimeError`` for ``device="cuda"`` without CUDA.
    Safe to call from a nightly job; imports torch only when a Cohort candidate is fit.
    """
    from engine.recsys.artifact import save_artifact
    from engine.recsys.selection import Candidate, Selection, fit_chosen, select_model
    from engine.recsys.torch_threads import blas_threads, default_threads

    say = progress or (lambda _text: None)
    started = time.perf_counter()
    engine = _engine_of(store_or_engine)
    with Session(engine) as session:
        say("reading the interaction log")
        weights, half_life = recsys_settings(session, community_id)
        item_ids, texts, created = catalog_of(session, community_id)
        rows = [r for r in item_interactions(session, community_id) if r.kind in weights]
        feedback = build_feedback_matrix(rows, kind_weights=weights, half_life_days=half_life, now=now,
                                         item_ids=item_ids, ignore_unknown_kinds=True)
    matrix = feedback.matrix
    if matrix.shape[0] < MIN_MEMBERS or matrix.nnz < MIN_INTERACTIONS or matrix.shape[1] < 2:
        raise NotEnoughData(f"community {community_id}: {matrix.shape[0]} members, {matrix.nnz} member-item pairs "
                            f"over {matrix.shape[1]} items; need ≥{MIN_MEMBERS} members, ≥{MIN_INTERACTIONS} pairs")
    default = Candidate("cohort default", "cohort", {"l2": 100.0, "factors": max(1, min(32, matrix.shape[1] // 4))})
    selection: Selection | None = None
    select_seconds = 0.0
    # NumPy's BLAS pool sized like torch's (one thread for a community): its spinning threads
    # would otherwise fight every other process on a busy machine.
    with blas_threads(default_threads(matrix.nnz)):
        if tune and matrix.shape[0] >= MIN_SELECTION_MEMBERS:
            try:
                selection = select_model(rows, item_ids, kind_weights=weights, half_life=half_life,
                                         item_texts=texts, item_created=created, device=device, seed=seed,
                                         progress=say)
            except ValueError as exc:  # too little history before every origin: keep the default
                log.info("recsys: community %s: no model selection (%s)", community_id, exc)
            select_seconds = time.perf_counter() - started
        if selection is None:
            selection = Selection(chosen=default, scores=[], origins=[])
        say(f"fitting {selection.chosen.name} on the whole log")
        fit_start = time.perf_counter()
        popularity = np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()
        arrays = fit_chosen(selection, matrix, popularity, [texts.get(i, "") for i in feedback.item_ids],
                            device=device, seed=seed)
        fit_seconds = time.perf_counter() - fit_start
    target = community_dir(artifact_dir, community_id)
    target.mkdir(parents=True, exist_ok=True)
    chosen = selection.chosen
    trained_by_torch = "cohort" in (chosen.family, chosen.base.family if chosen.base else "")
    if trained_by_torch:
        from engine.recsys.torch_model import resolve_device

        device_used = str(resolve_device(device))  # what "auto" became
    else:
        device_used = "cpu"  # the NumPy families
    metrics: dict[str, Any] = {"family": chosen.family, "candidate": chosen.name, "fit_seconds": fit_seconds,
                               "selection_seconds": select_seconds, "device": device_used}
    if selection.scores:
        metrics["validation_ndcg@10"] = selection.chosen_score.ndcg
        metrics["validation_members"] = len(selection.chosen_score.per_user)
        metrics["validation_origins"] = [o.isoformat() for o in selection.origins]
        metrics["candidates"] = {s.candidate.name: s.ndcg for s in selection.scores}
    created_at = datetime.now(UTC)
    say("writing the artifact")
    path = save_artifact(target / f"{created_at.strftime('%Y%m%dT%H%M%S%fZ')}-{chosen.family}", arrays,
                         feedback.member_ids, feedback.item_ids, model_name=f"cohort-{chosen.family}",
                         hyper_parameters={"family": chosen.family, "candidate": chosen.name,
                                           **{k: v for k, v in chosen.settings.items()},
                                           **({"base": chosen.base.name} if chosen.base else {})},
                         metrics=metrics, created_at=created_at)
    _prune(target, keep)
    log.info("recsys: community %s trained (%s) -> %s", community_id, chosen.name, path)
    return path


@dataclass(frozen=True, slots=True)
class CandidateResult:
    """One candidate on the test period: validation score, test NDCG@10 and its bootstrap interval."""

    name: str
    family: str
    validation_ndcg: float
    test_ndcg: float
    low: float
    high: float
    chosen: bool


def evaluate_community(
    store_or_engine: Any,
    community_id: int,
    *,
    test_fraction: float = 0.2,
    device: str = "auto",
    k: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Temporal split of the community's own log: the oldest ``1-test_fraction`` is the
    training period (model choice by rolling-origin validation inside it, as in training),
    the rest is test. Every candidate is refit on the training period and scored on the
    test members (NDCG@k with a 95 % bootstrap interval over members).

    Raises :class:`NotEnoughData` when the split leaves no test members or too little
    training data.
    """
    engine = _engine_of(store_or_engine)
    with Session(engine) as session:
        weights, half_life = recsys_settings(session, community_id)
        item_ids, texts, created = catalog_of(session, community_id)
        rows = [r for r in item_interactions(session, community_id) if r.kind in weights]
    return evaluate_log(rows, item_ids, kind_weights=weights, half_life=half_life, item_texts=texts,
                        item_created=created, test_fraction=test_fraction, device=device, k=k, seed=seed,
                        progress=progress, label=f"community {community_id}")


def evaluate_log(
    rows: list[Interaction],
    item_ids: list[str],
    *,
    kind_weights: dict[str, float],
    half_life: float | None,
    item_texts: dict[str, str] | None = None,
    item_created: dict[str, datetime] | None = None,
    test_fraction: float = 0.2,
    device: str = "auto",
    k: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    label: str = "log",
) -> EvalReport:
    """:func:`evaluate_community` on a time-ordered interaction log (any member × item data,
    e.g. member × tag). Raises :class:`NotEnoughData` as it does."""
    from engine.recsys.torch_threads import blas_threads, default_threads

    with blas_threads(default_threads(len(rows))):
        return _evaluate_log(rows, item_ids, kind_weights=kind_weights, half_life=half_life, item_texts=item_texts,
                             item_created=item_created, test_fraction=test_fraction, device=device, k=k, seed=seed,
                             progress=progress, label=label)


def _evaluate_log(
    rows: list[Interaction],
    item_ids: list[str],
    *,
    kind_weights: dict[str, float],
    half_life: float | None,
    item_texts: dict[str, str] | None,
    item_created: dict[str, datetime] | None,
    test_fraction: float,
    device: str,
    k: int,
    seed: int,
    progress: Callable[[str], None] | None,
    label: str,
) -> EvalReport:
    from engine.recsys.selection import (
        Selection,
        bootstrap_interval,
        distinguishable,
        fit_chosen,
        make_window,
        per_user_ndcg,
        score_rows,
        select_model,
    )

    say = progress or (lambda _text: None)
    weights, texts, created = kind_weights, item_texts or {}, item_created
    community_id = label
    if len(rows) < MIN_INTERACTIONS * 2:
        raise NotEnoughData(f"{community_id}: only {len(rows)} item interactions logged")
    stamps = [r.at for r in rows]
    cutoff = stamps[min(len(stamps) - 1, int(len(stamps) * (1.0 - test_fraction)))]
    if cutoff == stamps[0]:
        cutoff = cutoff + timedelta(microseconds=1)
    test = make_window(rows, cutoff, None, item_ids, weights, half_life, created)
    train_rows = [r for r in rows if r.at < cutoff]
    if test is None or test.fit.nnz < MIN_INTERACTIONS:
        raise NotEnoughData(f"{community_id}: the temporal split leaves no test members")
    try:
        selection = select_model(train_rows, item_ids, kind_weights=weights, half_life=half_life, item_texts=texts,
                                 item_created=created, device=device, seed=seed, progress=say)
    except ValueError as exc:
        raise NotEnoughData(f"{community_id}: {exc}") from exc
    results: list[tuple[CandidateResult, np.ndarray]] = []
    test_texts = [texts.get(i, "") for i in test.item_ids]
    content = None
    if selection.content is not None:
        column = {item: n for n, item in enumerate(item_ids)}
        cols = np.asarray([column[i] for i in test.item_ids], dtype=np.int64)
        content = selection.content[cols][:, cols]
    for score in selection.scores:
        say(f"test period: {score.candidate.name}")
        single = Selection(chosen=score.candidate, scores=[score], origins=selection.origins, content=content)
        arrays = fit_chosen(single, test.fit, test.popularity, test_texts, device=device, seed=seed)
        values = per_user_ndcg(score_rows(arrays, test.rows), test.fit[test.rows], test.target, k=k)
        low, high = bootstrap_interval(values, seed=seed)
        results.append((CandidateResult(score.candidate.name, score.candidate.family, score.ndcg,
                                        float(values.mean()), low, high, score.candidate is selection.chosen), values))
    chosen_values = next(v for r, v in results if r.chosen)
    others = [(r, v) for r, v in results if not r.chosen]
    best_other = max(others, key=lambda rv: rv[0].test_ndcg) if others else None
    popularity = next(((r, v) for r, v in results if r.family == "popularity"), None)
    return EvalReport(
        cutoff=cutoff, candidates=[r for r, _ in results], train_interactions=int(test.fit.nnz),
        test_users=len(test.rows), validation_origins=selection.origins,
        beats_best_other=None if best_other is None else distinguishable(chosen_values, best_other[1], seed=seed),
        best_other=None if best_other is None else best_other[0].name,
        vs_popularity=None if popularity is None or popularity[0].chosen
        else float(chosen_values.mean() - popularity[1].mean()),
        popularity_distinguishable=None if popularity is None or popularity[0].chosen
        else distinguishable(chosen_values, popularity[1], seed=seed),
    )
