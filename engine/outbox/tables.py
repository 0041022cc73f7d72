"""The outbox table: every proactive message Cohort sends to a member, keyed by the
caller's idempotency key, with its delivery state.

States: ``planned`` → ``sending`` → ``sent`` | ``failed`` | ``unreachable`` | ``opted_out``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_updated", "state", "updated_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), nullable=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Kept until the message is final, then cleared (a digest chart is not worth keeping).
    picture: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    picture_name: Mapped[str] = mapped_column(String(128), default="chart.png")
    # The account the message went (or is going) to, once chosen.
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Parts delivered so far (picture, then text): a retry never repeats a delivered part.
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
