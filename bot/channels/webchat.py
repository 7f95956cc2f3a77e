"""Web chat: `WS /webchat/ws`, JSON text frames, one conversation per browser session.

Client → server
  {"type": "hello", "session_id": "<16-64 of A-Za-z0-9_->", "language": "de-AT"}
      first frame; the conversation is `web-<session_id>`. The server answers with the history.
  {"type": "message", "text": "…", "client_id": "<the widget's id for this message>"}
      a customer message; a client_id seen before is acknowledged but not processed again,
      so the widget can resend what it queued while offline without doubling anything.
      A message the gateway could not take (Redis away) gets no ack: the socket closes with
      1011 and the widget sends the message again once it has reconnected.

Server → client
  {"type": "history", "messages": [{"sender", "text", "agent_id", "created_at", "buttons"?}, …]}
      the last message carries its buttons while they are on offer (until the customer writes)
  {"type": "ack", "client_id": "…"}                       the message was accepted
  {"type": "message", "sender": "bot"|"agent", "text": "…"|null,
   "buttons": [{"title", "payload"}, …], "agent_id": …, "custom": {…}|null}
  {"type": "typing"}                                       the bot is working on an answer
  {"type": "error", "reason": "malformed"|"hello_first"|"bad_session_id"|"too_long"|
   "rate_limited"|"unknown_type", "detail": "…", "text": "<for the customer>"|null, "client_id"?}

Outgoing frames go straight to the sockets this process holds and through Redis pub/sub
(`keys.WEBCHAT_FANOUT`) to every other gateway process, which pushes them to the sockets of that
conversation it holds: a reply produced by any process reaches the customer's socket wherever it is.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import logging
from collections import defaultdict
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from redis.asyncio import Redis

from bot import appkeys, keys
from bot.conversations import InvalidSessionId, webchat_id
from bot.limits import Rejected, check_length, customer_text
from bot.outbound import Channel, Inbound, Outbound
from bot.transcript import Transcript

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
SEEN_SECONDS = 24 * 3600
OFFER_SECONDS = 24 * 3600
SUBSCRIBE_SECONDS = 5.0
_LANGUAGES = ("de", "en")


def message_frame(message: Outbound) -> dict[str, Any]:
    return {
        "type": "message", "sender": message.sender, "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "agent_id": message.agent_id, "custom": message.custom,
    }


def error_frame(reason: str, detail: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "reason": reason, "detail": detail, "text": text, **extra}


def language_tag(raw: object) -> str | None:
    """"de-AT" → "de"; languages the assistant does not speak → None (it decides from the text)."""
    if not isinstance(raw, str):
        return None
    primary = raw.strip().lower()[:2]
    return primary if primary in _LANGUAGES else None


class WebchatHub:
    """This process's websockets, and the channel's `ChannelSender` (publishes to every process)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._origin = secrets.token_hex(8)  # this process, in fan-out envelopes
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def send(self, conversation_id: str, messages: list[Outbound]) -> None:
        for message in messages:
            if message.buttons:  # still clickable after a reload: see `history`
                await self._redis.set(keys.buttons(conversation_id), json.dumps(message_frame(message)), ex=OFFER_SECONDS)
            await self._publish(conversation_id, message_frame(message))

    async def history(self, transcript: Transcript, conversation_id: str) -> list[dict[str, Any]]:
        """The transcript, with the buttons of the last message when they are still on offer."""
        lines = await transcript.history(conversation_id)
        offer = await self._redis.get(keys.buttons(conversation_id))
        if offer and lines and lines[-1]["sender"] != "customer":
            offered = json.loads(offer)
            if (offered.get("text") or "") == lines[-1]["text"] or not offered.get("text"):
                lines[-1]["buttons"] = offered["buttons"]
        return lines

    async def taken(self, conversation_id: str, text: str) -> str | None:
        """The customer wrote: what was on offer is gone. The title of the button whose payload
        `text` is, if it was one of them."""
        offer = await self._redis.getdel(keys.buttons(conversation_id))
        if offer is None:
            return None
        return next((b["title"] for b in json.loads(offer)["buttons"] if b["payload"] == text), None)

    async def typing(self, conversation_id: str) -> None:
        await self._publish(conversation_id, {"type": "typing"})

    async def _publish(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """To this process's sockets at once, and through Redis to every other process's."""
        await self._to_sockets(conversation_id, frame)
        await self._redis.publish(keys.WEBCHAT_FANOUT, json.dumps(
            {"origin": self._origin, "conversation_id": conversation_id, "frame": frame},
        ))

    def attach(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        self._sockets[conversation_id].add(ws)

    def detach(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[conversation_id]

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="webchat-fanout")
        await asyncio.wait_for(self._subscribed.wait(), timeout=SUBSCRIBE_SECONDS)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    async def close_sockets(self, _app: web.Application | None = None) -> None:
        """On shutdown: say goodbye to the browsers (they reconnect to another process)."""
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(keys.WEBCHAT_FANOUT)
                    self._subscribed.set()
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            await self._push(item["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("web chat fan-out lost its Redis subscription; resubscribing in 1 s")
                await asyncio.sleep(1)

    async def _push(self, raw: str) -> None:
        try:
            envelope = json.loads(raw)
            conversation_id, frame = envelope["conversation_id"], envelope["frame"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed fan-out envelope")
            return
        if envelope.get("origin") != self._origin:  # our own frames went out in _publish
            await self._to_sockets(conversation_id, frame)

    async def _to_sockets(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(conversation_id, ())):
            if not ws.closed:
                try:
                    await ws.send_json(frame)
                except ConnectionError:
                    self.detach(conversation_id, ws)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    hub = app[appkeys.WEBCHAT]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    conversation_id: str | None = None
    language: str | None = None
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(msg.data)
                if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                    raise ValueError("a frame is a JSON object with a string 'type'")
            except ValueError as exc:
                await ws.send_json(error_frame("malformed", str(exc)))
                continue
            kind = frame["type"]
            if kind == "hello":
                try:
                    new_id = webchat_id(frame.get("session_id"))
                except InvalidSessionId as exc:
                    await ws.send_json(error_frame("bad_session_id", str(exc)))
                    continue
                if conversation_id is not None:
                    hub.detach(conversation_id, ws)
                conversation_id, language = new_id, language_tag(frame.get("language"))
                hub.attach(conversation_id, ws)
                history = await hub.history(app[appkeys.TRANSCRIPT], conversation_id)
                await ws.send_json({"type": "history", "messages": history})
                log.info("webchat hello conversation=%s", conversation_id)
            elif kind == "message":
                if conversation_id is None:
                    await ws.send_json(error_frame("hello_first", "send a hello frame with your session_id first"))
                    continue
                await _customer_message(app, ws, conversation_id, language, frame)
            else:
                await ws.send_json(error_frame("unknown_type", f"frame type {kind!r} is not one of hello, message"))
    finally:
        if conversation_id is not None:
            hub.detach(conversation_id, ws)
    return ws


async def _customer_message(
    app: web.Application, ws: web.WebSocketResponse, conversation_id: str, language: str | None,
    frame: dict[str, Any],
) -> None:
    settings, metrics = app[appkeys.SETTINGS], app[appkeys.METRICS]
    text, client_id = frame.get("text"), frame.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
        await ws.send_json(error_frame("malformed", "client_id must be a string of 1-64 characters"))
        return
    ids = {"client_id": client_id} if client_id else {}
    if not isinstance(text, str) or not text.strip():
        await ws.send_json(error_frame("malformed", "a message frame needs a non-empty string 'text'", **ids))
        return
    try:
        check_length(text, settings.max_message_chars)
        limiter = app[appkeys.RATE_LIMITER]
        if limiter.over(await limiter.hit(conversation_id)):
            raise Rejected("rate_limited", f"more than {limiter.per_minute} messages a minute")
    except Rejected as rejected:
        metrics.errors.labels(f"rejected_{rejected.reason}").inc()
        log.info("webchat rejected conversation=%s reason=%s", conversation_id, rejected.reason)
        await ws.send_json(error_frame(
            rejected.reason, rejected.detail,
            customer_text(rejected.reason, language, limit=settings.max_message_chars), **ids,
        ))
        return
    redis = app[appkeys.REDIS]
    seen = keys.seen(conversation_id, client_id) if client_id else None
    if seen and not await redis.set(seen, "1", nx=True, ex=SEEN_SECONDS):
        await ws.send_json({"type": "ack", "client_id": client_id, "duplicate": True})
        return
    try:
        shown = await app[appkeys.WEBCHAT].taken(conversation_id, text.strip())
        await app[appkeys.ROUTER].submit(Inbound(
            conversation_id=conversation_id, channel=Channel.webchat, text=text.strip(),
            language=language, external_id=client_id, shown=shown,
        ))
    except Exception as exc:
        # Not taken: forget the client_id so the widget's resend is taken, and close without
        # an ack, so the widget keeps the message pending and sends it again on reconnect.
        metrics.errors.labels("webchat_take").inc()
        log.error("message not taken, the widget will resend it conversation=%s: %s", conversation_id, type(exc).__name__)
        if seen:
            try:
                await redis.delete(seen)
            except Exception:
                log.warning("could not forget client_id conversation=%s", conversation_id)
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"message not taken, send it again")
        return
    await ws.send_json({"type": "ack", "client_id": client_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/webchat/ws", websocket)
