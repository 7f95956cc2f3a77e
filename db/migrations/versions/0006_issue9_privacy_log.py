"""privacy_log: one row per export, erase and retention run (issue 9)

Revision ID: 0006_issue9
Revises: 0005_issue12
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_issue9'
down_revision = '0005_issue12'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'privacy_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('subject_kind', sa.String(length=16), nullable=True),
        sa.Column('conversations', sa.Integer(), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_privacy_log_created_at', 'privacy_log', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_privacy_log_created_at', table_name='privacy_log')
    op.drop_table('privacy_log')
