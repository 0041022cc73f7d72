"""Catalog tables: items, which messages carried them, completions, ratings, and the
impressions ``/recommend`` showed (for click-through and the exploration slot)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, IdType, UtcDateTime

ITEM_KINDS = ("course", "lesson", "article", "video", "link", "thread")


class CatalogItem(Base):
    """One recommendable thing in a community's catalog.

    ``key`` is the short handle members type (``/done asyncio-basics``); ``url`` is kept
    normalised (:func:`engine.text.normalize_url`) so two shares of a page are one item.
    ``prerequisites`` are keys of other items of the same community (a DAG).
    """

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("community_id", "key"),
        Index("ix_catalog_items_community_url", "community_id", "url"),
        Index("ix_catalog_items_thread", "thread_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="link")
    title: Mapped[str] = mapped_column(String(256), default="")
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    points: Mapped[int] = mapped_column(Integer, default=0)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), nullable=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CatalogItemMessage(Base):
    """A message that carried an item's link (so reactions to it count for the item)."""

    __tablename__ = "catalog_item_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CatalogCompletion(Base):
    """A member finished an item; one row per (item, member) keeps ``/done`` idempotent."""

    __tablename__ = "catalog_completions"
    __table_args__ = (Index("ix_catalog_completions_member", "member_id"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CatalogRating(Base):
    """A member's latest 1–5 rating of an item."""

    __tablename__ = "catalog_ratings"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    stars: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class RecommendationImpression(Base):
    """One item shown by ``/recommend``; ``slot`` is "main" or "explore".

    ``clicked_at`` is set by the first click on its button; main vs exploration
    click-through and the Thompson-sampling posteriors are read from these rows.
    """

    __tablename__ = "recommendation_impressions"
    __table_args__ = (
        Index("ix_recommendation_impressions_community_slot", "community_id", "slot"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16), default="")  # model | content | popular
    shown_at: Mapped[datetime] = mapped_column(UtcDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
