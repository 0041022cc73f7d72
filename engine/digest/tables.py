"""Digest tables: a community's owners (who receive digests), segment snapshots (for
"movement since the last digest") and which unreachable owners were already reported."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, UtcDateTime


class DigestOwner(Base):
    """A member who receives the community's digest (``/owner add``)."""

    __tablename__ = "digest_owners"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DigestSegmentSnapshot(Base):
    """Each member's segment as of one digest (``taken_on`` = the period's last local day)."""

    __tablename__ = "digest_segment_snapshots"
    __table_args__ = (Index("ix_digest_segment_snapshots_community_taken", "community_id", "taken_on"),)

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    taken_on: Mapped[date] = mapped_column(Date, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    segment: Mapped[str] = mapped_column(String(16))


class DigestUnreachableNotice(Base):
    """An owner who could not be DMed was reported to the admins (once per owner)."""

    __tablename__ = "digest_unreachable_notices"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
