"""The application database: ORM models, engine factory and Alembic migrations.

Shared by the gateway (transcript), the action server (complaints, feedback,
demo orders) and the handoff queue (agent accounts, handoff records).
"""
