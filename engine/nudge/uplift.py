"""Ranking by estimated uplift: a two-model (T-learner) estimate of how much a nudge raises
each member's chance of coming back, learnt from the randomised campaigns' outcomes.

Because treated and control were drawn at random, P(return | x, treated) − P(return | x,
control) is identified. Two gradient-boosted classifiers (scikit-learn), one per arm, on
the features frozen at assignment (risk, days inactive, the churn reasons' weights). Below
``min_per_arm`` outcomes in either arm the estimate is mostly noise: :func:`uplift_ranker`
returns None and campaigns keep ranking by risk. The control group stays in either case,
and the report measures uplift-ranked campaigns against risk-ranked ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from engine.nudge.campaign import UpliftRanker, community_nudge_settings, risk_features
from engine.nudge.report import outcome_table
from engine.nudge.risk import RiskLike

if TYPE_CHECKING:  # scikit-learn loads only once there are enough outcomes to fit (~60 MB RSS)
    from sklearn.ensemble import HistGradientBoostingClassifier


@dataclass(frozen=True, slots=True)
class TwoModelUplift:
    features: tuple[str, ...]
    treated_model: HistGradientBoostingClassifier
    control_model: HistGradientBoostingClassifier

    def predict(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        x = _matrix(rows, self.features)
        return _positive(self.treated_model, x) - _positive(self.control_model, x)


def _matrix(rows: Sequence[Mapping[str, float]], features: Sequence[str]) -> np.ndarray:
    return np.array([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=float).reshape(len(rows),
                                                                                                  len(features))


def _positive(model: HistGradientBoostingClassifier, x: np.ndarray) -> np.ndarray:
    classes = list(model.classes_)
    if len(classes) == 1:
        return np.full(len(x), float(classes[0]))
    return np.asarray(model.predict_proba(x)[:, classes.index(True)])


def fit_two_model(table: Sequence[tuple[Mapping[str, float], bool, bool]], *, min_per_arm: int,
                  seed: int = 0) -> TwoModelUplift | None:
    """Fit on (features, treated, returned) rows; None below ``min_per_arm`` per arm."""
    treated = [(f, y) for f, t, y in table if t]
    control = [(f, y) for f, t, y in table if not t]
    if len(treated) < min_per_arm or len(control) < min_per_arm:
        return None
    names = tuple(sorted({k for f, _, _ in table for k in f}))
    from sklearn.ensemble import HistGradientBoostingClassifier

    def fit(rows: list[tuple[Mapping[str, float], bool]]) -> HistGradientBoostingClassifier:
        model = HistGradientBoostingClassifier(max_iter=100, max_depth=3, learning_rate=0.1,
                                               l2_regularization=1.0, random_state=seed)
        model.fit(_matrix([f for f, _ in rows], names), np.array([y for _, y in rows], dtype=bool))
        return model

    return TwoModelUplift(names, fit(treated), fit(control))


def uplift_ranker(min_outcomes_per_arm: int | None = None) -> UpliftRanker:
    """A ranker for :func:`engine.nudge.campaign.plan_campaign`: fits on every closed
    campaign in the database (pooled) and scores the day's candidates, or returns None
    (rank by risk) when there are too few outcomes or the community asked for risk."""

    def rank(session: Session, community_id: int, candidates: Sequence[RiskLike],
             now: datetime) -> Mapping[int, float] | None:
        policy = community_nudge_settings(session, community_id).policy
        if policy.ranking == "risk":
            return None
        minimum = min_outcomes_per_arm if min_outcomes_per_arm is not None else policy.min_outcomes_per_arm
        model = fit_two_model(outcome_table(session, now=now), min_per_arm=minimum)
        if model is None:
            return None
        scores = model.predict([risk_features(c, now) for c in candidates])
        return {c.member_id: float(s) for c, s in zip(candidates, scores, strict=True)}

    return rank
