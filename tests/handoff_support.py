"""Shared parts of the desk tests: a desk on a real aiohttp app, Redis and database, with a
Delivery and a BotHandback that record what the desk hands to the gateway (the seam itself;
the Delivery also writes the transcript like the gateway's does)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.settings import Settings
from bot.transcript import Transcript
from core.contract import ALWAYS_OPEN, HandoffRequest, Inbound, Outbound, ReplyWindow, Route, WindowClosed
from db.engine import create_engine, session_factory
from handoff.queue import keys
from handoff.web.app import setup_handoff
from handoff.work.desk import HandoffDesk

# Names of their own: the gateway tests' accounts live in the same database.
AGENTS = {"anna-desk": "anna-" + "a" * 32, "ben-desk": "ben-" + "b" * 32, "cara-desk": "cara-" + "c" * 32}


def agent_tokens(agents: dict[str, str]) -> str:
    return ",".join(f"{name}:{token}" for name, token in agents.items())


def new_id(prefix: str = "web-") -> str:
    return prefix + secrets.token_hex(12)


def channel_of(conversation_id: str) -> str:
    return "whatsapp" if conversation_id.startswith("wa-") else "webchat"


class RecordingDelivery:
    """Records what the desk hands over. A test closes a conversation's reply window with
    `windows[cid] = ReplyWindow(...)` to see what the desk does with a channel's answer."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.sent: list[tuple[str, Outbound]] = []
        self.windows: dict[str, ReplyWindow] = {}
        self.typed: list[tuple[str, str | None]] = []
        self._changed = asyncio.Condition()

    async def reply_window(self, conversation_id: str) -> ReplyWindow:
        return self.windows.get(conversation_id, ALWAYS_OPEN)

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:
        self.typed.append((conversation_id, agent_id))

    async def route(self, conversation_id: str) -> Route:
        return Route(conversation_id, await self.reply_window(conversation_id))

    async def deliver(self, conversation_id: str, messages: list[Outbound], route: Route | None = None) -> None:
        window = route.window if route is not None else await self.reply_window(conversation_id)
        if not window.open and not window.fallback:
            raise WindowClosed(window.why)
        channel = channel_of(conversation_id)
        for message in messages:
            await self.transcript.record(conversation_id, channel, message.sender, message.text or "", message.agent_id)
        async with self._changed:
            self.sent += [(conversation_id, m) for m in messages]
            self._changed.notify_all()

    def texts(self, conversation_id: str) -> list[str]:
        return [m.text or "" for cid, m in self.sent if cid == conversation_id]

    async def wait_for(self, conversation_id: str, contains: str, timeout: float = 5.0) -> str:
        async def found() -> str:
            async with self._changed:
                while True:
                    for text in self.texts(conversation_id):
                        if contains in text:
                            return text
                    await self._changed.wait()

        return await asyncio.wait_for(found(), timeout)


class RecordingHandback:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def hand_back(self, conversation_id: str, agent_id: str) -> None:
        self.calls.append((conversation_id, agent_id))

    async def trigger(self, conversation_id: str, intent: str, entities: dict[str, str]) -> None:
        self.calls.append((conversation_id, intent))


@dataclass
class DeskHarness:
    client: TestClient
    desk: HandoffDesk
    delivery: RecordingDelivery
    handback: RecordingHandback
    redis: Redis
    agents: dict[str, str]
    settings: Settings
    sockets: list[Any] = field(default_factory=list)

    def auth(self, agent: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agents[agent]}"}

    async def queue(self, agent: str = "anna-desk") -> dict[str, Any]:
        response = await self.client.get("/api/handoff/queue", headers=self.auth(agent))
        assert response.status == 200, await response.text()
        return await response.json()

    async def claim(self, conversation_id: str, agent: str) -> Any:
        return await self.client.post(f"/api/handoff/{conversation_id}/claim", headers=self.auth(agent))

    async def say(self, conversation_id: str, agent: str, text: str) -> Any:
        return await self.client.post(
            f"/api/handoff/{conversation_id}/messages", headers=self.auth(agent), json={"text": text},
        )

    async def customer(self, conversation_id: str, text: str, language: str = "de", shown: str | None = None) -> bool:
        """A customer message as the router hands it over: transcript first, then the desk."""
        channel = channel_of(conversation_id)
        inbound = Inbound(conversation_id, channel, text, language, shown=shown)
        await self.delivery.transcript.record(conversation_id, channel, "customer", inbound.transcript_text())
        return await self.desk.takes_message(inbound)

    async def handoff(self, conversation_id: str, **request: Any) -> None:
        channel = channel_of(conversation_id)
        request.setdefault("reason", "customer_request")
        await self.desk.request_handoff(conversation_id, channel, HandoffRequest(**request))

    async def claimed(self, conversation_id: str, agent: str) -> None:
        """The conversation handed off and taken by `agent` (the claim must succeed)."""
        await self.handoff(conversation_id)
        assert (await self.claim(conversation_id, agent)).status == 200

    async def socket(self, agent: str) -> Any:
        ws = await self.client.ws_connect("/agent/ws")
        await ws.send_json({"type": "auth", "token": self.agents[agent]})
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello", hello
        self.sockets.append(ws)
        return ws


async def next_event(ws: Any, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        while True:
            event = json.loads((await ws.receive(timeout=timeout)).data)
            if predicate(event):
                return event

    return await asyncio.wait_for(find(), timeout)


@contextlib.asynccontextmanager
async def desk_app(
    redis_url: str, database_url: str, agents: dict[str, str] = AGENTS, flush: bool = True, **overrides: Any,
) -> AsyncIterator[DeskHarness]:
    """One gateway-like application with the desk on it. `flush` empties the desk's Redis keys first
    (tests run one after another on one Redis); pass False to start a second instance on the same state."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    if flush:
        async for key in redis.scan_iter(match=keys.PREFIX + "*", count=1000):
            await redis.delete(key)
    engine = create_engine(database_url)
    sessionmaker = session_factory(engine)
    settings = replace(Settings(), **{"agent_tokens": agent_tokens(agents), "business_hours": "24/7", **overrides})
    delivery = RecordingDelivery(Transcript(sessionmaker))
    handback = RecordingHandback()
    app = web.Application()
    desk = setup_handoff(app, settings, redis, sessionmaker, delivery, handback, handback)
    client = TestClient(TestServer(app))
    await client.start_server()
    harness = DeskHarness(client, desk, delivery, handback, redis, agents, settings)
    try:
        yield harness
    finally:
        for ws in harness.sockets:
            await ws.close()
        await client.close()
        await redis.aclose()
        await engine.dispose()
