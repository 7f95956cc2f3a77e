"""Async engine and session factory from a DATABASE_URL, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DEFAULT_DATABASE_URL = "sqlite:///var/shopdesk.db"

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(raw: str) -> str:
    """The async-driver form of a database URL (users write plain `postgresql://…` or `sqlite:///…`)."""
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"DATABASE_URL={url.render_as_string(hide_password=True)} is not supported: use sqlite:/// or postgresql://")
    url = url.set(drivername=_ASYNC_DRIVERS[backend])
    if backend == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return url.render_as_string(hide_password=False)


def create_engine(raw_url: str) -> AsyncEngine:
    url = async_url(raw_url)
    if url.startswith("sqlite"):
        # Gateway and action server write the same file: WAL plus a busy timeout
        # turns lock contention into a short wait instead of "database is locked".
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # In WAL mode NORMAL still survives a crash of the process (only a power loss can
            # drop the last commits), and it saves an fsync per transcript line.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
