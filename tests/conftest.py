"""Real services for the tests, started once per session.

redis_url      an own redis-server on a free port (nothing shared with the machine's Redis)
database_url   a migrated database: a SQLite file, and a fresh PostgreSQL database too when
               TEST_DATABASE_URL is set (tests that use it run once per database)
action_server  the rasa-sdk action server on that database
rasa_server    Rasa 3.6 on the model trained from the current data, calling that action server
browser        Debian's Chromium through Playwright (CHROMIUM_PATH), never a downloaded browser
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402  (scripts/ is not a package)
import stack  # noqa: E402

from actions.demo_orders import seed  # noqa: E402
from db.migrate import upgrade  # noqa: E402


def _database_params() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def redis_url(service_logs: Path) -> Iterator[str]:
    service = stack.start_redis(stack.free_port(), None, service_logs)
    yield service.url
    service.stop()


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    parts = make_url(url)
    conn = await asyncpg.connect(
        host=parts.host or "127.0.0.1", port=parts.port or 5432, user=parts.username,
        password=parts.password, database=parts.database or "postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=_database_params())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shopdesk.db'}"
        dropper = None
    else:
        base = os.environ["TEST_DATABASE_URL"]
        name = f"shopdesk_test_{secrets.token_hex(4)}"
        asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)

        def dropper() -> None:
            asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    upgrade(url)
    seed(url)
    yield url
    if dropper is not None:
        dropper()


@pytest.fixture(scope="session")
def action_server(database_url: str, service_logs: Path) -> Iterator[str]:
    env = stack.app_env(DATABASE_URL=database_url)
    service = stack.start_action_server(stack.free_port(), env, service_logs)
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    return rasa_model.train()


@pytest.fixture(scope="session")
def rasa_tracker_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite file of the test Rasa server's tracker store (tests that move time read it)."""
    return tmp_path_factory.mktemp("rasa") / "tracker.db"


@pytest.fixture(scope="session")
def rasa_server(
    action_server: str, redis_url: str, trained_model: Path, service_logs: Path, rasa_tracker_db: Path,
) -> Iterator[str]:
    work = rasa_tracker_db.parent
    env = stack.app_env(
        ACTION_SERVER_URL=action_server,
        REDIS_URL=redis_url,
        RASA_TRACKER_DB_URL=f"sqlite:///{rasa_tracker_db}",
    )
    endpoints = stack.write_endpoints(work / "endpoints.yml", env)
    service = stack.start_rasa(stack.free_port(), trained_model, endpoints, env, service_logs)
    yield service.url
    service.stop()


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()
