"""The reports summary on a busy month: 100,000 conversations, 1,000,000 messages, 30,000 ratings.

    .venv/app/bin/python bench/reports.py [--scale 1.0] [--runs 5] [--sqlite-only]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]   # default: TEST_DATABASE_URL, else skipped

Writes the month into a migrated SQLite file and a fresh PostgreSQL database (created and dropped
here), then times `ReportQueries.summary` for the whole month (what `GET /api/reports/summary`
runs): the first call (cold) and the median of `--runs`. Target: under 1 s on each. Exits 1 when
a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url

from db.engine import create_engine, session_factory
from db.migrate import upgrade
from handoff.reports.summary import Period, ReportQueries

TARGET_SECONDS = 1.0
MONTH_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
MONTH_SECONDS = 31 * 24 * 3600
ZONE = ZoneInfo("Europe/Berlin")
CATEGORIES = ["damaged", "wrong_item", "missing", "late", "billing", "service"]
REASONS = ["customer_request", "complaint", "not_understood", "billing_complaint", "order_not_found"]
AGENTS = [f"agent{i:02d}" for i in range(12)]
UNKNOWN = [f"frage nummer {i} zu <order>" for i in range(400)]
TEXTS = ["Wo ist meine Bestellung AK-123456?", "Was kostet der Versand nach Österreich?", "Danke!",
         "Deine Bestellung ist unterwegs und kommt voraussichtlich morgen.", "Kann ich mit PayPal zahlen?"]


def rows(n_conversations: int, n_messages: int, n_ratings: int, seed: int = 7) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as tuples, in column order of `COLUMNS`."""
    rnd = random.Random(seed)
    at = lambda: MONTH_START + dt.timedelta(seconds=rnd.randrange(MONTH_SECONDS))  # noqa: E731
    ids = [f"{'wa' if i % 2 else 'web'}-{secrets.token_hex(12)}" for i in range(n_conversations)]
    starts, handoffs = [], []
    for cid in ids:
        started = at()
        handed = rnd.random() < 0.2
        starts.append((cid, "whatsapp" if cid.startswith("wa") else "webchat", started, handed))
        if handed:
            queued = started + dt.timedelta(seconds=rnd.randrange(30, 600))
            claimed = queued + dt.timedelta(seconds=rnd.randrange(5, 900)) if rnd.random() < 0.85 else None
            responded = claimed + dt.timedelta(seconds=rnd.randrange(3, 300)) if claimed else None
            abandoned = None if claimed else queued + dt.timedelta(seconds=rnd.randrange(30, 900))
            handoffs.append((cid, "webchat", rnd.choice(REASONS), 0, "", rnd.choice(AGENTS) if claimed else None,
                             queued, claimed, responded, abandoned))
    per = max(1, n_messages // n_conversations)
    messages = [(cid, "webchat", rnd.choice(("customer", "bot", "agent")), rnd.choice(TEXTS),
                 started + dt.timedelta(seconds=k * 20))
                for cid, _, started, _ in starts for k in range(per)]
    feedback, requests = [], []
    for i in range(n_ratings):
        cid, channel, started, handed = starts[rnd.randrange(n_conversations)]
        agent = rnd.choice(AGENTS) if handed else None
        when = started + dt.timedelta(minutes=5)
        requests.append((cid, channel, agent, when))
        feedback.append((cid, channel, rnd.choice((1, 2, 3, 4, 4, 5, 5, 5)) if i % 10 else None, None, agent, when))
    for _ in range(n_ratings // 3):  # asked, never answered
        cid, channel, started, _ = starts[rnd.randrange(n_conversations)]
        requests.append((cid, channel, None, started + dt.timedelta(minutes=5)))
    complaints = []
    for i in range(n_conversations // 20):
        cid = ids[rnd.randrange(n_conversations // 4)]  # a quarter of the customers file them: repeats happen
        complaints.append((f"RK-B-{i:07d}", cid, "webchat", rnd.choice(CATEGORIES), None, "kaputt", "de", False, "open",
                           at() - dt.timedelta(days=rnd.choice((0, 0, 0, 20)))))
    unknown = [(ids[rnd.randrange(n_conversations)], "de", rnd.choice(UNKNOWN), at())
               for _ in range(n_conversations // 5)]
    return {"conversation_starts": starts, "handoffs": handoffs, "messages": messages, "feedback": feedback,
            "rating_requests": requests, "complaints": complaints, "unknown_messages": unknown}


COLUMNS = {
    "conversation_starts": ("conversation_id", "channel", "started_at", "handed_off"),
    "handoffs": ("conversation_id", "channel", "reason", "priority", "summary", "agent_id", "queued_at", "claimed_at",
                 "first_response_at", "abandoned_at"),
    "messages": ("conversation_id", "channel", "sender", "text", "created_at"),
    "feedback": ("conversation_id", "channel", "rating", "comment", "agent_id", "created_at"),
    "rating_requests": ("conversation_id", "channel", "agent_id", "created_at"),
    "complaints": ("reference", "conversation_id", "channel", "category", "order_number", "description", "language",
                   "needs_human", "status", "created_at"),
    "unknown_messages": ("conversation_id", "language", "text", "created_at"),
}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # as SQLAlchemy's SQLite DateTime stores it
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: Path, data: dict[str, list[tuple[Any, ...]]]) -> None:
    with sqlite3.connect(path) as db:
        for table, columns in COLUMNS.items():
            marks = ", ".join("?" for _ in columns)
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                           ([_sqlite_value(v) for v in row] for row in data[table]))
        db.execute("ANALYZE")


async def fill_postgres(url: str, data: dict[str, list[tuple[Any, ...]]]) -> None:
    conn = await _connect(url)
    try:
        for table, columns in COLUMNS.items():
            await conn.copy_records_to_table(table, records=data[table], columns=list(columns))
        # What autovacuum does soon after a bulk load: statistics, and the visibility map that lets
        # the covering indexes answer without reading the table.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _connect(url: str, database: str | None = None) -> Any:
    import asyncpg

    parts = make_url(url)
    return await asyncpg.connect(host=parts.host or "127.0.0.1", port=parts.port or 5432, user=parts.username,
                                 password=parts.password, database=database or parts.database or "postgres")


async def time_summary(url: str, runs: int) -> tuple[float, float, dict[str, Any]]:
    engine = create_engine(url)
    queries = ReportQueries(session_factory(engine))
    period = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31), ZONE)
    timings = []
    summary: dict[str, Any] = {}
    try:
        for _ in range(runs + 1):
            started = time.perf_counter()
            summary = await queries.summary(period)
            timings.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return timings[0], statistics.median(timings[1:]), summary


def _chunks(data: dict[str, list[tuple[Any, ...]]]) -> Iterator[str]:
    for table, table_rows in data.items():
        yield f"{table} {len(table_rows):,}"


def report(name: str, fill_seconds: float, cold: float, median: float, summary: dict[str, Any]) -> bool:
    ok = cold < TARGET_SECONDS and median < TARGET_SECONDS
    print(f"{name:10} fill {fill_seconds:6.1f} s   summary cold {cold * 1000:7.1f} ms   "
          f"median {median * 1000:7.1f} ms   "
          f"{'ok' if ok else 'MISSED'} (target < {TARGET_SECONDS * 1000:.0f} ms)", flush=True)
    print(f"{'':10} conversations {summary['conversations']['total']:,}, ratings {summary['csat']['ratings']:,}, "
          f"handoffs {summary['queue']['handoffs']:,}, complaints {summary['complaints']['total']:,}", flush=True)
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 conversations")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    n = int(100_000 * args.scale)
    started = time.perf_counter()
    data = rows(n, n * 10, int(30_000 * args.scale))
    print(f"generated in {time.perf_counter() - started:.1f} s: {', '.join(_chunks(data))}", flush=True)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reports-bench.db"
        url = f"sqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        started = time.perf_counter()
        fill_sqlite(path, data)
        ok &= report("SQLite", time.perf_counter() - started, *await time_summary(url, args.runs))

    if args.postgres and not args.sqlite_only:
        name = f"shopdesk_bench_{secrets.token_hex(4)}"
        admin = await _connect(args.postgres)
        await admin.execute(f'CREATE DATABASE "{name}"')
        pg_url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            await asyncio.to_thread(upgrade, pg_url)
            started = time.perf_counter()
            await fill_postgres(pg_url, data)
            ok &= report("PostgreSQL", time.perf_counter() - started, *await time_summary(pg_url, args.runs))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    elif not args.sqlite_only:
        print("PostgreSQL skipped: pass --postgres postgresql://… or set TEST_DATABASE_URL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
