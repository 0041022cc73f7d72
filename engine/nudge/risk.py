"""What the nudge engine needs from churn scoring, as structural types.

``engine.churn.scores.latest_risks`` and its ``MemberRisk`` / ``Reason`` fit these; tests
pass typed fakes. Taking the source as a parameter keeps the campaign independent of how
(and whether yet) a community's risks were scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.orm import Session


class ReasonLike(Protocol):
    @property
    def feature(self) -> str: ...
    @property
    def text_en(self) -> str: ...
    @property
    def text_zh(self) -> str: ...
    @property
    def weight(self) -> float: ...


class RiskLike(Protocol):
    @property
    def member_id(self) -> int: ...
    @property
    def risk(self) -> float: ...
    @property
    def reasons(self) -> Sequence[ReasonLike]: ...
    @property
    def scored_on(self) -> date: ...
    @property
    def last_active(self) -> datetime | None: ...


class RiskSource(Protocol):
    """``latest_risks``: a community's latest scores on or before a date, highest first."""

    def __call__(self, session: Session, community_id: int, *,
                 on_or_before: date | None = None) -> Sequence[RiskLike]: ...
