"""messages.sender may be 'system': the gateway's own marks for the agent, e.g. a message the
channel could not deliver; messages.message_id: a customer line's identity (issue 8)

Revision ID: 0007_issue8
Revises: 0006_issue9
"""
import sqlalchemy as sa
from alembic import op


revision = '0007_issue8'
down_revision = '0006_issue9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_constraint('ck_messages_sender', type_='check')
        batch.create_check_constraint('ck_messages_sender', "sender IN ('customer', 'bot', 'agent', 'system')")
        batch.add_column(sa.Column('message_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE sender = 'system'")
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('message_id')
        batch.drop_constraint('ck_messages_sender', type_='check')
        batch.create_check_constraint('ck_messages_sender', "sender IN ('customer', 'bot', 'agent')")
