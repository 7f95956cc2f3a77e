"""Privacy at scale: erase one customer among N conversations, and a retention pass over N old ones.

    .venv/app/bin/python bench/privacy.py                                  # SQLite, N = 100,000
    .venv/app/bin/python bench/privacy.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Seeds a fresh database (a new SQLite file, or a new PostgreSQL database next to the given one)
with N WhatsApp conversations of a realistic shape: 6 transcript lines and a contact each, a
rating with a comment for every 3rd, a handoff for every 5th, a complaint for every 10th; Rasa's
tracker store (SQLite, its `events` table) with 8 events each; an own Redis with the per-
conversation keys of 1 % of them. Then it times, with the real bot.privacy code:

- erase: `Privacy.erase` of one WhatsApp number (all stores, audit row), 5 times, median;
- retention: all N conversations backdated 200 days, one `Retention.run_once` (RETENTION_DAYS 180).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.channels.registry import customer_ids  # noqa: E402
from bot.channels.whatsapp.rules import conversation_id as whatsapp_id  # noqa: E402
from bot.privacy.retention import Retention  # noqa: E402
from bot.privacy.service import Privacy  # noqa: E402
from bot.privacy.stores import Families, Stores, Subject, tracker_engine  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Complaint, Contact, Feedback, Handoff, Message  # noqa: E402

CHUNK = 5000
SECRET = "bench-privacy-secret"  # SHOPDESK_SECRET of the benchmark's conversation ids
TRACKER_DDL = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,
type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""


def number(i: int) -> str:
    return f"whatsapp:+4915{i:09d}"


async def seed(database_url: str, tracker_url: str, redis: Redis, n: int, age_days: float) -> None:
    engine = create_engine(database_url)
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)
    try:
        for start in range(0, n, CHUNK):
            ids = [(i, whatsapp_id(number(i), SECRET)) for i in range(start, min(n, start + CHUNK))]
            async with session_factory(engine)() as session, session.begin():
                await session.execute(insert(Message), [
                    {"conversation_id": cid, "channel": "whatsapp", "sender": sender, "text": f"line {k} of {i}",
                     "created_at": at}
                    for i, cid in ids for k, sender in enumerate(("customer", "bot") * 3)])
                await session.execute(insert(Contact), [
                    {"conversation_id": cid, "channel": "whatsapp", "address": number(i), "opted_out": False,
                     "last_inbound_at": at, "created_at": at} for i, cid in ids])
                await session.execute(insert(Feedback), [
                    {"conversation_id": cid, "channel": "whatsapp", "rating": 1 + i % 5, "comment": f"comment {i}",
                     "agent_id": "anna", "created_at": at} for i, cid in ids if i % 3 == 0])
                await session.execute(insert(Handoff), [
                    {"conversation_id": cid, "channel": "whatsapp", "reason": "complaint", "priority": 1,
                     "summary": f"summary {i}", "agent_id": "anna", "resolution_note": "note", "queued_at": at,
                     "claimed_at": at, "closed_at": at, "outcome": "closed"} for i, cid in ids if i % 5 == 0])
                await session.execute(insert(Complaint), [
                    {"reference": f"R-{i:08d}", "conversation_id": cid, "channel": "whatsapp", "category": "damaged",
                     "order_number": "AK-100001", "description": f"description {i}", "language": "de",
                     "needs_human": False, "status": "open", "created_at": at} for i, cid in ids if i % 10 == 0])
            async with redis.pipeline(transaction=False) as pipe:
                for i, cid in ids:
                    if i % 100 == 0:
                        pipe.set(f"shopdesk:desk:inbound:{cid}", "1", ex=90000)
                        pipe.set(f"shopdesk:gw:buttons:{cid}", "[]", ex=90000)
                await pipe.execute()
    finally:
        await engine.dispose()
    tracker = tracker_engine(tracker_url)
    try:
        async with tracker.begin() as conn:
            await conn.execute(text(TRACKER_DDL))
            await conn.execute(text("CREATE INDEX ix_events_sender_id ON events (sender_id)"))
            ts = at.timestamp()
            for start in range(0, n, CHUNK):
                await conn.execute(text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, :t, :ts, :d)"), [
                    {"s": whatsapp_id(number(i), SECRET), "t": "user", "ts": ts, "d": '{"text": "hi"}'}
                    for i in range(start, min(n, start + CHUNK)) for _ in range(8)])
    finally:
        await tracker.dispose()


async def measure(database_url: str, n: int, label: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="shopdesk-bench-privacy-"))
    tracker_url = f"sqlite:///{work / 'tracker.db'}"
    redis_service = stack.start_redis(stack.free_port(), None, work)
    redis = Redis.from_url(redis_service.url, decode_responses=True)
    try:
        started = time.perf_counter()
        await seed(database_url, tracker_url, redis, n, age_days=200)
        print(f"{label}: seeded {n:,} conversations in {time.perf_counter() - started:.1f} s", flush=True)
        engine = create_engine(database_url)
        stores = Stores(session_factory(engine), tracker_engine(tracker_url), redis, secret=SECRET,
                        families=Families(customer_ids()))
        privacy = Privacy(stores)
        times = []
        for k in range(5):
            subject = Subject("whatsapp", number(1000 + k * 10).removeprefix("whatsapp:"))
            started = time.perf_counter()
            _, counts = await privacy.erase(subject, "bench")
            times.append(time.perf_counter() - started)
            assert counts["sql.messages"] == 6, counts
        print(f"{label}: erase of one customer among {n:,}: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})", flush=True)
        started = time.perf_counter()
        counts = await Retention(privacy, 180, 730, 3600).run_once()
        took = time.perf_counter() - started
        print(f"{label}: retention pass over {n - 5:,} old conversations: {took:.1f} s "
              f"({counts['sql.messages']:,} lines deleted, {counts['sql.feedback']:,} ratings and "
              f"{counts['sql.handoffs']:,} handoffs anonymised, {counts['tracker.events']:,} tracker events deleted)",
              flush=True)
        await engine.dispose()
        if stores.tracker is not None:
            await stores.tracker.dispose()
    finally:
        await redis.aclose()
        redis_service.stop()


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    parts = make_url(url)
    conn = await asyncpg.connect(host=parts.host or "127.0.0.1", port=parts.port or 5432, user=parts.username,
                                 password=parts.password, database=parts.database or "postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a scratch database on (default: SQLite)")
    args = parser.parse_args()
    if args.database_url:
        name = f"shopdesk_bench_{secrets.token_hex(4)}"
        asyncio.run(_admin(args.database_url, f'CREATE DATABASE "{name}"'))
        url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            asyncio.run(measure(url, args.conversations, "postgresql"))
        finally:
            asyncio.run(_admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = Path(tempfile.mkdtemp(prefix="shopdesk-bench-db-")) / "shopdesk.db"
        upgrade(f"sqlite:///{path}")
        asyncio.run(measure(f"sqlite:///{path}", args.conversations, "sqlite"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
