"""conversation_notes: agents' internal notes on a conversation (issue 12)

Revision ID: 0005_issue12
Revises: 0003_issue11
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_issue12'
down_revision = '0003_issue11'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'conversation_notes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('agent_id', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conversation_notes_conversation_id', 'conversation_notes', ['conversation_id'])
    op.create_index('ix_conversation_notes_created_at', 'conversation_notes', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_conversation_notes_created_at', table_name='conversation_notes')
    op.drop_index('ix_conversation_notes_conversation_id', table_name='conversation_notes')
    op.drop_table('conversation_notes')
