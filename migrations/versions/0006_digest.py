"""digests and owners

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engine.store.base  # noqa: F401

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('digest_owners',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('added_at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_digest_owners_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_digest_owners_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['added_by'], ['members.id'], name=op.f('fk_digest_owners_added_by_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('community_id', 'member_id', name=op.f('pk_digest_owners'))
    )
    op.create_index(op.f('ix_digest_owners_member_id'), 'digest_owners', ['member_id'], unique=False)
    op.create_table('digest_segment_snapshots',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('segment', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_digest_segment_snapshots_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_digest_segment_snapshots_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'taken_on', 'member_id', name=op.f('pk_digest_segment_snapshots'))
    )
    op.create_index('ix_digest_segment_snapshots_community_taken', 'digest_segment_snapshots', ['community_id', 'taken_on'], unique=False)
    op.create_index(op.f('ix_digest_segment_snapshots_member_id'), 'digest_segment_snapshots', ['member_id'], unique=False)
    op.create_table('digest_unreachable_notices',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reported_at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_digest_unreachable_notices_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_digest_unreachable_notices_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'member_id', name=op.f('pk_digest_unreachable_notices'))
    )
    op.create_index(op.f('ix_digest_unreachable_notices_member_id'), 'digest_unreachable_notices', ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_digest_unreachable_notices_member_id'), table_name='digest_unreachable_notices')
    op.drop_table('digest_unreachable_notices')
    op.drop_index(op.f('ix_digest_segment_snapshots_member_id'), table_name='digest_segment_snapshots')
    op.drop_index('ix_digest_segment_snapshots_community_taken', table_name='digest_segment_snapshots')
    op.drop_table('digest_segment_snapshots')
    op.drop_index(op.f('ix_digest_owners_member_id'), table_name='digest_owners')
    op.drop_table('digest_owners')
