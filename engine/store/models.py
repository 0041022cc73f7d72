"""Core tables: communities, members and their platform accounts, chats, messages,
reactions, membership, the typed interaction log, the audit log and idempotency keys.

Capabilities (points, recsys, churn, ...) add their own tables on the same ``Base``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime

ExtId = String(64)  # platform ids as text: Telegram ids exceed 32 bits, snowflakes 64


class Community(Base):
    """A Telegram group or Discord guild (or a console / imported community)."""

    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(ExtId)
    title: Mapped[str] = mapped_column(String(256), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Member(Base):
    """A person; may hold several platform accounts (linked with ``/link``)."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(ExtId)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(128), default="")
    display_name: Mapped[str] = mapped_column(String(256), default="")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: never tried; True: the member opened the bot privately; False: DM refused.
    dm_reachable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    dm_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When the names above were last set: an older event (a re-import) never overwrites them.
    name_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CommunityMember(Base):
    """Membership of a member in a community, with first/last activity."""

    __tablename__ = "community_members"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    role: Mapped[int] = mapped_column(Integer, default=0)  # Cohort's own moderator list
    dm_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(ExtId)
    title: Mapped[str] = mapped_column(String(256), default="")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # A public Telegram group's @username (its message links are t.me/<username>/<id>).
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Thread(Base):
    """A forum topic (Telegram) or thread / forum post (Discord, Stack Exchange question)."""

    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("chat_id", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(ExtId)
    title: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "external_id"),
        Index("ix_messages_author_posted", "author_id", "posted_at"),
        Index("ix_messages_community_posted", "community_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), nullable=True, index=True
    )
    external_id: Mapped[str] = mapped_column(ExtId)
    # Anonymous posts (channel, anonymous admin) have no author.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), nullable=True
    )
    reply_to_external_id: Mapped[str | None] = mapped_column(ExtId, nullable=True)
    reply_to_author_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    # Kept or dropped per ``storage.keep_message_text``; may be cut to a maximum length.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    attachment: Mapped[str | None] = mapped_column(String(32), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_command: Mapped[bool] = mapped_column(Boolean, default=False)
    is_topic_start: Mapped[bool] = mapped_column(Boolean, default=False)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)


class Reaction(Base):
    """A member's reaction to a message; removal keeps the row with ``removed_at``."""

    __tablename__ = "reactions"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_external_id", "member_id", "emoji"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    message_external_id: Mapped[str] = mapped_column(ExtId)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    target_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    emoji: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ReactionCount(Base):
    """Anonymous reaction totals per message and emoji (channel posts, votes)."""

    __tablename__ = "reaction_counts"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    message_external_id: Mapped[str] = mapped_column(ExtId, primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class MembershipEvent(Base):
    __tablename__ = "membership_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # joined | left
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Interaction(Base):
    """The typed interaction log every model trains on.

    ``kind`` is one of :data:`engine.store.interactions.KINDS`; targets are optional.
    """

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_community_at", "community_id", "at"),
        Index("ix_interactions_member_at", "member_id", "at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    target_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), nullable=True
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """Who did what to whom, and why: every moderator action and manual change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_community_at", "community_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), nullable=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(64))
    target_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProcessedEvent(Base):
    """Idempotency: one row per platform event ever handled (its dedup key)."""

    __tablename__ = "processed_events"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
