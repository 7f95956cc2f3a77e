"""Shared pieces of the privacy tests: the settings of a gateway with a supervisor and the test tracker store,
the `make export` / `make erase` script, and scans of every store for a trace of a customer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import column, inspect, select, table, text

from bot.privacy.stores import tracker_engine
from db.engine import create_engine
from tests.gateway_helpers import AGENT_TOKEN, TEST_SECRET, gateway_env

ROOT = Path(__file__).resolve().parent.parent
SUPERVISOR_TOKEN = "sue-supervisor-token-0123456789"
PRIVACY_URL = "https://shop.example/datenschutz"
SUPERVISOR = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}


def privacy_env(redis_url: str, database_url: str, rasa_url: str, twilio_url: str, tracker: Path, **extra: str) -> dict[str, str]:
    return gateway_env(
        redis_url, database_url, rasa_url, twilio_url,
        AGENT_TOKENS=f"anna:{AGENT_TOKEN},sue:{SUPERVISOR_TOKEN}:supervisor",
        RASA_TRACKER_DB_URL=f"sqlite:///{tracker}", PRIVACY_URL=PRIVACY_URL, **extra,
    )


def privacy_cli(action: str, who: str, value: str, redis_url: str, database_url: str, tracker: Path,
                var: Path) -> subprocess.CompletedProcess[str]:
    """`make export|erase WHO=value` as the Makefile runs it, in the environment `make run` has."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
           "RASA_TRACKER_DB_URL": f"sqlite:///{tracker}", "SHOPDESK_VAR": str(var), "SHOPDESK_SECRET": TEST_SECRET}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "privacy.py"), action, f"--{who}", value],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )


async def sql_traces(url: str, needles: list[str], tracker: bool = False) -> list[str]:
    """Every table and column of a database whose value contains one of `needles`."""
    engine = tracker_engine(url) if tracker else create_engine(url)
    found: list[str] = []
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(
                lambda c: {t: [col["name"] for col in inspect(c).get_columns(t)] for t in inspect(c).get_table_names()}
            )
            for name, columns in tables.items():
                rows = (await conn.execute(select(*(column(c) for c in columns)).select_from(table(name)))).all()
                for row in rows:
                    for col, value in zip(columns, row, strict=True):
                        if value is not None and any(n in str(value) for n in needles):
                            found.append(f"{name}.{col}: {str(value)[:80]}")
    finally:
        await engine.dispose()
    return found


async def redis_traces(url: str, needles: list[str]) -> list[str]:
    """Every Redis key whose name or value contains one of `needles`."""
    redis = Redis.from_url(url, decode_responses=True)
    found: list[str] = []
    try:
        async for key in redis.scan_iter(count=1000):
            kind = await redis.type(key)
            value: Any
            if kind == "string":
                value = await redis.get(key)
            elif kind == "hash":
                value = await redis.hgetall(key)
            elif kind == "list":
                value = await redis.lrange(key, 0, -1)
            elif kind == "set":
                value = sorted(await redis.smembers(key))
            elif kind == "zset":
                value = await redis.zrange(key, 0, -1)
            elif kind == "stream":
                value = await redis.xrange(key)
            else:
                value = None
            blob = key + " " + json.dumps(value, ensure_ascii=False, default=str)
            if any(n in blob or json.dumps(n)[1:-1] in blob for n in needles):
                found.append(f"{key} ({kind})")
    finally:
        await redis.aclose()
    return found


async def tracker_rows(path: Path, sender: str) -> int:
    engine = tracker_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT COUNT(*) FROM events WHERE sender_id = :s"), {"s": sender})).scalar_one())
    finally:
        await engine.dispose()
