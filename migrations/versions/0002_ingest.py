"""durable ingest: dead letters

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.base  # noqa: F401

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('update_key', sa.String(length=64), nullable=False),
    sa.Column('received_at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('platform', 'update_key', name=op.f('uq_dead_letters_platform_update_key'))
    )
    op.create_index('ix_dead_letters_received_at', 'dead_letters', ['received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dead_letters_received_at', table_name='dead_letters')
    op.drop_table('dead_letters')
