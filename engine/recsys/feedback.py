"""Implicit feedback: turn a community's interaction log into a weighted user×item matrix.

Every kind of interaction is a positive with its own weight (a completed lesson says
more than a click), and older interactions count less via exponential decay. Repeated
interactions with one item add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    "click": 1.0,
    "reaction": 1.5,
    "share": 3.0,
    "reply_in_thread": 3.0,
    "completion": 5.0,
    "rating": 4.0,
}


@dataclass(frozen=True, slots=True)
class Interaction:
    """One member touching one catalog item. ``kind`` is a key of the weight table."""

    member_id: str
    item_id: str
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackMatrix:
    """Weighted member×item CSR matrix plus the id maps (list index = row/column)."""

    matrix: sp.csr_matrix
    member_ids: list[str]
    item_ids: list[str]
    member_index: dict[str, int] = field(repr=False)
    item_index: dict[str, int] = field(repr=False)


def decay_factor(age_days: float | np.ndarray, half_life_days: float | None) -> np.ndarray:
    """``0.5 ** (age / half_life)``; future timestamps count as age 0; no decay if half-life is None."""
    age = np.maximum(np.asarray(age_days, dtype=np.float64), 0.0)
    if half_life_days is None:
        return np.ones_like(age)
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    return np.power(0.5, age / half_life_days)


def build_feedback_matrix(
    interactions: Iterable[Interaction | tuple[str, str, str, datetime]],
    *,
    kind_weights: Mapping[str, float] | None = None,
    half_life_days: float | None = 60.0,
    now: datetime | None = None,
    item_ids: Iterable[str] | None = None,
    ignore_unknown_kinds: bool = False,
) -> FeedbackMatrix:
    """Aggregate interactions into ``weight(kind) * 0.5 ** (age_days / half_life_days)`` sums.

    ``now`` defaults to the newest interaction (so a retrain on old data is reproducible).
    ``item_ids`` fixes the column order (catalog items with no interactions get an empty
    column); interactions on items outside it are dropped. Members appear in first-seen order.
    Returns a :class:`FeedbackMatrix`. Raises ``ValueError`` for an unknown kind (unless
    ``ignore_unknown_kinds``) or a non-positive half-life.
    """
    weights = dict(DEFAULT_KIND_WEIGHTS if kind_weights is None else kind_weights)
    rows: list[tuple[str, str, str, datetime]] = [
        (i.member_id, i.item_id, i.kind, i.at) if isinstance(i, Interaction) else tuple(i)  # type: ignore[misc]
        for i in interactions
    ]
    fixed_items = item_ids is not None
    item_index: dict[str, int] = {item: n for n, item in enumerate(item_ids or [])}
    member_index: dict[str, int] = {}
    r_idx: list[int] = []
    c_idx: list[int] = []
    base: list[float] = []
    stamps: list[float] = []
    for member, item, kind, at in rows:
        if kind not in weights:
            if ignore_unknown_kinds:
                continue
            raise ValueError(f"unknown interaction kind {kind!r}; known: {sorted(weights)}")
        if item not in item_index:
            if fixed_items:
                continue
            item_index[item] = len(item_index)
        r_idx.append(member_index.setdefault(member, len(member_index)))
        c_idx.append(item_index[item])
        base.append(weights[kind])
        stamps.append(_aware(at).timestamp())
    if stamps:
        reference = _aware(now).timestamp() if now is not None else max(stamps)
        ages = (reference - np.asarray(stamps)) / 86400.0
        values = np.asarray(base) * decay_factor(ages, half_life_days)
    else:
        values = np.zeros(0)
    shape = (len(member_index), len(item_index))
    matrix = sp.csr_matrix((values.astype(np.float32), (r_idx, c_idx)), shape=shape)
    matrix.sum_duplicates()  # repeated interactions with an item accumulate
    matrix.eliminate_zeros()
    return FeedbackMatrix(
        matrix=matrix,
        member_ids=list(member_index),
        item_ids=list(item_index),
        member_index=member_index,
        item_index=item_index,
    )


def _aware(at: datetime) -> datetime:
    # Naive datetimes are taken as UTC so mixed inputs compare consistently.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
