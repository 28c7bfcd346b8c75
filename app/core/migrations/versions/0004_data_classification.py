"""Data classification: a label on every dataset, a second approver and a publication window
on releases

Existing datasets get the most sensitive label (``restricted``, see
``app.core.classification.LEGACY_DEFAULT``): nothing becomes easier to release by upgrading.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: batch mode would rebuild these tables on SQLite, and
    # dropping a parent table with rows fails its foreign keys.
    op.add_column('datasets', sa.Column('classification', sa.String(length=16), server_default='restricted',
                                        nullable=False))
    if op.get_bind().dialect.name == 'sqlite':  # SQLite adds a column's REFERENCES natively, alembic only in batch
        op.execute('ALTER TABLE releases ADD COLUMN second_approver_id INTEGER REFERENCES users (id)')
    else:
        op.add_column('releases', sa.Column('second_approver_id', sa.Integer(), sa.ForeignKey('users.id'),
                                            nullable=True))
    op.add_column('releases', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('releases', 'expires_at')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('releases_second_approver_id_fkey', 'releases', type_='foreignkey')
    op.drop_column('releases', 'second_approver_id')
    op.drop_column('datasets', 'classification')
