"""Churn tables: one risk score per member, community and scoring date.

Scores are kept by date (never overwritten across days) so digests and nudges can read
risk over time; a rescoring on the same date replaces that date's row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime, table_of


class ChurnScore(Base):
    """A member's churn risk on ``scored_on``: calibrated P(no activity in the next H days).

    ``reasons`` is a list of ``{"feature", "text_en", "text_zh", "weight"}`` (strongest
    first); ``model`` names what produced the risk (``hgb:community``, ``hgb:pooled``,
    ``bgnbd``, ...).
    """

    __tablename__ = "churn_scores"
    __table_args__ = (
        UniqueConstraint("community_id", "member_id", "scored_on"),
        Index("ix_churn_scores_community_scored", "community_id", "scored_on"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    scored_on: Mapped[date] = mapped_column(Date)
    risk: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    model: Mapped[str] = mapped_column(String(64))
    last_active: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


SCORES = table_of(ChurnScore)
