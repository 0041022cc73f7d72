"""moderation: warnings, restrictions (mutes and bans Cohort applied), filters

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.base  # noqa: F401

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mod_warnings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', engine.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['members.id'], name=op.f('fk_mod_warnings_actor_id_members'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                            name=op.f('fk_mod_warnings_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_mod_warnings_member_id_members'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revoked_by'], ['members.id'], name=op.f('fk_mod_warnings_revoked_by_members'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mod_warnings'))
    )
    op.create_index('ix_mod_warnings_community_member', 'mod_warnings', ['community_id', 'member_id'])
    op.create_table('mod_restrictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('until', engine.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cohort_lifts', sa.Boolean(), nullable=False),
    sa.Column('lifted_at', engine.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                            name=op.f('fk_mod_restrictions_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_mod_restrictions_member_id_members'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mod_restrictions'))
    )
    op.create_index('ix_mod_restrictions_due', 'mod_restrictions', ['lifted_at', 'until'])
    op.create_index(op.f('ix_mod_restrictions_member_id'), 'mod_restrictions', ['member_id'])
    op.create_table('mod_filters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pattern', sa.String(length=256), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', engine.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                            name=op.f('fk_mod_filters_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['members.id'], name=op.f('fk_mod_filters_created_by_members'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mod_filters')),
    sa.UniqueConstraint('community_id', 'kind', 'pattern', name=op.f('uq_mod_filters_community_id_kind_pattern'))
    )


def downgrade() -> None:
    op.drop_table('mod_filters')
    op.drop_index(op.f('ix_mod_restrictions_member_id'), table_name='mod_restrictions')
    op.drop_index('ix_mod_restrictions_due', table_name='mod_restrictions')
    op.drop_table('mod_restrictions')
    op.drop_index('ix_mod_warnings_community_member', table_name='mod_warnings')
    op.drop_table('mod_warnings')
