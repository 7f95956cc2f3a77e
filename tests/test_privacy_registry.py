"""The privacy registry knows every place customer data lives: a table or a Redis key family that
is neither registered as customer data nor declared free of it fails here."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from pathlib import Path

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import inspect

from bot.privacy import registry
from bot.privacy.stores import tracker_engine
from db.engine import create_engine
from db.models import Base
from tests.gateway_helpers import (
    Gateway,
    WebchatClient,
    eventually,
    new_number,
    new_session_id,
    whatsapp_form,
    whatsapp_id,
)
from tests.privacy_support import AGENT

REGISTERED_SQL = {t.name for t in registry.SQL_TABLES} | set(registry.NOT_CUSTOMER_SQL)


def test_every_table_of_the_models_is_registered() -> None:
    unknown = set(Base.metadata.tables) - REGISTERED_SQL
    assert not unknown, f"add {sorted(unknown)} to bot/privacy/registry.py (SQL_TABLES or NOT_CUSTOMER_SQL)"


def test_registered_columns_exist() -> None:
    for spec in registry.SQL_TABLES:
        columns = Base.metadata.tables[spec.name].columns
        own = [spec.parent[0]] if spec.parent else [spec.conversation_column]
        for name in (*own, *spec.cleared, *spec.activity_columns):
            assert name in columns, f"{spec.name}.{name}"


async def test_every_table_of_both_migrated_databases_is_registered(database_url: str, rasa_server: str,
                                                                     rasa_tracker_db: Path) -> None:
    engine = create_engine(database_url)
    tracker = tracker_engine(f"sqlite:///{rasa_tracker_db}")
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        async with tracker.connect() as conn:
            tracker_tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()
        await tracker.dispose()
    assert tables - REGISTERED_SQL == set()
    assert "events" in tracker_tables
    assert tracker_tables - set(registry.TRACKER_TABLES) - set(registry.NOT_CUSTOMER_TRACKER) == set()


def _registered(key: str) -> bool:
    globs = [f.glob() for f in registry.KEY_FAMILIES] + list(registry.NOT_CUSTOMER_KEYS)
    return any(fnmatch.fnmatchcase(key, g) for g in globs)


async def test_every_redis_key_a_real_conversation_leaves_behind_is_registered(
    privacy_gateway: Gateway, twilio_standin: str, redis_url: str,
) -> None:
    """Keys are sampled while a WhatsApp and a web chat conversation run through the gateway,
    Rasa and the desk (short-lived ones like worker locks included), and after."""
    seen: set[str] = set()
    scans = [0]  # full scans done
    redis = Redis.from_url(redis_url, decode_responses=True)

    async def sample() -> None:
        while True:
            seen.update([k async for k in redis.scan_iter(match="shopdesk:*", count=1000)])
            scans[0] += 1
            await asyncio.sleep(0.02)

    async def scanned() -> int:
        return scans[0]

    sampler = asyncio.create_task(sample())
    try:
        number = new_number()
        status, _ = await privacy_gateway.webhook(whatsapp_form(number, "Ich möchte mit einem Menschen sprechen"))
        assert status == 200
        conversation = whatsapp_id(number)
        async with aiohttp.ClientSession(headers=AGENT) as agent:
            async def queued() -> bool:
                async with agent.get(f"{privacy_gateway.url}/api/handoff/queue") as response:
                    return conversation in [e["conversation_id"] for e in (await response.json())["queue"]]
            await eventually(queued, bool)
            async with agent.ws_connect(privacy_gateway.url.replace("http", "ws") + "/agent/ws") as ws:
                await ws.receive_json(timeout=10)
                async with agent.post(f"{privacy_gateway.url}/api/handoff/{conversation}/claim") as response:
                    assert response.status == 200
                status, _ = await privacy_gateway.webhook(whatsapp_form(number, "Hallo?"))
                async with agent.post(f"{privacy_gateway.url}/api/handoff/{conversation}/close", json={"note": "ok"}) as response:
                    assert response.status == 200
        async with WebchatClient.connect(privacy_gateway.ws_url, new_session_id()) as customer:
            await customer.next("history")
            await customer.say("Welche Zahlungsarten gibt es?")
            await customer.messages_until_quiet()
        done = scans[0]
        await eventually(scanned, lambda n: n >= done + 2)  # a whole scan begun after the conversations
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await redis.aclose()
    assert any(k.startswith("shopdesk:lock:") for k in seen) or any("inbox" in k for k in seen)
    unknown = sorted(k for k in seen if not _registered(k))
    assert not unknown, f"add these key families to bot/privacy/registry.py: {unknown}"
