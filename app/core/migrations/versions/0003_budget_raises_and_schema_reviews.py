"""Budget raises approved by a privacy officer; schema reviews recorded as acts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('budget_raises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('old_rho', sa.Float(), nullable=False),
    sa.Column('new_rho', sa.Float(), nullable=False),
    sa.Column('new_epsilon', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_budget_raises_dataset_id'), 'budget_raises', ['dataset_id'], unique=False)
    op.create_table('schema_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('changes_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_schema_reviews_dataset_id'), 'schema_reviews', ['dataset_id'], unique=False)
    op.create_index(op.f('ix_schema_reviews_fingerprint'), 'schema_reviews', ['fingerprint'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_schema_reviews_fingerprint'), table_name='schema_reviews')
    op.drop_index(op.f('ix_schema_reviews_dataset_id'), table_name='schema_reviews')
    op.drop_table('schema_reviews')
    op.drop_index(op.f('ix_budget_raises_dataset_id'), table_name='budget_raises')
    op.drop_table('budget_raises')
