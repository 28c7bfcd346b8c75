"""Sign-in throttle counters in the database, shared by every process (API, dashboard, workers)

Before, each process counted failed sign-ins in its own memory, so alternating between the API
and the dashboard (or between the workers of a deployment) doubled the guessing rate. The tables
start empty: at most an hour of counted failures is forgotten by the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column('key', sa.String(length=200), nullable=False),
                    sa.Column('at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_login_failures_key_at', 'login_failures', ['key', 'at'])
    op.create_index('ix_login_failures_at', 'login_failures', ['at'])
    op.create_table('login_trusted',
                    sa.Column('account', sa.String(length=64), nullable=False),
                    sa.Column('source', sa.String(length=128), nullable=False),
                    sa.PrimaryKeyConstraint('account', 'source'))


def downgrade() -> None:
    op.drop_table('login_trusted')
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    op.drop_index('ix_login_failures_key_at', table_name='login_failures')
    op.drop_table('login_failures')
