"""Tables of the moderation package.

``mod_warnings``: one row per ``/warn`` (or filter warning), active until it expires or a
moderator revokes it. ``mod_restrictions``: every mute and ban Cohort applied, with when it
ends and whether Cohort itself must lift it (a platform without timed bans, the console).
``mod_filters``: a community's blocked words and link rules.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime


class Warning_(Base):
    """A moderator's warning. Active while ``revoked_at`` is null and ``expires_at`` ahead."""

    __tablename__ = "mod_warnings"
    __table_args__ = (Index("ix_mod_warnings_community_member", "community_id", "member_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), nullable=True)


class Restriction(Base):
    """A mute or ban Cohort applied. ``until`` null: until lifted. ``cohort_lifts``: the
    platform will not end it by itself, so the moderation sweep lifts it at ``until``."""

    __tablename__ = "mod_restrictions"
    __table_args__ = (Index("ix_mod_restrictions_due", "lifted_at", "until"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # mute | ban
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cohort_lifts: Mapped[bool] = mapped_column(Boolean, default=False)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Filter(Base):
    """One filter rule: ``kind`` word | regex | allow_domain | new_member_links."""

    __tablename__ = "mod_filters"
    __table_args__ = (UniqueConstraint("community_id", "kind", "pattern"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    pattern: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(8))  # delete | warn | mute
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OnboardingStep(Base):
    """A step of a newcomer's first-week checklist, done (once) at ``at``."""

    __tablename__ = "onboarding_steps"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)  # intro | question | lesson | dm
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class WelcomePost(Base):
    """A welcome the bot posted that is to be deleted at ``delete_at`` (delete-after)."""

    __tablename__ = "welcome_posts"
    __table_args__ = (Index("ix_welcome_posts_due", "deleted_at", "delete_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    community_ext: Mapped[str] = mapped_column(String(64))
    chat_ext: Mapped[str] = mapped_column(String(64))
    thread_ext: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_ext: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delete_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
