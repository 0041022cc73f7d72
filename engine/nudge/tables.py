"""Nudge tables: campaigns (one per community and local day), the arm each flagged member
was drawn into (recorded before anything is sent), clicks on nudge buttons, and members'
``/nudges off|on`` choices (a log: the latest row wins, earlier rows are the guardrail)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime

TREATED = "treated"
CONTROL = "control"


class NudgeCampaign(Base):
    """One day's campaign in one community; the unique key makes a rerun (a restart, a
    second process, a repeated local hour on a DST night) find it instead of drawing again."""

    __tablename__ = "nudge_campaigns"
    __table_args__ = (UniqueConstraint("community_id", "run_on"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    run_on: Mapped[date] = mapped_column(Date)  # the community's local date
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seed: Mapped[int] = mapped_column(BigInteger)
    control_fraction: Mapped[float] = mapped_column(Float)
    ranking: Mapped[str] = mapped_column(String(16), default="risk")  # risk | uplift
    scores_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # flagged / excluded by reason
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned | sent


class NudgeAssignment(Base):
    """A flagged, eligible member's arm in a campaign. ``delivery`` is the Notifier's answer
    for treated members (None until delivered; control members are never messaged)."""

    __tablename__ = "nudge_assignments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id"),
        Index("ix_nudge_assignments_member_assigned", "member_id", "assigned_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("nudge_campaigns.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    arm: Mapped[str] = mapped_column(String(8))
    rank: Mapped[int] = mapped_column(Integer)
    risk: Mapped[float] = mapped_column(Float)
    uplift_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # for the uplift model
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivery: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class NudgeClick(Base):
    """A click on a nudge's button (the first of each action per assignment counts)."""

    __tablename__ = "nudge_clicks"
    __table_args__ = (UniqueConstraint("assignment_id", "action"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("nudge_assignments.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class NudgePreference(Base):
    """``/nudges off`` (opted_out True) or ``/nudges on``; the member's latest row applies."""

    __tablename__ = "nudge_preferences"
    __table_args__ = (Index("ix_nudge_preferences_member_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    opted_out: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
