"""The baseline of bench/handoff_latency.py: the bare transport the desk's paths ride on.

Added to both gateways of the benchmark (the real application, same process, same event loop,
same Redis client and pool), it does only what carries a message from one process to a
websocket on the other, without any of the desk's work:

- `POST /bench/bare/{key}` with `{"text": …}`: reads the JSON body, PUBLISHes one envelope
  `{"to": key, "frame": {…}}` to Redis, answers `{"sent": true}` (no auth, no owner check,
  no SQL, one publish instead of two);
- `GET /bench/bare/ws?key=…`: a websocket registered under `key`;
- a subscriber per process (one pub/sub connection, like the desk's and the web chat's
  listeners) that parses each envelope and `send_json`s its frame to the sockets of `to`.

The handoff baseline PUBLISHes the envelope straight from gateway B's Redis client (the real
path calls B's desk directly, too); the agent-message baseline POSTs to gateway A.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web
from redis.asyncio import Redis

CHANNEL = "bench:bare"


def envelope(key: str, frame: dict) -> str:
    return json.dumps({"to": key, "frame": frame})


class BareTransport:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.subscribed = asyncio.Event()

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/bench/bare/{key}", self.post)
        app.router.add_get("/bench/bare/ws", self.websocket)
        app.cleanup_ctx.append(self._listener)

    async def publish(self, key: str, frame: dict) -> None:
        await self.redis.publish(CHANNEL, envelope(key, frame))

    async def post(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.publish(request.match_info["key"], {"type": "message", "sender": "agent", "text": body["text"]})
        return web.json_response({"sent": True})

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        key = request.query["key"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets[key].add(ws)
        try:
            await ws.send_json({"type": "hello"})
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
        finally:
            self.sockets[key].discard(ws)
            if not self.sockets[key]:
                del self.sockets[key]
        return ws

    async def _listen(self) -> None:
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            self.subscribed.set()
            async for item in pubsub.listen():
                if item.get("type") != "message":
                    continue
                data = json.loads(item["data"])
                for ws in list(self.sockets.get(data["to"], ())):
                    if not ws.closed:
                        await ws.send_json(data["frame"])

    async def _listener(self, _app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._listen(), name="bench:bare")
        await asyncio.wait_for(self.subscribed.wait(), 5)
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
