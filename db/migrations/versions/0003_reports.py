"""reports: conversation starts, rating requests, not-understood messages, handoff timings, indexes

Revision ID: 0002_issue10
Revises: 0002
Create Date: 2026-11-25 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_issue10'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'conversation_starts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handed_off', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conversation_starts_conversation_id', 'conversation_starts', ['conversation_id'])
    op.create_index('ix_conversation_starts_period', 'conversation_starts', ['started_at', 'channel', 'handed_off'])

    op.create_table(
        'rating_requests',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('agent_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rating_requests_conversation_id', 'rating_requests', ['conversation_id'])
    op.create_index('ix_rating_requests_created_at', 'rating_requests', ['created_at'])

    op.create_table(
        'unknown_messages',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_unknown_messages_conversation_id', 'unknown_messages', ['conversation_id'])
    op.create_index('ix_unknown_messages_created_at', 'unknown_messages', ['created_at'])

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_handoffs_period', ['queued_at', 'reason', 'claimed_at', 'first_response_at', 'abandoned_at'])

    # Covering indexes for the period queries of the summary.
    op.create_index('ix_feedback_period', 'feedback', ['created_at', 'rating', 'agent_id'])
    op.create_index('ix_complaints_period', 'complaints', ['created_at', 'category', 'conversation_id'])


def downgrade() -> None:
    op.drop_index('ix_complaints_period', table_name='complaints')
    op.drop_index('ix_feedback_period', table_name='feedback')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_period')
        batch_op.drop_column('abandoned_at')
        batch_op.drop_column('first_response_at')
    op.drop_table('unknown_messages')
    op.drop_table('rating_requests')
    op.drop_table('conversation_starts')
