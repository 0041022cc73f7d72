"""Points tables: the append-only ledger, the derived per-member balance/state, badges
and seasons. Balances, levels and leaderboards all derive from the ledger;
``points_members`` is a cache of it that :func:`engine.points.service.rebuild_balances`
can recompute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime, table_of


class PointsEntry(Base):
    """One change of a member's points. Never updated or deleted (except by privacy erasure).

    ``(source_key, rule, member_id)`` is unique: the same cause can pay the same member
    under the same rule only once, whatever redelivers or replays it. A removed reaction
    (or ✅) is taken back by a ``reaction_revoked`` / ``accepted_revoked`` row with the
    negated amount under the award's own source key; a later re-award of that cause uses
    the key plus ``/2``, ``/3``, ... (``reason`` holds the reaction's emoji).
    """

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("source_key", "rule", "member_id"),
        Index("ix_points_ledger_community_at", "community_id", "at"),
        Index("ix_points_ledger_member_community", "member_id", "community_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(255))
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # e.g. the message
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(String(512), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class PointsMember(Base):
    """Derived balance and rule state of a member in a community (rebuildable)."""

    __tablename__ = "points_members"
    __table_args__ = (Index("ix_points_members_community_total", "community_id", "total"),)

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    total: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer, default=0)
    # When the member reached ``total``: the leaderboard's first tie-break.
    reached_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PointsBadge(Base):
    """A badge held (or once held: ``revoked_at``) by a member; at most once per instance."""

    __tablename__ = "points_badges"
    __table_args__ = (UniqueConstraint("community_id", "member_id", "badge", "instance"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    badge: Mapped[str] = mapped_column(String(48))
    instance: Mapped[str] = mapped_column(String(32), default="")  # "2025-W03" for weekly ones
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PointsSeason(Base):
    """A named competition window; its leaderboard sums the ledger inside it."""

    __tablename__ = "points_seasons"
    __table_args__ = (Index("ix_points_seasons_community_started", "community_id", "started_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    started_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )


# Core handles for the hot path (typed as Table, unlike ``Model.__table__``).
LEDGER = table_of(PointsEntry)
MEMBERS = table_of(PointsMember)
BADGES_TABLE = table_of(PointsBadge)
SEASONS = table_of(PointsSeason)
