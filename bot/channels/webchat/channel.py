"""Web chat: `WS /webchat/ws`, JSON text frames, one conversation per browser session.

Client → server
  {"type": "hello", "session_id": "<16-64 of A-Za-z0-9_->", "language": "de-AT"}
      first frame; the conversation is `web-` + a keyed hash of the session id (bot/ids.py). The server answers with the history.
  {"type": "typing"}   the customer is typing (the agent who has the conversation sees it)
  {"type": "message", "text": "…", "client_id": "<the widget's id for this message>"}
      a customer message; a client_id seen before is acknowledged but not processed again,
      so the widget can resend what it queued while offline without doubling anything.
      A message the gateway could not take (Redis away) gets no ack: the socket closes with
      1011 and the widget sends the message again once it has reconnected.
      "/intent{…}" reaches the bot as an intent only as the payload of a button still on
      offer (a button press); anything else typed is text (bot/typed_intents.py).

Server → client
  {"type": "history", "messages": [{"sender", "text", "agent_id", "created_at", "buttons"?}, …], "max_chars": n}
      the last message carries its buttons while they are on offer (until the customer writes);
      `max_chars` is the longest message the gateway takes (the widget's input limit)
  {"type": "ack", "client_id": "…"}                       the message was accepted
  {"type": "message", "sender": "bot"|"agent", "text": "…"|null,
   "buttons": [{"title", "payload"}, …], "agent_id": …, "custom": {…}|null}
  {"type": "typing", "agent": null|"<name>"}               the bot (or that agent) is writing an answer
  {"type": "error", "reason": "malformed"|"hello_first"|"bad_session_id"|"too_long"|
   "rate_limited"|"address_rate_limited"|"too_many_conversations"|"too_many_sockets"|"unknown_type",
   "detail": "…", "text": "<for the customer>"|null, "client_id"?}

Limits (bot/limits.py), each answered with an error frame whose `text` tells the customer
what happened and what to do: per client address (core/client_address.py) the open sockets
(WEBCHAT_SOCKETS_PER_ADDRESS), the new conversations a minute (NEW_CONVERSATIONS_PER_MINUTE: a
hello for a session without a transcript) and the messages a minute (MESSAGES_PER_ADDRESS_PER_MINUTE);
per socket the messages a minute (RATE_LIMIT_PER_MINUTE, as per conversation: switching session ids
does not reset it). The first two close the socket (1013, try again later); the widget reconnects slowly.

Outgoing frames go straight to the sockets this process holds and through the fan-out
(`keys.WEBCHAT_FANOUT`) to every other gateway process, which pushes them to the sockets of that
conversation it holds: a reply produced by any process reaches the customer's socket wherever it is.
The reply window of web chat is always open. Photos come in through `POST /webchat/upload`
(bot/channels/webchat/upload.py) and go the same way as messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections import defaultdict
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keys
from bot.channels.base import ChannelParts
from bot.channels.folder import KeyedIds, NotACustomer
from bot.channels.webchat.upload import upload_route
from bot.ids import keyed_id
from bot.limits import Refused, SocketRate
from bot.settings import Settings
from core import texts
from core.attachments import AttachmentStore
from core.backoff import Backoff
from core.client_address import TrustedProxies, client_address
from core.contract import ALWAYS_OPEN, LANGUAGES, Button, Inbound, Outbound, Route
from core.fanout import Fanout
from core.periodic import periodic
from db.models import Message

log = logging.getLogger(__name__)

PATH = "/webchat/ws"
FAMILY = "webchat"
ID_PREFIX = "web-"
MAX_FRAME_BYTES = 64 * 1024
OFFER_SECONDS = 24 * 3600
# The browser's random session id: url-safe, long enough not to be guessed, short enough
# to fit the 128-character id columns, and free of anything that could forge another id.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class InvalidSessionId(ValueError):
    pass


def conversation_id(session_id: object, secret: str) -> str:
    """Keyed (bot/ids.py): the session id, the customer's credential, is not in the id."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise InvalidSessionId("session_id must be 16-64 characters of A-Z, a-z, 0-9, '-' or '_'")
    return keyed_id(ID_PREFIX, secret, session_id)


def _own_id(session_id: str, secret: str) -> str:
    try:
        return conversation_id(session_id, secret)
    except InvalidSessionId as exc:
        raise NotACustomer(str(exc)) from None


async def _earlier_ids(session_id: str, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """The earlier scheme's id (`web-<session id>`), when older conversations are stored under it."""
    earlier = ID_PREFIX + session_id
    async with sessionmaker() as session:
        stored = await session.scalar(select(Message.id).where(Message.conversation_id == earlier).limit(1))
    return [] if stored is None else [earlier]


# A web chat customer is named by their session id (the widget's `shopdesk.session`).
WEBCHAT_IDS = KeyedIds(
    FAMILY, ID_PREFIX, "session id", "the web chat session id (the widget's localStorage shopdesk.session)",
    _own_id, stored=_earlier_ids,
)


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
    return primary if primary in LANGUAGES else None


class WebChat:
    """The `Channel` unit of the web chat widget: this process's websockets, and sends that
    reach the socket whichever process holds it."""

    name = "webchat"
    family = FAMILY
    id_prefix = ID_PREFIX

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        self.max_chars = settings.max_message_chars
        self._settings = settings
        self._parts = parts
        self._redis = parts.redis
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._origin = secrets.token_hex(8)  # this process, in fan-out envelopes
        self._fanout = Fanout(parts.redis, keys.WEBCHAT_FANOUT, self._push)
        self._trusted = TrustedProxies.parse(settings.trusted_proxies)
        self._limits = parts.addresses
        # This process's sockets → (address pseudonym, socket entry), renewed by `_beat`.
        self._entries: dict[web.WebSocketResponse, tuple[str, str]] = {}
        self._beat_task: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.websocket)
        app.router.add_routes([upload_route(
            AttachmentStore.from_config(self._settings), self._settings, self._parts,
            lambda session_id: conversation_id(session_id, self._settings.shopdesk_secret),
        )])
        app.on_shutdown.append(self._close_sockets)

    async def start(self) -> None:
        await self._fanout.start()
        self._beat_task = asyncio.create_task(self._beat(), name="webchat:beat")

    async def close(self) -> None:
        if self._beat_task is not None:
            self._beat_task.cancel()
            await asyncio.gather(self._beat_task, return_exceptions=True)
        await self._fanout.close()

    async def _beat(self) -> None:
        """Every third of a socket entry's life: renews this process's socket entries (a crashed
        process's run out by themselves) and tells the desk whose web chat is still open."""
        every = self._limits.socket_ttl_seconds / 3

        async def beat() -> None:
            await self._limits.renew(list(self._entries.values()))
            await self._parts.intake.present(list(self._sockets))

        # No longer waits after a failure: a beat that came too late would let every open chat expire.
        await periodic("web chat beat", every, beat, start_after=every, backoff=Backoff(every, every))

    async def route(self, conversation_id: str) -> Route:
        return Route(conversation_id, ALWAYS_OPEN, self)

    def sends_outside_window(self, message: Outbound) -> bool:
        return True

    # -- out ------------------------------------------------------------------------------

    async def send(self, route: Route, messages: list[Outbound]) -> None:
        conversation_id = route.conversation_id
        for message in messages:
            if message.buttons:  # still clickable after a reload: see `history`
                await self._redis.set(keys.buttons(conversation_id), json.dumps(message_frame(message)), ex=OFFER_SECONDS)
            await self._publish(conversation_id, message_frame(message))

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:
        await self._publish(conversation_id, {"type": "typing", "agent": agent_id})

    async def _publish(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """To this process's sockets at once, and through the fan-out to every other process's."""
        await self._to_sockets(conversation_id, frame)
        await self._fanout.publish(json.dumps(
            {"origin": self._origin, "conversation_id": conversation_id, "frame": frame},
        ))

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
                    self._detach(conversation_id, ws)

    async def _close_sockets(self, _app: web.Application) -> None:
        """On shutdown: say goodbye to the browsers (they reconnect to another process)."""
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    # -- in -------------------------------------------------------------------------------

    async def history(self, conversation_id: str) -> list[dict[str, Any]]:
        """The transcript, with the buttons of the last message when they are still on offer."""
        lines = await self._parts.transcript.history(conversation_id)
        offer = await self._redis.get(keys.buttons(conversation_id))
        if offer and lines and lines[-1]["sender"] != "customer":
            offered = json.loads(offer)
            if (offered.get("text") or "") == lines[-1]["text"] or not offered.get("text"):
                lines[-1]["buttons"] = offered["buttons"]
        return lines

    async def _pressed(self, conversation_id: str, text: str) -> Button | None:
        """The offered button whose payload `text` is, if it is one of them (the intake lets
        only such a payload reach the bot as an intent: bot/typed_intents.py)."""
        offer = await self._redis.get(keys.buttons(conversation_id))
        if offer is None:
            return None
        return next((Button(b["title"], b["payload"]) for b in json.loads(offer)["buttons"] if b["payload"] == text), None)

    def _attach(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        self._sockets[conversation_id].add(ws)

    def _detach(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[conversation_id]

    async def _refuse_socket(self, ws: web.WebSocketResponse, refused: Refused) -> None:
        """A limit of the whole address: say so, and close (the widget reconnects slowly)."""
        self._parts.metrics.errors.labels(f"rejected_{refused.reason}").inc()
        log.info("webchat socket refused reason=%s", refused.reason)
        await ws.send_json(error_frame(refused.reason, refused.detail, refused.text))
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=refused.reason.encode())

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        who = await self._limits.pseudonym(client_address(request, self._trusted))
        try:  # the language of a refusal before the hello: the browser's
            entry = await self._limits.open_socket(who, language_tag(request.headers.get("Accept-Language")))
        except Refused as refused:
            await self._refuse_socket(ws, refused)
            return ws
        self._entries[ws] = (who, entry)
        try:
            await self._converse(ws, who)
        finally:
            self._entries.pop(ws, None)
            with contextlib.suppress(RedisError):  # else the entry runs out by itself
                await self._limits.close_socket(who, entry)
        return ws

    async def _converse(self, ws: web.WebSocketResponse, who: str) -> None:
        cid: str | None = None
        language: str | None = None
        rate = SocketRate(self._settings.rate_limit_per_minute)
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
                        new_id = conversation_id(frame.get("session_id"), self._settings.shopdesk_secret)
                    except InvalidSessionId as exc:
                        await ws.send_json(error_frame("bad_session_id", str(exc)))
                        continue
                    said = language_tag(frame.get("language"))
                    if not await self._parts.transcript.history(new_id, limit=1):  # a new conversation
                        try:
                            await self._limits.new_conversation(who, new_id, said)
                        except Refused as refused:
                            await self._refuse_socket(ws, refused)
                            break
                    if cid is not None:
                        self._detach(cid, ws)
                    cid, language = new_id, said
                    self._attach(cid, ws)  # before the history is read: no reply falls between them
                    await ws.send_json({"type": "history", "messages": await self.history(cid),
                                        "max_chars": self.max_chars})
                    log.debug("webchat hello conversation=%s", cid)
                elif kind == "typing":
                    if cid is not None:
                        await self._parts.intake.typing(cid)
                elif kind == "message":
                    if cid is None:
                        await ws.send_json(error_frame("hello_first", "send a hello frame with your session_id first"))
                        continue
                    if rate.over():  # the per-conversation limit, for the socket: new session ids do not reset it
                        self._parts.metrics.errors.labels("rejected_rate_limited").inc()
                        client_id = frame.get("client_id")
                        await ws.send_json(error_frame(
                            "rate_limited", f"more than {rate.per_minute} messages a minute on this connection",
                            texts.text("rate_limited", language),
                            **({"client_id": client_id} if isinstance(client_id, str) else {}),
                        ))
                        continue
                    await self._customer_message(ws, cid, language, frame, who)
                else:
                    await ws.send_json(error_frame("unknown_type", f"frame type {kind!r} is not one of hello, message, typing"))
        finally:
            if cid is not None:
                self._detach(cid, ws)

    async def _customer_message(
        self, ws: web.WebSocketResponse, cid: str, language: str | None, frame: dict[str, Any], who: str,
    ) -> None:
        text, client_id = frame.get("text"), frame.get("client_id")
        if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
            await ws.send_json(error_frame("malformed", "client_id must be a string of 1-64 characters"))
            return
        ids = {"client_id": client_id} if client_id else {}
        if not isinstance(text, str) or not text.strip():
            await ws.send_json(error_frame("malformed", "a message frame needs a non-empty string 'text'", **ids))
            return
        try:
            pressed = await self._pressed(cid, text.strip())
            # Taken, the message uses up what was on offer (the intake removes it).
            taken = await self._parts.intake.take(Inbound(
                conversation_id=cid, channel=self.family, text=text.strip(), language=language,
                external_id=client_id, shown=pressed.title if pressed else None, address=who,
            ), pressed)
        except Refused as refused:
            await ws.send_json(error_frame(refused.reason, refused.detail, refused.text, **ids))
            return
        except Exception as exc:
            # Not taken: close without an ack, so the widget keeps the message pending and
            # sends it again on reconnect (the intake kept no dedup marker for it).
            self._parts.metrics.errors.labels("webchat_take").inc()
            log.error("message not taken, the widget will resend it conversation=%s: %s", cid, type(exc).__name__)
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"message not taken, send it again")
            return
        await ws.send_json({"type": "ack", "client_id": client_id, **({} if taken else {"duplicate": True})})


def build(settings: Settings, parts: ChannelParts) -> list[WebChat]:
    return [WebChat(settings, parts)]
