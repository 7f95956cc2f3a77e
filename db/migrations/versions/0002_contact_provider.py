"""contacts.provider: which provider of a channel family last carried the customer's message

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('provider', sa.String(length=32), nullable=False, server_default='twilio'))


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('provider')
