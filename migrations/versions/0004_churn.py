"""churn risk scores

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engine.store.base  # noqa: F401

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('churn_scores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scored_on', sa.Date(), nullable=False),
    sa.Column('risk', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('last_active', engine.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_churn_scores_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_churn_scores_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_churn_scores')),
    sa.UniqueConstraint('community_id', 'member_id', 'scored_on', name=op.f('uq_churn_scores_community_id_member_id_scored_on'))
    )
    with op.batch_alter_table('churn_scores', schema=None) as batch_op:
        batch_op.create_index('ix_churn_scores_community_scored', ['community_id', 'scored_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_churn_scores_member_id'), ['member_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('churn_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_churn_scores_member_id'))
        batch_op.drop_index('ix_churn_scores_community_scored')
    op.drop_table('churn_scores')
