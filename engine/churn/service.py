"""Churn for one community, end to end: train, score (and store), evaluate.

Each function reads the stored log through :func:`engine.churn.log.load_log`, takes the
clock as ``now`` (injected) and returns a report dataclass; refusals (no history, a gap in
the log, ...) come back as a ``refused`` message, never as an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.churn.artifact import ModelFileError, load_model, save_model
from engine.churn.dataset import (
    Examples,
    Split,
    current,
    labelled,
    rolling_splits,
    snapshot_times,
    time_split,
)
from engine.churn.features import FeatureBuilder
from engine.churn.guards import future_events, recent_gap
from engine.churn.log import ActivityLog, from_days, load_log, to_days
from engine.churn.metrics import bootstrap_auc_difference, brier, pr_auc, roc_auc, top_decile_lift
from engine.churn.model import (
    BGNBDBaseline,
    ChurnDataError,
    FittedModel,
    RecencyFrequencyLogit,
    RecencyRule,
    RiskModel,
    fit_churn_model,
)
from engine.churn.reasons import explain
from engine.churn.scores import MemberRisk, store_scores
from engine.churn.settings import ChurnSettings, churn_settings
from engine.store.community_settings import stored_settings
from engine.store.models import Interaction

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)
POOLED = "pooled"
EXPLAINED_AT_LEAST = 50


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def settings_of(session: Session, community_id: int) -> ChurnSettings:
    return churn_settings(stored_settings(session, community_id))


def communities_with_activity(session: Session) -> list[int]:
    return sorted({int(c) for c in session.scalars(select(Interaction.community_id).distinct())})


@dataclass
class CommunityData:
    community_id: int
    settings: ChurnSettings
    log: ActivityLog
    builder: FeatureBuilder


def community_data(session: Session, community_id: int) -> CommunityData:
    log_ = load_log(session, community_id)
    return CommunityData(community_id, settings_of(session, community_id), log_, FeatureBuilder(log_))


def training_examples(data: CommunityData, now: float, progress: Progress = _no_progress) -> Examples:
    s = data.settings
    times = snapshot_times(data.builder, s.window_days, s.horizon_days, now, s.gap_days)
    parts = []
    for i, t in enumerate(times):
        parts.append(labelled(data.builder, [t], s.window_days, s.horizon_days, data.community_id))
        progress(f"community {data.community_id}: snapshots", i + 1, len(times))
    return Examples.concat(parts)


# -- train -------------------------------------------------------------------------------------


@dataclass
class TrainReport:
    community_id: int
    model: str = ""
    trained_on: str = ""           # community | pooled | "" (nothing trained: BG/NBD serves)
    examples: int = 0
    churned: int = 0
    validation: dict[str, float] = field(default_factory=dict)
    note: str = ""


def train_community(session: Session, community_id: int, now: datetime, model_dir: Path,
                    progress: Progress = _no_progress) -> TrainReport:
    """Fit and save the community's model, or the pooled one when its own history is too small."""
    data = community_data(session, community_id)
    s = data.settings
    examples = training_examples(data, to_days(now), progress)
    report = TrainReport(community_id, examples=len(examples),
                         churned=int(examples.y.sum()) if examples.y is not None else 0)
    try:
        model = fit_churn_model(examples, s.horizon_days, min_examples=s.min_train_examples,
                                min_positives=s.min_train_positives)
    except ChurnDataError as own:
        pooled = train_pooled(session, now, model_dir, progress)
        report.note = f"own history too small ({own}); " + (
            f"scores use the pooled model ({pooled.model})" if pooled.model else
            f"no pooled model either ({pooled.note}); scores use BG/NBD (no training)")
        report.model, report.trained_on, report.validation = pooled.model, pooled.trained_on, pooled.validation
        return report
    save_model(model, model_dir, str(community_id), now=now)
    report.model, report.trained_on, report.validation = model.name, "community", model.validation
    return report


def train_pooled(session: Session, now: datetime, model_dir: Path, progress: Progress = _no_progress) -> TrainReport:
    """One model over every community's labelled snapshots (for communities too small alone)."""
    parts = [training_examples(community_data(session, c), to_days(now), progress)
             for c in communities_with_activity(session)]
    examples = Examples.concat(parts)
    report = TrainReport(0, examples=len(examples), churned=int(examples.y.sum()) if examples.y is not None else 0)
    defaults = ChurnSettings()
    try:
        model = fit_churn_model(examples, defaults.horizon_days, trained_on=POOLED,
                                min_examples=defaults.min_train_examples,
                                min_positives=defaults.min_train_positives)
    except ChurnDataError as exc:
        report.note = str(exc)
        return report
    save_model(model, model_dir, POOLED, now=now)
    report.model, report.trained_on, report.validation = model.name, POOLED, model.validation
    return report


# -- score -------------------------------------------------------------------------------------


@dataclass
class ScoreRun:
    community_id: int
    scored_on: date
    model: str = ""
    risks: list[MemberRisk] = field(default_factory=list)   # every eligible member, riskiest first
    flagged: int = 0
    refused: str = ""        # why nothing was scored (then nothing was stored)
    notes: list[str] = field(default_factory=list)


def _serving_model(community_id: int, model_dir: Path, horizon: float, notes: list[str]) -> RiskModel:
    for key in (str(community_id), POOLED):
        try:
            model = load_model(model_dir, key)
        except ModelFileError as exc:
            notes.append(f"saved model refused: {exc}")
            continue
        if model is not None:
            return model
    notes.append("no trained model yet (cohort churn train): BG/NBD, which needs no training, scored instead")
    return BGNBDBaseline(horizon)


def score_community(session: Session, community_id: int, now: datetime, model_dir: Path, *,
                    store: bool = True) -> ScoreRun:
    """Score every eligible member at ``now``, word the flagged ones' reasons, store the run.

    Refuses (``refused`` set, nothing stored) on an empty community or a gap in the log.
    """
    t = to_days(now)
    run = ScoreRun(community_id, now.date())
    data = community_data(session, community_id)
    s = data.settings
    if data.log.n_members == 0 or data.log.n_events == 0:
        run.refused = "no history yet: nobody has posted or reacted in this community, so there is nothing to score"
        return run
    skewed = future_events(data.log, t)
    if skewed:
        run.notes.append(f"{skewed} events are dated in the future (clock skew?); they were ignored")
    gap = recent_gap(data.log, t, s.window_days, s.gap_days)
    if gap is not None:
        run.refused = gap.describe()
        return run
    rows = current(data.builder, t, s.window_days, community_id)
    if not len(rows):
        run.refused = f"nobody was active or joined in the last {s.window_days} days: nobody to score"
        return run
    model = _serving_model(community_id, Path(model_dir), s.horizon_days, run.notes)
    run.model = model.name
    risk = model.risk(rows.X, rows.t)
    order = np.lexsort((data.log.member_ids[rows.member], -risk))
    over = np.nonzero(risk[order] >= s.flag_threshold)[0]
    cap = int(np.floor(len(rows) * s.max_flag_share))
    flagged = order[over[: max(cap, 0)]]
    if len(over) > len(flagged):
        run.notes.append(f"{len(over)} members are over the threshold but at most {s.max_flag_share:.0%} "
                         f"are flagged at once: the {len(flagged)} riskiest were")
    run.flagged = len(flagged)
    reference = model.reference if isinstance(model, FittedModel) else np.median(rows.X, axis=0).astype(np.float64)
    # reasons for the flagged, and for the riskiest few even when nobody is over the threshold
    worded = order[: max(len(flagged), min(EXPLAINED_AT_LEAST, len(order)))]
    words = explain(rows.X[worded], lambda X: model.risk(X, np.full(len(X), t)), reference)
    reasons = {int(i): w for i, w in zip(worded.tolist(), words, strict=True)}
    run.risks = [MemberRisk(member_id=int(data.log.member_ids[rows.member[i]]), risk=float(risk[i]),
                            reasons=reasons.get(int(i), ()), scored_on=run.scored_on,
                            last_active=None if not np.isfinite(rows.last_active[i]) else from_days(rows.last_active[i]))
                 for i in order.tolist()]
    if store:
        store_scores(session, community_id, run.scored_on, run.model, run.risks)
    return run


def flagged_of(run: ScoreRun) -> list[MemberRisk]:
    return run.risks[: run.flagged]


# -- evaluate ----------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    roc_auc: float
    pr_auc: float
    lift: float
    brier: float


@dataclass
class EvalReport:
    community_id: int
    rows: list[Row] = field(default_factory=list)
    model: str = ""
    train_examples: int = 0
    test_examples: int = 0
    test_churn_rate: float = float("nan")
    test_from: date | None = None
    diff: float = float("nan")      # model − recency ROC-AUC on the later window
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    diff_logistic: float = float("nan")  # model − logistic-rf ROC-AUC, with its interval
    ci_logistic_low: float = float("nan")
    ci_logistic_high: float = float("nan")
    validation: dict[str, float] = field(default_factory=dict)
    refused: str = ""
    rolling: SplitsReport | None = None  # the same over several rolling later windows (eval --splits)


def evaluate_community(session: Session, community_id: int, now: datetime, *, rounds: int = 1000,
                       progress: Progress = _no_progress, splits: int = 0) -> EvalReport:
    """Model and baselines on the later window (trained on the earlier one; refused if too
    small) and, when ``splits`` > 0, over that many rolling later windows."""
    data = community_data(session, community_id)
    examples = training_examples(data, to_days(now), progress)
    report = evaluate_examples(examples, data.settings, community_id, rounds=rounds)
    if splits:
        report.rolling = evaluate_over_splits(examples, data.settings, community_id, n_splits=splits)
    return report


def evaluate_examples(examples: Examples, s: ChurnSettings, community_id: int = 0, *,
                      rounds: int = 1000) -> EvalReport:
    """The model and every baseline on the later window (the last 30 % of snapshot dates)."""
    split = time_split(examples, s.horizon_days)
    if split is None:
        report = EvalReport(community_id)
        report.refused = "too little history for a time-based evaluation (needs at least 3 weekly snapshots)"
        return report
    return evaluate_split(split, s, community_id, rounds=rounds)


def evaluate_split(split: Split, s: ChurnSettings, community_id: int = 0, *, rounds: int = 1000) -> EvalReport:
    """Train on ``split.train`` (selection on its own validation folds), score ``split.test``.

    ``rounds`` = 0 skips the bootstrap interval.
    """
    report = EvalReport(community_id)
    train, test = split.train, split.test
    assert train.y is not None and test.y is not None
    report.train_examples, report.test_examples = len(train), len(test)
    report.test_churn_rate = float(test.y.mean())
    report.test_from = from_days(split.test_start).date()
    if test.y.min() == test.y.max():
        report.refused = "the later window has only churned or only staying members: nothing to rank"
        return report
    try:
        model = fit_churn_model(train, s.horizon_days, min_examples=min(s.min_train_examples, 50),
                                min_positives=min(s.min_train_positives, 10))
    except ChurnDataError as exc:
        report.refused = f"cannot train on the earlier window: {exc}"
        return report
    report.model, report.validation = model.name, model.validation
    predictors: list[RiskModel] = [model, RecencyRule().fit(train), RecencyFrequencyLogit().fit(train),
                                   BGNBDBaseline(s.horizon_days)]
    scores = {}
    for p in predictors:
        prob = p.risk(test.X, test.t)
        scores[p.name] = prob
        report.rows.append(Row(p.name, roc_auc(test.y, prob), pr_auc(test.y, prob),
                               top_decile_lift(test.y, prob), brier(test.y, prob)))
    report.rows[0].name = f"model ({model.name})"
    if rounds:
        clusters = test.member.astype(np.int64) * 1_000_003 + test.community
        report.diff, report.ci_low, report.ci_high = bootstrap_auc_difference(
            test.y, scores[model.name], scores["recency"], clusters, rounds=rounds)
        report.diff_logistic, report.ci_logistic_low, report.ci_logistic_high = bootstrap_auc_difference(
            test.y, scores[model.name], scores["logistic-rf"], clusters, rounds=rounds)
    else:
        report.diff = report.rows[0].roc_auc - report.rows[1].roc_auc
        report.diff_logistic = report.rows[0].roc_auc - report.rows[2].roc_auc
    return report


@dataclass
class SplitsReport:
    """The same evaluation over several later windows (rolling origins)."""

    community_id: int
    splits: list[EvalReport] = field(default_factory=list)   # the evaluated ones (refused ones left out)
    skipped: list[str] = field(default_factory=list)          # why a window was not evaluated

    def roc_auc(self, predictor: str) -> list[float]:
        """ROC-AUC of ``predictor`` ("model", "recency", "logistic-rf", "bgnbd") per window."""
        return [row.roc_auc for r in self.splits for row in r.rows if row.name.split(" ")[0] == predictor]

    def summary(self, predictor: str) -> tuple[float, float]:
        """(mean, standard deviation) of the predictor's ROC-AUC over the windows."""
        values = np.array(self.roc_auc(predictor))
        if not len(values):
            return float("nan"), float("nan")
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    def met(self) -> tuple[int, int]:
        """Windows where the model ≥ logistic-rf, and where it ≥ recency + 0.05."""
        model, logit, recency = self.roc_auc("model"), self.roc_auc("logistic-rf"), self.roc_auc("recency")
        return (sum(m >= g for m, g in zip(model, logit, strict=True)),
                sum(m >= r + 0.05 for m, r in zip(model, recency, strict=True)))


def evaluate_over_splits(examples: Examples, s: ChurnSettings, community_id: int = 0, *,
                         n_splits: int = 4, share: float = 0.4) -> SplitsReport:
    """Model and baselines on ``n_splits`` consecutive later windows (the later ``share`` of
    snapshot dates), each trained — and its model chosen — on the snapshots before it."""
    out = SplitsReport(community_id)
    for split in rolling_splits(examples, s.horizon_days, n_splits, share):
        report = evaluate_split(split, s, community_id, rounds=0)
        if report.refused:
            out.skipped.append(f"window from {report.test_from}: {report.refused}")
        else:
            out.splits.append(report)
    return out
