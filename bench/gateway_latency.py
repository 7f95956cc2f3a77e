"""What the gateway adds to the bot: reply latency (p50/p95) and throughput of one question
through the web chat websocket and the WhatsApp webhook, against Rasa's own REST channel on the
same model and server, side by side in one run (requests interleaved), printed as ratios.

    .venv/app/bin/python bench/gateway_latency.py [--requests 60] [--concurrency 8] [--throughput 120]
        [--rasa-url URL]   use a running Rasa (with its action server) instead of starting one

Starts everything else it needs on loopback: a Redis, a SQLite database, the Twilio stand-in
(in this process, so arrival times are exact), one gateway process (`python -m bot`), and unless
--rasa-url is given the action server and Rasa on the model for the current data.
Every request is a new conversation, so all three paths ask Rasa the same thing in the same state.
A reply counts as complete when as many messages arrived as Rasa's REST channel returns.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import model as rasa_model  # noqa: E402
import stack  # noqa: E402

from bot.channels.whatsapp import twilio_standin  # noqa: E402
from db.migrate import upgrade  # noqa: E402

QUESTION = "Was kostet der Versand nach Österreich?"
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-token"


class StandinArrivals:
    """The Twilio stand-in in this process, telling waiters when messages to a number arrive."""

    def __init__(self) -> None:
        self.app = twilio_standin.create_app(ACCOUNT_SID, AUTH_TOKEN)
        self.waiters: dict[str, tuple[int, asyncio.Future[float]]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.app.middlewares.append(self._middleware)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and response.status == 201:
            to = (await request.post()).get("To", "")
            self.counts[to] += 1
            wanted = self.waiters.get(to)
            if wanted and self.counts[to] >= wanted[0] and not wanted[1].done():
                wanted[1].set_result(time.perf_counter())
        return response

    def expect(self, to: str, count: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[to] = (count, future)
        return future


class Paths:
    def __init__(self, rasa_url: str, gateway_url: str, standin: StandinArrivals, replies: int, session: aiohttp.ClientSession) -> None:
        self.rasa_url = rasa_url
        self.gateway_url = gateway_url
        self.standin = standin
        self.replies = replies
        self.session = session
        self.validator = RequestValidator(AUTH_TOKEN)
        self.sockets: dict[asyncio.Task | None, aiohttp.ClientWebSocketResponse] = {}

    async def rasa(self) -> float:
        started = time.perf_counter()
        async with self.session.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                     json={"sender": f"bench-{secrets.token_hex(8)}", "message": QUESTION,
                                           "metadata": {"channel": "webchat", "language": "de", "media": []}}) as response:
            got = await response.json()
        assert len(got) == self.replies, got
        return time.perf_counter() - started

    async def webchat(self) -> float:
        """One question in a new conversation, on this task's websocket (a new hello switches the
        conversation, as a page with a fresh session would)."""
        ws = await self._socket()
        await ws.send_json({"type": "hello", "session_id": secrets.token_urlsafe(18), "language": "de"})
        while (await ws.receive_json())["type"] != "history":
            pass
        started = time.perf_counter()
        await ws.send_json({"type": "message", "text": QUESTION, "client_id": "q"})
        seen = 0
        while seen < self.replies:
            frame = await ws.receive_json(timeout=60)
            if frame["type"] == "message":
                seen += 1
            elif frame["type"] == "error":
                raise RuntimeError(frame)
        return time.perf_counter() - started

    async def _socket(self) -> aiohttp.ClientWebSocketResponse:
        task = asyncio.current_task()
        ws = self.sockets.get(task)
        if ws is None or ws.closed:
            ws = self.sockets[task] = await self.session.ws_connect(self.gateway_url.replace("http", "ws") + "/webchat/ws")
        return ws

    async def close(self) -> None:
        for ws in self.sockets.values():
            await ws.close()

    async def whatsapp(self) -> float:
        sender = f"whatsapp:+4915{secrets.randbelow(10**9):09d}"
        form = {"From": sender, "To": "whatsapp:+14155238886", "Body": QUESTION, "NumMedia": "0",
                "MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID}
        url = f"{self.gateway_url}/webhooks/twilio/whatsapp"
        signature = self.validator.compute_signature(url, form)
        arrived = self.standin.expect(sender, self.replies)
        started = time.perf_counter()
        async with self.session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response:
            assert response.status == 200, await response.text()
        return await asyncio.wait_for(arrived, 60) - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _throughput(call: Callable[[], Awaitable[float]], total: int, concurrency: int) -> tuple[int, float]:
    """`total` calls from `concurrency` workers; (calls, seconds)."""
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total, time.perf_counter() - started


async def measure(args: argparse.Namespace, rasa_url: str, gateway_url: str, standin: StandinArrivals) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": "bench-probe", "message": QUESTION}) as response:
            replies = len(await response.json())
        paths = Paths(rasa_url, gateway_url, standin, replies, session)
        calls = {"rasa REST": paths.rasa, "web chat": paths.webchat, "WhatsApp": paths.whatsapp}
        for call in calls.values():  # warm up every path
            for _ in range(3):
                await call()

        latencies: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.requests):  # interleaved, so drift hits all paths alike
            for name, call in calls.items():
                latencies[name].append(await call())
        # Throughput in rounds that alternate the paths, so a busy neighbour on the machine
        # slows all of them alike.
        done = {name: [0, 0.0] for name in calls}
        rounds = max(1, args.throughput // (args.concurrency * 5))
        for r in range(rounds):
            for name, call in calls.items():
                count, seconds = await _throughput(call, args.throughput // rounds + (r < args.throughput % rounds), args.concurrency)
                done[name][0] += count
                done[name][1] += seconds
        rates = {name: count / seconds for name, (count, seconds) in done.items()}
        await paths.close()

    base = latencies["rasa REST"]
    print(f"\nquestion {QUESTION!r}, {replies} bot message(s) per answer; {args.requests} sequential requests per path, "
          f"throughput with {args.concurrency} concurrent conversations x {args.throughput} requests")
    print(f"{'path':<10} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'msg/s':>7}   {'p50 ratio':>9} {'p95 ratio':>9} {'tput ratio':>10}")
    for name, values in latencies.items():
        print(f"{name:<10} {_pct(values, .5) * 1000:8.1f} {_pct(values, .95) * 1000:8.1f} {statistics.mean(values) * 1000:8.1f} "
              f"{rates[name]:7.1f}   {_pct(values, .5) / _pct(base, .5):9.2f} {_pct(values, .95) / _pct(base, .95):9.2f} "
              f"{rates[name] / rates['rasa REST']:10.2f}")
    print("ratios are against Rasa's REST channel on the same server (target: the gateway adds at most 10%: "
          "latency ratio <= 1.10, throughput ratio >= 0.90)")


async def main_async(args: argparse.Namespace, work: Path, database_url: str) -> None:
    logs = work / "logs"
    services: list[stack.Service] = []
    standin = StandinArrivals()
    standin_server = TestServer(standin.app, host="127.0.0.1", port=stack.free_port())
    await standin_server.start_server()
    try:
        redis = stack.start_redis(stack.free_port(), None, logs)
        services.append(redis)
        rasa_url = args.rasa_url
        if rasa_url is None:
            model = rasa_model.train()
            actions = stack.start_action_server(stack.free_port(), stack.app_env(DATABASE_URL=database_url), logs)
            services.append(actions)
            env = stack.app_env(ACTION_SERVER_URL=actions.url, REDIS_URL=redis.url,
                                RASA_TRACKER_DB_URL=f"sqlite:///{work / 'tracker.db'}")
            print("bench: starting Rasa", flush=True)
            services.append(stack.start_rasa(stack.free_port(), model, stack.write_endpoints(work / "endpoints.yml", env), env, logs))
            rasa_url = services[-1].url
        port = stack.free_port()
        services.append(stack.start_gateway(port, stack.app_env(
            REDIS_URL=redis.url, DATABASE_URL=database_url, RASA_URL=rasa_url, PUBLIC_URL=f"http://127.0.0.1:{port}",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_API_BASE=f"http://127.0.0.1:{standin_server.port}", RATE_LIMIT_PER_MINUTE="1000000",
            # Every simulated customer connects from 127.0.0.1: lift the per-address limits.
            NEW_CONVERSATIONS_PER_MINUTE="1000000", WEBCHAT_SOCKETS_PER_ADDRESS="1000000",
            MESSAGES_PER_ADDRESS_PER_MINUTE="1000000", QUEUE_MAX_PER_ADDRESS="1000000", QUEUE_MAX_LENGTH="1000000",
            AGENT_TOKENS="bench:" + secrets.token_urlsafe(12),
        ), logs))
        await measure(args, rasa_url, services[-1].url, standin)
    finally:
        await standin_server.close()
        for service in reversed(services):
            service.stop()
    print(f"logs: {logs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="sequential requests per path (latency)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent conversations (throughput)")
    parser.add_argument("--throughput", type=int, default=120, help="requests per path in the throughput round")
    parser.add_argument("--rasa-url", help="a running Rasa server with its action server (default: start one)")
    args = parser.parse_args()
    if min(args.requests, args.concurrency, args.throughput) < 1 or max(args.requests, args.throughput) > 2000:
        parser.error("counts must be between 1 and 2000")
    work = Path(tempfile.mkdtemp(prefix="shopdesk-bench-"))
    database_url = f"sqlite:///{work / 'shopdesk.db'}"
    upgrade(database_url)  # before the event loop: Alembic runs its own
    asyncio.run(main_async(args, work, database_url))


if __name__ == "__main__":
    main()
