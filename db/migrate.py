"""Bring a database to the newest schema: `python -m db.migrate` (uses DATABASE_URL)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from db.engine import DEFAULT_DATABASE_URL

_ROOT = Path(__file__).resolve().parent.parent


def upgrade(database_url: str | None = None) -> None:
    config = Config(str(_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(_ROOT / "db" / "migrations"))
    config.attributes["database_url"] = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


if __name__ == "__main__":
    upgrade()
