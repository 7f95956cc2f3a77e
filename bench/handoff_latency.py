"""Live-agent desk latency: handoff request → queue entry on an agent's websocket, and agent
message → customer's web chat websocket; p50/p95 with 100 conversations at once, in two load
shapes, each against the bare transport measured side by side and printed as ratios.

    .venv/app/bin/python bench/handoff_latency.py [--conversations 100] [--rounds 3] [--window 2.0]
        [--database-url postgresql://…]   an empty PostgreSQL database instead of a new SQLite file

Starts on loopback: a Redis, the database, one gateway process ("A": bench/handoff_gateway.py,
i.e. `python -m bot` plus the baseline's routes) and a second gateway application inside this
process ("B", the real `bot.app.build_gateway`). Every path crosses processes, the way it does
behind a load balancer:

- handoff: B's desk gets the handoff request (what the router does with Rasa's `handoff`
  payload); timed until the `added` event arrives on an agent websocket connected to A
  (Redis Lua enqueue, pub/sub fan-out, A's socket);
- agent message: the agent POSTs `/api/handoff/{id}/messages` to A; timed until the text
  arrives on the customer's web chat websocket connected to B (auth, owner check, transcript
  row in SQL, pub/sub, B's socket).

Baseline ("bare", bench/bare_transport.py): the same hops without the desk's work, in the same
two processes on the same Redis with the same number of conversations and the same shape:
B PUBLISHes an envelope that A's subscriber forwards to an agent websocket on A; a POST to a
minimal endpoint on A PUBLISHes an envelope that B's subscriber forwards to the conversation's
websocket on B. Desk and bare phases alternate within each round (their order alternates too),
so a busy neighbour on the machine slows both alike.

Load shapes, each with all conversations live at once:
- burst: every conversation's request in the same instant;
- sustained: each conversation's request at a random moment within `--window` seconds
  (100 conversations in 2 s ≈ 50 requests/s), one window per path per round.

Rasa is not needed (no message goes to the bot). Target: p95 < 50 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(HERE)]

import stack  # noqa: E402
from bare_transport import BareTransport  # noqa: E402

from bot.app import build_gateway  # noqa: E402
from bot.channels.webchat import channel as webchat  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.contract import HandoffRequest  # noqa: E402
from db.migrate import upgrade  # noqa: E402

AGENT, TOKEN = "bench-agent", "bench-" + secrets.token_hex(16)
SECRET = secrets.token_hex(32)  # SHOPDESK_SECRET of both gateways: the customers' conversation ids
SHAPES = ("burst", "sustained")
PATHS = ("handoff", "message")
TITLES = {"handoff": "handoff request → agent websocket", "message": "agent message → customer websocket"}
TARGET_MS = 50.0


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process so far: gateway A's from /proc, or this process's."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Bench:
    def __init__(self, session: aiohttp.ClientSession, a_url: str, b_url: str, desk, bare_b: BareTransport,
                 n: int, window: float, rng: random.Random, a_pid: int) -> None:
        self.session, self.a_url, self.b_url, self.a_pid = session, a_url, b_url, a_pid
        self.profile_a = bool(os.environ.get("BENCH_PROFILE"))  # see bench/handoff_gateway.py
        self.cpu: dict[tuple[str, str, str], float] = {}  # (shape, path, kind) → CPU seconds of the working process
        self.desk, self.bare_b, self.n, self.window, self.rng = desk, bare_b, n, window, rng
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    async def fire(self, shape: str, ids: list[str], call: Callable[[str], Awaitable[None]]) -> None:
        """`call(cid)` for every conversation: all at once (burst) or each at a random moment
        within the window (sustained)."""
        if shape == "burst":
            await asyncio.gather(*(call(cid) for cid in ids))
            return

        async def later(cid: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await call(cid)

        await asyncio.gather(*(later(cid, self.rng.uniform(0, self.window)) for cid in ids))

    def _count_cpu(self, shape: str, path: str, kind: str, seconds: float) -> None:
        self.cpu[(shape, path, kind)] = self.cpu.get((shape, path, kind), 0.0) + seconds

    async def socket(self, url: str, first: str, **kwargs) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(url.replace("http", "ws", 1), **kwargs)
        if first == "hello":
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
        return ws

    async def one_round(self, shape: str, bare_first: bool) -> dict[tuple[str, str], list[float]]:
        n, session, auth = self.n, self.session, self.auth
        sessions = [secrets.token_urlsafe(18) for _ in range(n)]
        ids = [webchat.conversation_id(s, SECRET) for s in sessions]
        customers, bare_customers = {}, {}
        for sid, cid in zip(sessions, ids, strict=True):
            ws = await session.ws_connect(self.b_url.replace("http", "ws", 1) + "/webchat/ws")
            await ws.send_json({"type": "hello", "session_id": sid, "language": "de"})
            customers[cid] = ws
            bare_customers[cid] = await self.socket(f"{self.b_url}/bench/bare/ws?key={cid}", "hello")
        for ws in customers.values():  # the history frame: the socket is attached
            while (await ws.receive_json(timeout=10)).get("type") != "history":
                pass
        agent_ws = await self.socket(f"{self.a_url}/agent/ws", "hello", headers=auth)
        agent_key = "agent-" + secrets.token_hex(4)
        bare_agent_ws = await self.socket(f"{self.a_url}/bench/bare/ws?key={agent_key}", "hello")
        results: dict[tuple[str, str], list[float]] = {}

        # -- handoff request → agent websocket
        async def arrivals(ws: aiohttp.ClientWebSocketResponse, got: dict[str, float], done: asyncio.Event,
                           match: Callable[[dict], str | None]) -> None:
            async for message in ws:
                cid = match(json.loads(message.data))
                if cid in customers and cid not in got:
                    got[cid] = time.perf_counter()
                    if len(got) == n:
                        done.set()

        def added(event: dict) -> str | None:
            return event["entry"]["conversation_id"] if event.get("type") == "added" else None

        async def desk_handoff(got: dict[str, float], started: dict[str, float]) -> None:
            async def request(cid: str) -> None:
                started[cid] = time.perf_counter()
                await self.desk.request_handoff(cid, "webchat", HandoffRequest(
                    reason="complaint", priority=1, language="de", summary="Paket beschädigt (benchmark)",
                ))
            await self.fire(shape, ids, request)

        async def bare_handoff(got: dict[str, float], started: dict[str, float]) -> None:
            async def request(cid: str) -> None:
                started[cid] = time.perf_counter()
                await self.bare_b.publish(agent_key, {"type": "added", "entry": {"conversation_id": cid}})
            await self.fire(shape, ids, request)

        for kind in (("bare", "desk") if bare_first else ("desk", "bare")):
            got: dict[str, float] = {}
            started: dict[str, float] = {}
            done = asyncio.Event()
            reader = asyncio.create_task(arrivals(agent_ws if kind == "desk" else bare_agent_ws, got, done, added))
            cpu = cpu_seconds(None)
            await (desk_handoff if kind == "desk" else bare_handoff)(got, started)
            await asyncio.wait_for(done.wait(), 30)
            self._count_cpu(shape, "handoff", kind, cpu_seconds(None) - cpu)
            reader.cancel()
            results[("handoff", kind)] = [got[cid] - started[cid] for cid in ids]
        print(f"  {shape}: handoffs queued", file=sys.stderr, flush=True)

        for cid in ids:
            async with session.post(f"{self.a_url}/api/handoff/{cid}/claim", headers=auth) as response:
                assert response.status == 200, await response.text()

        # -- agent message → customer websocket
        text = {cid: f"Hallo, hier ist das Team ({cid[-6:]})" for cid in ids}

        async def customer_reader(cid: str, ws: aiohttp.ClientWebSocketResponse, arrived: dict[str, float]) -> None:
            async for message in ws:
                frame = json.loads(message.data)
                if frame.get("type") == "message" and frame.get("sender") == "agent" and frame.get("text") == text[cid]:
                    arrived[cid] = time.perf_counter()
                    return

        for kind in (("bare", "desk") if bare_first else ("desk", "bare")):
            arrived: dict[str, float] = {}
            sent_at: dict[str, float] = {}
            sockets = customers if kind == "desk" else bare_customers
            readers = [asyncio.create_task(customer_reader(cid, ws, arrived)) for cid, ws in sockets.items()]
            url = f"{self.a_url}/api/handoff/{{}}/messages" if kind == "desk" else f"{self.a_url}/bench/bare/{{}}"

            async def say(cid: str, sent_at: dict[str, float] = sent_at, url: str = url) -> None:
                sent_at[cid] = time.perf_counter()
                async with session.post(url.format(cid), headers=auth, json={"text": text[cid]}) as response:
                    assert response.status == 200, await response.text()

            if self.profile_a and kind == "desk":
                await session.post(f"{self.a_url}/bench/profile/on")
            cpu = cpu_seconds(self.a_pid)
            await self.fire(shape, ids, say)
            await asyncio.wait_for(asyncio.gather(*readers), 30)
            self._count_cpu(shape, "message", kind, cpu_seconds(self.a_pid) - cpu)
            if self.profile_a and kind == "desk":
                await session.post(f"{self.a_url}/bench/profile/off")
            results[("message", kind)] = [arrived[cid] - sent_at[cid] for cid in ids]
        print(f"  {shape}: agent messages delivered", file=sys.stderr, flush=True)

        for cid in ids:  # leave the desk empty for the next round: back to the queue, then out of it
            async with session.post(f"{self.a_url}/api/handoff/{cid}/release", headers=auth) as response:
                assert response.status == 200
            await self.desk.parts.queue.leave(cid)
        for ws in (agent_ws, bare_agent_ws, *customers.values(), *bare_customers.values()):
            await ws.close()
        return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per shape (after one warm-up round)")
    parser.add_argument("--window", type=float, default=2.0, help="seconds over which the sustained shape spreads each path's requests")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: burst, sustained")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead of a new SQLite file")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    if not shapes or set(shapes) - set(SHAPES):
        parser.error(f"--shapes: a comma-separated list of {', '.join(SHAPES)}")

    work = Path(tempfile.mkdtemp(prefix="shopdesk-bench-handoff-"))
    logs = work / "logs"
    redis = stack.start_redis(stack.free_port(), None, logs)
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    await asyncio.to_thread(upgrade, database_url)
    env = {
        # redis-py's pool allows 100 connections by default; 100 conversations at once need more.
        "REDIS_URL": f"{redis.url}?max_connections=1000", "DATABASE_URL": database_url, "RASA_URL": "http://127.0.0.1:9",
        "AGENT_TOKENS": f"{AGENT}:{TOKEN}", "BUSINESS_HOURS": "24/7", "SHOPDESK_SECRET": SECRET,
        "AGENT_MAX_CONVERSATIONS": str(args.conversations), "RATE_LIMIT_PER_MINUTE": "100000",
        # Every simulated customer connects from 127.0.0.1: lift the per-address limits.
        "NEW_CONVERSATIONS_PER_MINUTE": "1000000", "WEBCHAT_SOCKETS_PER_ADDRESS": "1000000",
        "MESSAGES_PER_ADDRESS_PER_MINUTE": "1000000", "QUEUE_MAX_PER_ADDRESS": "1000000", "QUEUE_MAX_LENGTH": "1000000",
    }
    port_a = stack.free_port()
    process, log = stack._spawn("gateway-a", [str(stack.APP_PYTHON), str(HERE / "handoff_gateway.py")],
                                stack.app_env(**env, GATEWAY_PORT=str(port_a)), logs)
    gateway_a = stack.wait_until(stack.Service("gateway-a", process, f"http://127.0.0.1:{port_a}", log),
                                 lambda: stack.port_open(port_a), 60)
    settings = replace(Settings.from_env(env), gateway_port=stack.free_port())
    gateway_b = build_gateway(settings)
    app_b = gateway_b.app
    bare_b = BareTransport(gateway_b.redis)
    bare_b.add_to(app_b)
    server_b = TestServer(app_b, host="127.0.0.1", port=settings.gateway_port)
    await server_b.start_server()
    samples: dict[tuple[str, str, str], list[float]] = {(s, p, k): [] for s in shapes for p in PATHS for k in ("desk", "bare")}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            bench = Bench(session, gateway_a.url, f"http://127.0.0.1:{settings.gateway_port}", gateway_b.desk,
                          bare_b, args.conversations, args.window, random.Random(args.seed), process.pid)
            await bench.one_round("burst", False)  # warm-up: connections, caches, SQLite pages
            bench.cpu.clear()
            for round_ in range(args.rounds):
                for shape in shapes:  # shapes interleaved too
                    for (path, kind), values in (await bench.one_round(shape, bare_first=round_ % 2 == 1)).items():
                        samples[(shape, path, kind)] += values
    finally:
        await server_b.close()
        gateway_a.stop()
        redis.stop()

    backend = database_url.split(":", 1)[0]
    print(f"{args.conversations} conversations at once, {args.rounds} rounds per shape (after one warm-up), loopback, "
          f"two gateway processes on one Redis and one {backend} database")
    print(f"burst: all requests in the same instant; sustained: each at a random moment within {args.window:g} s "
          f"(≈{args.conversations / args.window:.0f}/s)")
    print("bare = the same hops without the desk (one PUBLISH, a subscriber, the websocket); ratio = desk / bare")
    print("cpu/req = CPU ms per request of the process doing the work (handoff: this process, i.e. gateway B and "
          "the clients; message: gateway A), desk / bare")
    print(f"{'shape':<10} {'path':<35} {'n':>4}  {'desk p50':>8} {'p95':>7}  {'bare p50':>8} {'p95':>7}  "
          f"{'ratio p50':>9} {'p95':>6}  {'cpu/req':>11}  target p95 < {TARGET_MS:g} ms")
    ok = True
    for shape in shapes:
        for path in PATHS:
            desk = [s * 1000 for s in samples[(shape, path, "desk")]]
            bare = [s * 1000 for s in samples[(shape, path, "bare")]]
            d50, d95, b50, b95 = percentile(desk, 50), percentile(desk, 95), percentile(bare, 50), percentile(bare, 95)
            met = d95 < TARGET_MS
            ok &= met
            cpu = f"{bench.cpu[(shape, path, 'desk')] * 1000 / len(desk):.2f}/{bench.cpu[(shape, path, 'bare')] * 1000 / len(bare):.2f}"
            print(f"{shape:<10} {TITLES[path]:<35} {len(desk):4d}  {d50:8.1f} {d95:7.1f}  {b50:8.1f} {b95:7.1f}  "
                  f"{d50 / b50:9.2f} {d95 / b95:6.2f}  {cpu:>11}  {'met' if met else 'NOT met'}"
                  f"   (desk max {max(desk):.0f}, mean {statistics.mean(desk):.1f} ms)")
    print(f"logs: {logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
