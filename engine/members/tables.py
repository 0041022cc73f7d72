"""Tables of the members package: one-time link codes and failed redemption attempts.

Both reference ``accounts`` (not ``members``): a code is issued by one platform account,
and the rate limit counts wrong guesses per account. Deleting the account removes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime


class LinkCode(Base):
    """A one-time code from ``/link``; only its SHA-256 is stored, never the code."""

    __tablename__ = "member_link_codes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LinkFailure(Base):
    """One wrong, expired or reused code sent by an account (the rate limit counts these)."""

    __tablename__ = "member_link_failures"
    __table_args__ = (Index("ix_member_link_failures_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
