"""BG/NBD (Fader, Hardie & Lee 2005): a no-label baseline for who is still "alive".

Each member's activity days follow a Poisson process (rate ~ Gamma(r, alpha)) and after
each active day they may drop out (p ~ Beta(a, b)). Fitted by maximum likelihood on
(x repeat active days, t_x last minus first active day, T now minus first active day).
The churn risk for a horizon H is ``1 − P(alive) · P(at least one active day in H | alive)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import gammaln

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x: F64, t_x: F64, T: F64) -> F64:
        """P(still alive | history); 1 for members with no repeat activity (the model's convention)."""
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            log_ratio = (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            odds = np.where(x > 0, np.exp(np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-12)) + log_ratio), 0.0)
        return np.nan_to_num(1.0 / (1.0 + odds), nan=0.0)

    def churn_risk(self, x: F64, t_x: F64, T: F64, horizon: float) -> F64:
        """P(no activity in the next ``horizon`` days)."""
        T = np.asarray(T, dtype=np.float64)
        quiet_if_alive = np.exp((self.r + np.asarray(x)) * (np.log(self.alpha + T) - np.log(self.alpha + T + horizon)))
        return 1.0 - self.p_alive(x, t_x, T) * (1.0 - quiet_if_alive)


def _neg_ll(log_params: F64, x: F64, t_x: F64, T: F64) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf)
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return float(-np.sum(ll))


def fit_bgnbd(x: F64, t_x: F64, T: F64) -> BGNBD:
    """Maximum-likelihood fit; falls back to a vague prior when the data cannot pin it down."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    keep = T > 0
    x, t_x, T = x[keep], np.minimum(t_x[keep], T[keep]), T[keep]
    if len(x) < 3 or not np.any(x > 0):
        return BGNBD(r=0.5, alpha=10.0, a=1.0, b=3.0)
    result = minimize(_neg_ll, x0=np.log([0.5, 10.0, 1.0, 3.0]), args=(x, t_x, T), method="L-BFGS-B",
                      bounds=[(-8, 8)] * 4)
    params = np.exp(result.x) if np.all(np.isfinite(result.x)) else np.array([0.5, 10.0, 1.0, 3.0])
    return BGNBD(*(float(p) for p in params))
