"""Churn models: candidates, time-based selection, calibration, and the baselines.

:func:`fit_churn_model` picks among gradient boosting, a random forest, logistic
regressions (the recency/frequency baseline's family, all features at three strengths
of regularisation, and recency/frequency plus the member's rhythm — plain and on splines),
monotonic gradient boosting and tree + linear blends (with the best linear model and with
the baseline itself), by their mean ROC-AUC over several rolling-origin validation folds
carved from the *training* snapshots (never the test window) — a candidate replaces the
baseline only if it is at least as good on most folds; it refits the winner on all training
rows and calibrates it on those folds' out-of-time predictions. Every predictor answers ``risk(X) -> P(churn)`` on the feature matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from engine.churn.bgnbd import fit_bgnbd
from engine.churn.dataset import Examples, later_blocks
from engine.churn.features import FEATURES, INDEX
from engine.churn.metrics import roc_auc

F64 = NDArray[np.float64]


class RiskModel(Protocol):
    name: str

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64: ...


class Estimator(Protocol):
    def fit(self, X: NDArray[Any], y: NDArray[Any]) -> Any: ...

    def predict_proba(self, X: NDArray[Any]) -> NDArray[np.float64]: ...


def _signed_log(X: NDArray[Any]) -> NDArray[Any]:
    return np.sign(X) * np.log1p(np.abs(X))


def _take(X: NDArray[Any], columns: list[int]) -> NDArray[Any]:
    return X[:, columns]


def _logistic(columns: list[int] | None = None, C: float = 1.0) -> BaseEstimator:
    steps: list[Any] = []
    if columns is not None:
        steps.append(FunctionTransformer(_take, kw_args={"columns": columns}))
    steps += [FunctionTransformer(_signed_log), StandardScaler(), LogisticRegression(C=C, max_iter=2000)]
    return make_pipeline(*steps)


RF_COLUMNS = [INDEX["days_since_active"], INDEX["active_days_28"], INDEX["active_days_total"],
              INDEX["activity_total"]]
# the member's rhythm on top of recency/frequency: what the baseline cannot see
RHYTHM_COLUMNS = RF_COLUMNS + [INDEX[n] for n in ("overdue", "gap_recent", "decay_3", "decay_14", "decay_60",
                                                   "active_days_90", "reply_share", "answered_share")]

# risk can only rise with these (+1) or fall with these (-1), everything else equal
_RISING = ("days_since_active", "overdue", "unanswered_last3")
_FALLING = ("act_7", "act_14", "act_28", "active_days_28", "active_days_total", "activity_total",
            "decay_3", "decay_14", "decay_60", "active_days_90", "streak_days")
MONOTONIC = [1 if n in _RISING else -1 if n in _FALLING else 0 for n in FEATURES]


def _spline_logistic(columns: list[int], C: float = 0.3) -> BaseEstimator:
    """A logistic regression on smooth (spline) transforms of log-scaled columns."""
    return make_pipeline(FunctionTransformer(_take, kw_args={"columns": columns}), FunctionTransformer(_signed_log),
                         StandardScaler(), SplineTransformer(n_knots=5, degree=3, extrapolation="linear"),
                         LogisticRegression(C=C, max_iter=3000))

# Candidates compared on validation; a handful of sensible settings, not a grid to overfit.
# The baseline family (a logistic regression on recency/frequency) is one of them, so the
# chosen model is never worse than it *on validation*; the logistic on every feature comes
# at three strengths of regularisation, chosen on validation like everything else.
CANDIDATES: dict[str, Callable[[], Estimator]] = {
    "logistic-rf": lambda: _logistic(RF_COLUMNS),
    "logistic-all-C0.03": lambda: _logistic(None, C=0.03),
    "logistic-all-C0.3": lambda: _logistic(None, C=0.3),
    "logistic-all-C3": lambda: _logistic(None, C=3.0),
    "hgb-shallow": lambda: HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=200, max_depth=3, min_samples_leaf=20, l2_regularization=1.0,
        random_state=0),
    "hgb": lambda: HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=150, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
        random_state=0),
    "hgb-mono": lambda: HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=200, max_depth=3, min_samples_leaf=20, l2_regularization=1.0,
        monotonic_cst=MONOTONIC, random_state=0),
    "logistic-rhythm": lambda: _logistic(RHYTHM_COLUMNS, C=0.3),
    "spline-rhythm": lambda: _spline_logistic(RHYTHM_COLUMNS, C=0.3),
    "forest": lambda: RandomForestClassifier(n_estimators=150, min_samples_leaf=5, max_features="sqrt",
                                             n_jobs=1, random_state=0),
}
LINEAR = ("logistic-rf", "logistic-all-C0.03", "logistic-all-C0.3", "logistic-all-C3", "logistic-rhythm",
          "spline-rhythm")
BASELINE = "logistic-rf"           # the recency/frequency baseline's own family
BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # the trees' share in a tree + linear average
VALIDATION_FOLDS = 4               # rolling origins over the later half of the training dates



@dataclass
class FittedModel:
    """A calibrated estimator over :data:`FEATURES`, with what selection saw."""

    name: str
    estimator: Any
    reference: F64                      # stayers' median features: "normal" for reasons
    validation: dict[str, float] = field(default_factory=dict)  # candidate → validation ROC-AUC
    trained_on: str = ""                # "community" | "pooled"
    n_train: int = 0

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64:
        with threadpool_limits(1):
            return np.asarray(self.estimator.predict_proba(X)[:, 1], dtype=np.float64)


class ChurnDataError(ValueError):
    """Too little (or one-sided) labelled history to fit a model; the message says what is missing."""


def _check_fit(examples: Examples, min_examples: int, min_positives: int) -> None:
    assert examples.y is not None
    pos = int(examples.y.sum())
    neg = len(examples) - pos
    if len(examples) < min_examples:
        raise ChurnDataError(f"{len(examples)} labelled examples, at least {min_examples} needed")
    if pos < min_positives or neg < min_positives:
        raise ChurnDataError(f"{pos} churned and {neg} stayed in the history; at least {min_positives} of each needed")


def _rolling_origins(t: F64, horizon: float, n_folds: int = VALIDATION_FOLDS,
                     share: float = 0.5) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Validation folds carved from the training rows, by time: the later ``share`` of the
    snapshot dates in ``n_folds`` consecutive blocks, each predicted by a fit on the rows whose
    horizon ends before the block starts (so no label reads the block's period)."""
    folds = []
    for start, stop in later_blocks(t, share, n_folds):
        fit = np.nonzero(t + horizon <= start)[0]
        val = np.nonzero((t >= start) & (t <= stop))[0]
        if len(fit) and len(val):
            folds.append((fit, val))
    return folds


@dataclass
class Blend:
    """Trees' and a linear model's probabilities averaged, the trees weighing ``weight``."""

    trees: Any
    linear: Any
    weight: float

    def fit(self, X: NDArray[Any], y: NDArray[Any]) -> Blend:
        self.trees.fit(X, y)
        self.linear.fit(X, y)
        return self

    def predict_proba(self, X: NDArray[Any]) -> NDArray[np.float64]:
        p = self.weight * self.trees.predict_proba(X)[:, 1] + (1 - self.weight) * self.linear.predict_proba(X)[:, 1]
        return np.column_stack([1.0 - p, p])


@dataclass
class TimeCalibrated:
    """One estimator fitted on all training rows, with a probability map learnt out of time.

    The map (Platt or isotonic) is fitted on the validation folds' predictions — each made
    by a copy trained only on earlier snapshots — so it corrects the optimism of predicting
    rows the model has seen. One model, not one per fold: scoring costs a single pass.
    """

    base: Any
    method: str
    platt: LogisticRegression | None = None
    iso: IsotonicRegression | None = None

    def predict_proba(self, X: NDArray[Any]) -> NDArray[np.float64]:
        raw = np.asarray(self.base.predict_proba(X)[:, 1], dtype=np.float64)
        if self.iso is not None:
            p = np.asarray(self.iso.predict(raw), dtype=np.float64)
        elif self.platt is not None:
            p = np.asarray(self.platt.predict_proba(_logit(raw)[:, None])[:, 1], dtype=np.float64)
        else:
            p = raw
        return np.column_stack([1.0 - p, p])


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _calibration_map(final: TimeCalibrated, raw: F64, truth: NDArray[np.int8]) -> TimeCalibrated:
    if len(truth) and 0 < truth.sum() < len(truth):
        if len(truth) >= 5000:
            final.method, final.iso = "isotonic", IsotonicRegression(out_of_bounds="clip").fit(raw, truth)
        else:
            final.method, final.platt = "sigmoid", LogisticRegression(C=1e6).fit(_logit(raw)[:, None], truth)
    return final


@dataclass
class _Validation:
    """Every candidate's out-of-time predictions on each validation fold."""

    truth: list[NDArray[np.int8]]
    preds: dict[str, list[F64]]

    def aucs(self, name: str) -> F64:
        return np.array([roc_auc(y, p) for y, p in zip(self.truth, self.preds[name], strict=True)])

    def score(self, name: str) -> float:
        aucs = self.aucs(name)
        aucs = aucs[np.isfinite(aucs)]
        return float(np.mean(aucs)) if len(aucs) else float("nan")

    def wins(self, name: str, over: str) -> tuple[int, int]:
        """(folds where ``name`` ranks at least as well as ``over``, folds scored)."""
        a, b = self.aucs(name), self.aucs(over)
        ok = np.isfinite(a) & np.isfinite(b)
        return int((a[ok] >= b[ok]).sum()), int(ok.sum())


def _validate(train: Examples, horizon: float, candidates: dict[str, Callable[[], Estimator]]) -> _Validation:
    assert train.y is not None
    X, y = train.X, train.y
    out = _Validation([], {name: [] for name in candidates})
    for fit, val in _rolling_origins(train.t, horizon):
        if not 0 < y[fit].sum() < len(fit):
            continue
        out.truth.append(y[val])
        for name, make in candidates.items():
            out.preds[name].append(np.asarray(make().fit(X[fit], y[fit]).predict_proba(X[val])[:, 1], np.float64))
    return out


def _blend_factory(trees: Callable[[], Estimator], linear: Callable[[], Estimator],
                   weight: float) -> Callable[[], Estimator]:
    return lambda: Blend(trees(), linear(), weight)


def _add_blends(v: _Validation, candidates: dict[str, Callable[[], Estimator]]) -> dict[str, Callable[[], Estimator]]:
    """The best trees and the best linear model, averaged at a few weights (scored on the same folds)."""
    trees = [n for n in candidates if n not in LINEAR]
    linear = [n for n in candidates if n in LINEAR]
    if not trees or not linear or not v.truth:
        return {}
    best_tree = max(trees, key=lambda n: np.nan_to_num(v.score(n), nan=-1.0))
    best_linear = max(linear, key=lambda n: np.nan_to_num(v.score(n), nan=-1.0))
    blends: dict[str, Callable[[], Estimator]] = {}
    # the best linear model, and the baseline itself (the trees then add only what it lacks)
    for lin in dict.fromkeys([best_linear] + ([BASELINE] if BASELINE in linear else [])):
        for w in BLEND_WEIGHTS:
            name = f"blend-{w:g}({best_tree}+{lin})"
            v.preds[name] = [w * a + (1 - w) * b for a, b in zip(v.preds[best_tree], v.preds[lin], strict=True)]
            blends[name] = _blend_factory(candidates[best_tree], candidates[lin], w)
    return blends


def fit_churn_model(train: Examples, horizon: float, **kwargs: Any) -> FittedModel:
    """Select on rolling-origin validation folds from the training snapshots, refit, calibrate.

    One thread: on a shared machine OpenMP's spinning threads made a 200-row fit take
    a minute. Raises :class:`ChurnDataError` when the history is too small or one-sided.
    """
    with threadpool_limits(1):
        return _fit_churn_model(train, horizon, **kwargs)


def choose(v: _Validation, names: list[str], rule: str = "majority") -> str:
    """The candidate with the best mean validation ROC-AUC (ties: the earlier, simpler one).

    ``rule="majority"``: only the baseline or a candidate at least as good as it on most folds
    (not just on average) may win — one lucky fold must not pick a model that is worse out of time.
    """
    scores = {n: v.score(n) for n in names}
    ranked = [n for n in names if np.isfinite(scores[n])]
    if not ranked:
        return names[0]
    if rule == "majority" and BASELINE in ranked:
        ranked = [n for n in ranked if n == BASELINE or 2 * v.wins(n, BASELINE)[0] > v.wins(n, BASELINE)[1]]
    return max(ranked, key=lambda n: (scores[n], -names.index(n)))


def _fit_churn_model(train: Examples, horizon: float, *, trained_on: str = "community",
                    min_examples: int = 200, min_positives: int = 20,
                    candidates: dict[str, Callable[[], Estimator]] | None = None,
                    rule: str = "majority") -> FittedModel:
    _check_fit(train, min_examples, min_positives)
    assert train.y is not None
    candidates = dict(candidates or CANDIDATES)
    v = _validate(train, horizon, candidates)
    candidates |= _add_blends(v, candidates)
    scores = {name: v.score(name) for name in candidates}
    ranked = [n for n in candidates if np.isfinite(scores[n])]
    best = choose(v, list(candidates), rule)
    final = TimeCalibrated(candidates[best]().fit(train.X, train.y), "none")
    if ranked:
        final = _calibration_map(final, np.concatenate(v.preds[best]), np.concatenate(v.truth))
    stayers = train.X[train.y == 0] if (train.y == 0).any() else train.X
    return FittedModel(name=f"{best}:{trained_on}", estimator=final,
                       reference=np.median(stayers, axis=0).astype(np.float64),
                       validation={k: round(x, 4) for k, x in scores.items() if np.isfinite(x)},
                       trained_on=trained_on, n_train=len(train))


# -- baselines -------------------------------------------------------------------------------


@dataclass
class RecencyRule:
    """Days since last activity; probabilities from an isotonic map fitted on training rows."""

    name: str = "recency"
    iso: IsotonicRegression | None = None

    def fit(self, train: Examples) -> RecencyRule:
        assert train.y is not None
        self.iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.iso.fit(train.X[:, INDEX["days_since_active"]], train.y)
        return self

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64:
        days = X[:, INDEX["days_since_active"]].astype(np.float64)
        if self.iso is None:  # no training: a smooth rule that rises with silence
            return 1.0 - np.exp(-days / 14.0)
        # the isotonic map is a step function; a tiny recency term keeps its ranking strict
        return np.clip(np.asarray(self.iso.predict(days)) + days * 1e-9, 0.0, 1.0)


@dataclass
class RecencyFrequencyLogit:
    """Logistic regression on recency and frequency only."""

    name: str = "logistic-rf"
    est: Any = None

    def fit(self, train: Examples) -> RecencyFrequencyLogit:
        self.est = _logistic(RF_COLUMNS).fit(train.X, train.y)
        return self

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64:
        return np.asarray(self.est.predict_proba(X)[:, 1], dtype=np.float64)


def bgnbd_inputs(X: NDArray[np.float32]) -> tuple[F64, F64, F64]:
    """(x, t_x, T) for BG/NBD from the feature matrix (active days, in days)."""
    T = X[:, INDEX["days_since_first_active"]].astype(np.float64)
    x = np.maximum(X[:, INDEX["active_days_total"]].astype(np.float64) - 1.0, 0.0)
    t_x = np.clip(T - X[:, INDEX["days_since_active"]].astype(np.float64), 0.0, None)
    return x, t_x, T


@dataclass
class BGNBDBaseline:
    """BG/NBD fitted without labels on the rows it scores."""

    horizon: float
    name: str = "bgnbd"

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64:
        # one fit over every row given (each row's own T): per-date fits cost minutes
        x, t_x, T = bgnbd_inputs(X)
        risk = fit_bgnbd(x, t_x, T).churn_risk(x, t_x, T, self.horizon)
        # members with no activity yet: BG/NBD knows nothing about them; silence since joining
        never = X[:, INDEX["never_active"]] > 0
        risk[never] = 1.0 - np.exp(-X[never, INDEX["days_since_active"]].astype(np.float64) / self.horizon)
        return np.clip(risk, 0.0, 1.0)


def feature_count() -> int:
    return len(FEATURES)
