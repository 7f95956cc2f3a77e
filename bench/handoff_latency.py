"""Live-agent desk latency: handoff request → queue entry on an agent's websocket, and agent
message → customer's web chat websocket; p50/p95 with many conversations at once.

    .venv/app/bin/python bench/handoff_latency.py [--conversations 100] [--rounds 3] [--database-url postgresql://…]

Starts on loopback: a Redis, a SQLite database, one gateway process (`python -m bot`, "A") and
a second gateway application inside this process ("B", the real `bot.app.create_app`). Every
path crosses processes, the way it does behind a load balancer:

- handoff: B's desk gets the handoff request (what the router does with Rasa's `handoff`
  payload) for all conversations at once; timed until each `added` event arrives on an agent
  websocket connected to A (Redis Lua enqueue, pub/sub fan-out, A's socket);
- agent message: the agent POSTs `/api/handoff/{id}/messages` to A for all conversations at
  once; timed until the text arrives on the customer's web chat websocket connected to B
  (auth, owner check, transcript row in SQL, pub/sub, B's socket).

Rasa is not needed (no message goes to the bot). Target: p95 < 50 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import stack  # noqa: E402

from bot import appkeys  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.outbound import Channel, HandoffRequest  # noqa: E402
from bot.settings import Settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402

AGENT, TOKEN = "bench-agent", "bench-" + secrets.token_hex(16)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(name: str, samples: list[float]) -> tuple[float, float]:
    ms = [s * 1000 for s in samples]
    p50, p95 = percentile(ms, 50), percentile(ms, 95)
    print(f"{name:<34} n={len(ms):4d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(ms):7.1f} ms  mean {statistics.mean(ms):7.1f} ms")
    return p50, p95


async def one_round(session: aiohttp.ClientSession, a_url: str, b_url: str, desk, n: int) -> tuple[list[float], list[float]]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    sessions = [secrets.token_urlsafe(18) for _ in range(n)]
    ids = [f"web-{s}" for s in sessions]
    customers = {}
    for sid, cid in zip(sessions, ids):
        ws = await session.ws_connect(b_url.replace("http", "ws") + "/webchat/ws")
        await ws.send_json({"type": "hello", "session_id": sid, "language": "de"})
        customers[cid] = ws
    for ws in customers.values():  # the history frame: the socket is attached
        while (await ws.receive_json(timeout=10)).get("type") != "history":
            pass

    print(f"  {n} customers connected", file=sys.stderr, flush=True)
    agent_ws = await session.ws_connect(a_url.replace("http", "ws") + "/agent/ws", headers=auth)
    assert (await agent_ws.receive_json(timeout=10))["type"] == "hello"

    added: dict[str, float] = {}
    all_added = asyncio.Event()

    async def agent_reader() -> None:
        async for message in agent_ws:
            event = json.loads(message.data)
            if event.get("type") == "added" and event["entry"]["conversation_id"] in customers:
                added[event["entry"]["conversation_id"]] = time.perf_counter()
                if len(added) == n:
                    all_added.set()

    reader = asyncio.create_task(agent_reader())
    started: dict[str, float] = {}

    async def request(cid: str) -> None:
        started[cid] = time.perf_counter()
        await desk.request_handoff(cid, Channel.webchat, HandoffRequest(
            reason="complaint", priority=1, language="de", summary="Paket beschädigt (benchmark)",
        ))

    await asyncio.gather(*(request(cid) for cid in ids))
    await asyncio.wait_for(all_added.wait(), 30)
    print("  handoffs queued", file=sys.stderr, flush=True)
    handoff = [added[cid] - started[cid] for cid in ids]

    for cid in ids:
        async with session.post(f"{a_url}/api/handoff/{cid}/claim", headers=auth) as response:
            assert response.status == 200, await response.text()

    text = {cid: f"Hallo, hier ist das Team ({cid[-6:]})" for cid in ids}
    arrived: dict[str, float] = {}

    async def customer_reader(cid: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            frame = json.loads(message.data)
            if frame.get("type") == "message" and frame.get("sender") == "agent" and frame.get("text") == text[cid]:
                arrived[cid] = time.perf_counter()
                return

    readers = [asyncio.create_task(customer_reader(cid, ws)) for cid, ws in customers.items()]
    sent_at: dict[str, float] = {}

    async def say(cid: str) -> None:
        sent_at[cid] = time.perf_counter()
        async with session.post(f"{a_url}/api/handoff/{cid}/messages", headers=auth, json={"text": text[cid]}) as response:
            assert response.status == 200, await response.text()

    await asyncio.gather(*(say(cid) for cid in ids))
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    messages = [arrived[cid] - sent_at[cid] for cid in ids]

    for cid in ids:  # leave the desk empty for the next round
        async with session.post(f"{a_url}/api/handoff/{cid}/release", headers=auth) as response:
            assert response.status == 200
    reader.cancel()
    await agent_ws.close()
    for ws in customers.values():
        await ws.close()
    return handoff, messages


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead of a new SQLite file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shopdesk-bench-handoff-"))
    logs = work / "logs"
    redis = stack.start_redis(stack.free_port(), None, logs)
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    await asyncio.to_thread(upgrade, database_url)
    env = {
        # redis-py's pool allows 100 connections by default; 100 conversations at once need more.
        "REDIS_URL": f"{redis.url}?max_connections=1000", "DATABASE_URL": database_url, "RASA_URL": "http://127.0.0.1:9",
        "AGENT_TOKENS": f"{AGENT}:{TOKEN}", "BUSINESS_HOURS": "24/7",
        "AGENT_MAX_CONVERSATIONS": str(args.conversations), "RATE_LIMIT_PER_MINUTE": "100000",
    }
    gateway_a = stack.start_gateway(stack.free_port(), stack.app_env(**env), logs, name="gateway-a")
    settings = replace(Settings.from_env(env), gateway_port=stack.free_port())
    app_b = create_app(settings)
    server_b = TestServer(app_b, host="127.0.0.1", port=settings.gateway_port)
    await server_b.start_server()
    handoff: list[float] = []
    messages: list[float] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for round_ in range(args.rounds + 1):
                h, m = await one_round(session, gateway_a.url, f"http://127.0.0.1:{settings.gateway_port}",
                                       app_b[appkeys.DESK], args.conversations)
                if round_ == 0:
                    continue  # warm-up: connections, caches, SQLite pages
                handoff += h
                messages += m
    finally:
        await server_b.close()
        gateway_a.stop()
        redis.stop()
    backend = database_url.split(":", 1)[0]
    print(f"{args.conversations} conversations at once, {args.rounds} rounds (after one warm-up), loopback, "
          f"two gateway processes on one Redis and one {backend} database")
    _, p95_h = report("handoff request → agent websocket", handoff)
    _, p95_m = report("agent message → customer websocket", messages)
    ok = p95_h < 50 and p95_m < 50
    print(f"target p95 < 50 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
