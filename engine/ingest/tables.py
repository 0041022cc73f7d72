"""The dead-letter table: platform updates quarantined instead of stopping ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime


class DeadLetter(Base):
    """One update that could not be converted or stored. ``update_key`` (the platform's
    update id, or a hash of the payload when it has none) makes a redelivery count once."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("platform", "update_key"),
        Index("ix_dead_letters_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    update_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(300))
    excerpt: Mapped[str] = mapped_column(Text, default="")
