"""Writes Rasa's endpoints.yml from the environment, so Rasa uses the same settings as the rest.

  ACTION_SERVER_URL      action endpoint (default http://127.0.0.1:5055/webhook)
  REDIS_URL              lock store, so several Rasa servers can share conversations
  RASA_TRACKER_DB_URL    SQL tracker store (default sqlite:///var/rasa_tracker.db)

Usage: python scripts/rasa_endpoints.py OUTFILE
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _tracker_store(url: str) -> dict:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        db = url.split("///", 1)[1]
        db_path = Path(db) if db.startswith("/") else ROOT / db
        db_path.parent.mkdir(parents=True, exist_ok=True)
        return {"type": "SQL", "dialect": "sqlite", "db": str(db_path)}
    if scheme in ("postgresql", "postgres"):
        return {
            "type": "SQL", "dialect": "postgresql", "url": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432, "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""), "db": parts.path.lstrip("/"),
        }
    raise SystemExit(f"RASA_TRACKER_DB_URL={url} is not supported: use sqlite:/// or postgresql://")


def _lock_store(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "type": "redis", "url": parts.hostname or "127.0.0.1", "port": parts.port or 6379,
        "password": unquote(parts.password) if parts.password else None,
        "db": int(parts.path.lstrip("/") or 0), "key_prefix": "shopdesk",
    }


def endpoints(env: dict[str, str]) -> dict:
    config = {
        "action_endpoint": {"url": env.get("ACTION_SERVER_URL") or "http://127.0.0.1:5055/webhook"},
        "tracker_store": _tracker_store(env.get("RASA_TRACKER_DB_URL") or "sqlite:///var/rasa_tracker.db"),
    }
    if env.get("REDIS_URL"):
        config["lock_store"] = _lock_store(env["REDIS_URL"])
    return config


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(yaml.safe_dump(endpoints(dict(os.environ)), sort_keys=False))
