"""Real services for the tests, started once per session, and the fixtures more than one test module uses.

redis_url       an own redis-server on a free port (nothing shared with the machine's Redis)
own_redis       a redis-server of one test's own (for counts no other test may add to)
database_url    a migrated database: a SQLite file, and a fresh PostgreSQL database too when
                TEST_DATABASE_URL is set (tests that use it run once per database)
own_database    a migrated SQLite database of one test's own (URL, file), to break on purpose
sessions        a session factory on database_url, the one the actions use (DATABASE_URL set to it)
action_server   the rasa-sdk action server on that database
rasa_server     Rasa 3.6 on the model trained from the current data, calling that action server
chat            a customer's conversation with that Rasa over the REST channel: chat("en", "whatsapp")
twilio_standin / cloud_standin   the Twilio and Graph API stand-ins, each its own process
gateway         the gateway in this process on all of the above; privacy_gateway: with a supervisor
browser         Debian's Chromium through Playwright (CHROMIUM_PATH), never a downloaded browser
page            a page of that browser made with `context_options` (a module overrides that fixture);
                a script error or a browser dialog (kept in `dialogs`) fails the test
make_run_env    the environment of a `make run` on a fresh var/ (what a test starting it builds on)

Every test is marked by the fixtures it uses (directly or through others): `rasa` (the Rasa server or
the trained model), `browser` (Chromium), `stack` (starts `make run` / scripts/run.py); `make test-fast`
runs the rest.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402  (scripts/ is not a package)
import stack  # noqa: E402

from actions import db as actions_db  # noqa: E402
from actions.demo_orders import seed  # noqa: E402
from bot.channels.folder import StandIn  # noqa: E402
from bot.channels.whatsapp import standins  # noqa: E402
from bot.settings import Settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from tests.assistant_support import Chat  # noqa: E402
from tests.browser_support import watched_page  # noqa: E402
from tests.gateway_helpers import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    CLOUD_PHONE_NUMBER_ID,
    CLOUD_TOKEN,
    TEST_SECRET,
    Gateway,
    gateway_env,
    running_gateway,
)
from tests.privacy_support import privacy_env  # noqa: E402
from tests.process_helpers import run_env  # noqa: E402

# A test that uses one of these fixtures, directly or through another, gets the marker.
MARKED_BY = {
    "rasa": {"rasa_server", "trained_model"},
    "browser": {"browser"},
    "stack": {"make_run_env"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKED_BY.items():
            if used & fixtures:
                item.add_marker(marker)


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


@pytest.fixture
def own_redis(service_logs: Path) -> Iterator[str]:
    """A Redis of this test's own. The session's is counted by every test of the run (limits per
    client address, client counts) and worked by the session gateway's sweepers, which would take up
    a test's leftover inboxes and unfinished closes through their own Rasa."""
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


@pytest.fixture
def own_database(tmp_path: Path) -> tuple[str, Path]:
    """A migrated SQLite database (URL, file) for one gateway, so breaking it harms no other test."""
    path = tmp_path / "gateway.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url, path


@pytest.fixture
def sessions(database_url: str, monkeypatch: pytest.MonkeyPatch) -> async_sessionmaker[AsyncSession]:
    """The actions' own session factory, with DATABASE_URL on the test database as the action server has it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return actions_db.sessions()


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


@pytest.fixture
def chat(rasa_server: str) -> Callable[..., Chat]:
    """A new customer's conversation with the test Rasa server: `chat("en", "whatsapp")`."""
    def start(language: str | None = "de", channel: str = "webchat") -> Chat:
        return Chat(rasa_server, language, channel)

    return start


def _standin(standin: StandIn, logs: Path, **env: str) -> Iterator[str]:
    """A provider's stand-in as its own process, started the way `make run` starts it."""
    service = stack.start_standin(standin.name, standin.module, stack.free_port(),
                                  stack.app_env(SHOPDESK_SECRET=TEST_SECRET, **env), logs)
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def twilio_standin(service_logs: Path) -> Iterator[str]:
    yield from _standin(standins.TWILIO, service_logs, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN)


@pytest.fixture(scope="session")
def cloud_standin(service_logs: Path) -> Iterator[str]:
    yield from _standin(standins.CLOUD, service_logs,
                        WHATSAPP_CLOUD_TOKEN=CLOUD_TOKEN, WHATSAPP_CLOUD_PHONE_NUMBER_ID=CLOUD_PHONE_NUMBER_ID)


@pytest.fixture(scope="session")
async def gateway(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, cloud_standin: str,
) -> AsyncIterator[Gateway]:
    settings = Settings.from_env(gateway_env(redis_url, database_url, rasa_server, twilio_standin, cloud_standin))
    async with running_gateway(settings) as running:
        yield running


@pytest.fixture(scope="session")
async def privacy_gateway(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, rasa_tracker_db: Path,
) -> AsyncIterator[Gateway]:
    """A gateway with a supervisor (the privacy tools) on the test tracker store."""
    settings = Settings.from_env(privacy_env(redis_url, database_url, rasa_server, twilio_standin, rasa_tracker_db))
    async with running_gateway(settings) as running:
        yield running


@pytest.fixture(scope="session")
def make_run_env() -> Callable[..., tuple[dict[str, str], dict[str, int]]]:
    """`make_run_env(var, **settings)`: the environment and free ports of a `make run` on `var`.
    Every test that starts `make run` or scripts/run.py builds on it, which marks it `stack`."""
    return run_env


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


@pytest.fixture
def context_options() -> dict[str, Any]:
    """How `page`'s browser context is made; a module overrides this fixture for its language or screen."""
    return {"locale": "de-DE"}


@pytest.fixture
def dialogs() -> list[str]:
    """Every alert/confirm/prompt `page` opened (none may open)."""
    return []


@pytest.fixture
async def page(browser: Browser, context_options: dict[str, Any], dialogs: list[str]) -> AsyncIterator[Page]:
    async with watched_page(browser, dialogs, **context_options) as opened:
        yield opened
