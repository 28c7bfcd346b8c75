"""DP-discovered schema drafts; first views of release cards per session; the identity-provider
sign-in a session was opened from

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schema_draft_json', sa.Text(), nullable=True))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_authenticated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('release_views',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('release_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=32), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'release_id', 'what')
    )


def downgrade() -> None:
    op.drop_table('release_views')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('oidc_authenticated_at')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('schema_draft_json')
