"""moderation II: welcome, checklist, filters, antiflood (#16)

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.base  # noqa: F401

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "onboarding_steps",
        sa.Column("community_id", _ID, sa.ForeignKey("communities.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("step", sa.String(16), primary_key=True),
        sa.Column("at", engine.store.base.UtcDateTime(), nullable=False),
    )
    op.create_index("ix_onboarding_steps_member_id", "onboarding_steps", ["member_id"])
    op.create_table(
        "welcome_posts",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("community_id", _ID, sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community_ext", sa.String(64), nullable=False),
        sa.Column("chat_ext", sa.String(64), nullable=False),
        sa.Column("thread_ext", sa.String(64), nullable=True),
        sa.Column("message_ext", sa.String(64), nullable=False),
        sa.Column("posted_at", engine.store.base.UtcDateTime(), nullable=False),
        sa.Column("delete_at", engine.store.base.UtcDateTime(), nullable=False),
        sa.Column("deleted_at", engine.store.base.UtcDateTime(), nullable=True),
    )
    op.create_index("ix_welcome_posts_due", "welcome_posts", ["deleted_at", "delete_at"])


def downgrade() -> None:
    op.drop_index("ix_welcome_posts_due", table_name="welcome_posts")
    op.drop_table("welcome_posts")
    op.drop_index("ix_onboarding_steps_member_id", table_name="onboarding_steps")
    op.drop_table("onboarding_steps")
