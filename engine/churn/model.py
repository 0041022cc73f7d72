"""Churn models: candidates, time-based selection, calibration, and the baselines.

:func:`fit_churn_model` picks among gradient boosting, a random forest and a logistic
regression on a validation window carved from the *latest training* snapshots (never the
test window), refits the winner on all training rows and calibrates it on time-ordered
folds. Every predictor answers ``risk(X) -> P(churn)`` on the feature matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from engine.churn.bgnbd import fit_bgnbd
from engine.churn.dataset import Examples, time_split
from engine.churn.features import FEATURES, INDEX
from engine.churn.metrics import roc_auc

F64 = NDArray[np.float64]


class RiskModel(Protocol):
    name: str

    def risk(self, X: NDArray[np.float32], t: F64 | None = None) -> F64: ...


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


# Candidates compared on validation; a handful of sensible settings, not a grid to overfit.
CANDIDATES: dict[str, Callable[[], BaseEstimator]] = {
    "hgb-shallow": lambda: HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=200, max_depth=3, min_samples_leaf=20, l2_regularization=1.0,
        random_state=0),
    "hgb": lambda: HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
        early_stopping=False, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=150, min_samples_leaf=5, max_features="sqrt",
                                             n_jobs=1, random_state=0),
    "logistic-all": lambda: _logistic(None, C=0.3),
}

RF_COLUMNS = [INDEX["days_since_active"], INDEX["active_days_28"], INDEX["active_days_total"],
              INDEX["activity_total"]]


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


def _time_folds(t: F64, horizon: float, n_folds: int = 3) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Expanding-window folds over snapshot dates: fit on earlier, calibrate on the next block."""
    dates = np.unique(t)
    folds = []
    for k in range(n_folds, 0, -1):
        cut = len(dates) - k * max(1, len(dates) // (n_folds + 2))
        if cut < 2:
            continue
        start = dates[cut]
        stop = dates[min(cut + max(1, len(dates) // (n_folds + 2)), len(dates)) - 1]
        fit = np.nonzero(t + horizon <= start)[0]
        cal = np.nonzero((t >= start) & (t <= stop))[0]
        if len(fit) and len(cal):
            folds.append((fit, cal))
    return folds


def _calibrated(base: BaseEstimator, X: NDArray[np.float32], y: NDArray[np.int8], t: F64,
                horizon: float) -> Any:
    folds = [(f, c) for f, c in _time_folds(t, horizon) if 0 < y[f].sum() < len(f) and 0 < y[c].sum() < len(c)]
    method = "isotonic" if len(y) >= 5000 else "sigmoid"
    if folds:
        model = CalibratedClassifierCV(clone(base), method=method, cv=folds)
        try:
            return model.fit(X, y)
        except ValueError:
            pass
    return CalibratedClassifierCV(clone(base), method="sigmoid", cv=3).fit(X, y)


def fit_churn_model(train: Examples, horizon: float, **kwargs: Any) -> FittedModel:
    """Select on a validation window from the latest training snapshots, refit, calibrate.

    One thread: on a shared machine OpenMP's spinning threads made a 200-row fit take
    a minute. Raises :class:`ChurnDataError` when the history is too small or one-sided.
    """
    with threadpool_limits(1):
        return _fit_churn_model(train, horizon, **kwargs)


def _fit_churn_model(train: Examples, horizon: float, *, trained_on: str = "community",
                    min_examples: int = 200, min_positives: int = 20,
                    candidates: dict[str, Callable[[], BaseEstimator]] | None = None) -> FittedModel:
    _check_fit(train, min_examples, min_positives)
    assert train.y is not None
    candidates = candidates or CANDIDATES
    scores: dict[str, float] = {}
    inner = time_split(train, horizon, test_share=0.3)
    if inner is not None and inner.train.y is not None and inner.test.y is not None \
            and 0 < inner.train.y.sum() < len(inner.train) and 0 < inner.test.y.sum() < len(inner.test):
        for name, make in candidates.items():
            est = make().fit(inner.train.X, inner.train.y)
            scores[name] = roc_auc(inner.test.y, est.predict_proba(inner.test.X)[:, 1])
        best = max(scores, key=lambda k: (scores[k], -list(candidates).index(k)))
    else:
        best = next(iter(candidates))
    estimator = _calibrated(candidates[best](), train.X, train.y, train.t, horizon)
    stayers = train.X[train.y == 0] if (train.y == 0).any() else train.X
    return FittedModel(name=f"{best}:{trained_on}", estimator=estimator,
                       reference=np.median(stayers, axis=0).astype(np.float64), validation=scores,
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
