"""DP-discovered schema drafts; first views of release cards per session; the identity-provider
sign-in a session was opened from; δ spent outside zCDP per ledger entry

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
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extra_delta', sa.Float(), server_default='0', nullable=False))
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
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode: batch mode rebuilds the
    # table on SQLite, and dropping a parent table with rows fails its foreign keys.
    op.drop_table('release_views')
    op.drop_column('ledger_entries', 'extra_delta')
    op.drop_column('sessions', 'oidc_authenticated_at')
    op.drop_column('datasets', 'schema_draft_json')
