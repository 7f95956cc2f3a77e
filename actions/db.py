"""The action server's database engine: one per process (per DATABASE_URL), created on first use.

Lazily, because the action server imports every module at start and the URL is read from the
environment only when an action first needs the database; one engine, because each owns a pool.
"""

from __future__ import annotations

import os

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import DEFAULT_DATABASE_URL, create_engine, session_factory

_factories: dict[str, async_sessionmaker[AsyncSession]] = {}


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def sessions() -> async_sessionmaker[AsyncSession]:
    """The session factory on DATABASE_URL (default: the local SQLite file)."""
    url = database_url()
    factory = _factories.get(url)
    if factory is None:
        factory = _factories[url] = session_factory(create_engine(url))
    return factory
