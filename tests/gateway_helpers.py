"""Shared pieces of the gateway tests: the Twilio stand-in, an in-process gateway on a free port,
signed webhooks, a web chat client, reading the stand-in and the transcript (the fixtures that
start them are in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import stack  # scripts/ is on sys.path through tests/conftest.py
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot import keys
from bot.app import Gateway as GatewayParts
from bot.app import build_gateway
from bot.channels.folder import ChannelFolder
from bot.channels.registry import FOLDERS
from bot.channels.webchat import channel as webchat
from bot.channels.whatsapp import rules as whatsapp
from bot.channels.whatsapp.cloud_provider import signature_of
from bot.channels.whatsapp.settings import WhatsAppSettings
from bot.settings import Settings
from db.engine import create_engine, session_factory
from db.models import Contact, Feedback, Message

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "gateway-test-token"
AGENT_TOKEN = "anna-test-token-0123456789abcdef"
CLOUD_APP_SECRET = "cloud-app-secret-" + "7" * 16
CLOUD_TOKEN = "EAAG" + "c" * 40
CLOUD_PHONE_NUMBER_ID = "106540352242922"
CLOUD_VERIFY_TOKEN = "shopdesk-verify-" + "v" * 12
# SHOPDESK_SECRET of every gateway, stand-in and `make run` the tests start: the key of the
# conversation ids webchat_id() and whatsapp_id() compute.
TEST_SECRET = "shopdesk-test-secret-" + "5" * 16
# Attachments the test gateways store (customer data in production: never in the work tree).
TEST_ATTACHMENTS = Path(tempfile.gettempdir()) / f"shopdesk-test-attachments-{os.getpid()}"
T = TypeVar("T")


# Every test connects from 127.0.0.1 to one Redis: the per-address limits and queue caps would add up
# across the whole run. Their own tests (tests/test_trust_limits.py, tests/test_queue_caps.py) set them.
UNLIMITED_ADDRESS = {
    "NEW_CONVERSATIONS_PER_MINUTE": "1000000", "WEBCHAT_SOCKETS_PER_ADDRESS": "1000000",
    "MESSAGES_PER_ADDRESS_PER_MINUTE": "1000000", "QUEUE_MAX_LENGTH": "1000000", "QUEUE_MAX_PER_ADDRESS": "1000000",
}


def gateway_env(
    redis_url: str, database_url: str, rasa_url: str, twilio_url: str, cloud_url: str = "http://127.0.0.1:9", **extra: str,
) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url, "DATABASE_URL": database_url, "RASA_URL": rasa_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": twilio_url,
        "WHATSAPP_CLOUD_APP_SECRET": CLOUD_APP_SECRET, "WHATSAPP_CLOUD_TOKEN": CLOUD_TOKEN,
        "WHATSAPP_CLOUD_PHONE_NUMBER_ID": CLOUD_PHONE_NUMBER_ID, "WHATSAPP_CLOUD_VERIFY_TOKEN": CLOUD_VERIFY_TOKEN,
        "WHATSAPP_CLOUD_API_BASE": cloud_url,
        "AGENT_TOKENS": f"anna:{AGENT_TOKEN}", "BUSINESS_HOURS": "24/7",
        "ATTACHMENT_DIR": str(TEST_ATTACHMENTS), "SHOPDESK_SECRET": TEST_SECRET, **UNLIMITED_ADDRESS, **extra,
    }


@dataclass
class Gateway:
    url: str
    settings: Settings
    parts: GatewayParts | None = None  # the wired gateway when it runs in this process

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/webchat/ws"

    def signature(self, form: dict[str, str], path: str = "/webhooks/twilio/whatsapp") -> str:
        token = WhatsAppSettings.from_env(self.settings.env).twilio_auth_token
        return RequestValidator(token).compute_signature(self.settings.public_url + path, form)

    async def webhook(self, form: dict[str, str], signature: str | None = "sign") -> tuple[int, str]:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = self.signature(form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}/webhooks/twilio/whatsapp", data=form, headers=headers) as response:
                return response.status, await response.text()

    async def cloud_webhook(self, payload: dict[str, Any], signature: str | None = "sign") -> tuple[int, str]:
        """POSTs a Cloud API webhook as Meta does: the raw JSON body signed with the app secret."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = signature_of(body, CLOUD_APP_SECRET)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}/webhooks/whatsapp/cloud", data=body, headers=headers) as response:
                return response.status, await response.text()


def with_env(settings: Settings, **env: str) -> Settings:
    """The settings with these environment variables changed, as the channels read them."""
    return replace(settings, env={**settings.env, **env})


@asynccontextmanager
async def running_gateway(
    settings: Settings, port: int | None = None, folders: Sequence[ChannelFolder] = FOLDERS,
) -> AsyncIterator[Gateway]:
    """The real gateway application on a loopback port (a free one unless given), in this
    process, with the channels of `folders` (a test adds one of its own there)."""
    port = port or stack.free_port()
    settings = replace(settings, gateway_port=port, public_url=f"http://127.0.0.1:{port}")
    parts = build_gateway(settings, folders)
    server = TestServer(parts.app, host="127.0.0.1", port=port)
    try:
        await server.start_server()
        yield Gateway(url=f"http://127.0.0.1:{port}", settings=settings, parts=parts)
    finally:
        await server.close()


@contextmanager
def inserts_fail(path: Path, table: str = "messages") -> Iterator[None]:
    """Every insert into `table` of this SQLite file fails (as on a failing disk) until the block ends."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TRIGGER failing_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk failing'); END")
    try:
        yield
    finally:
        with sqlite3.connect(path) as db:
            db.execute(f"DROP TRIGGER IF EXISTS failing_{table}")


async def standin_failures(twilio_url: str, to: str, **spec: int) -> dict[str, int]:
    """With `spec` (count, status, code): the stand-in fails the next sends to `to`; the state either way."""
    async with aiohttp.ClientSession(headers={"Authorization": basic(ACCOUNT_SID, AUTH_TOKEN)}) as session:
        url = f"{twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/StandinFailures.json"
        if spec:
            async with session.post(url, json={"to": to, **spec}) as response:
                assert response.status == 200, await response.text()
        async with session.get(url, params={"to": to}) as response:
            assert response.status == 200, await response.text()
            return await response.json()


# -- WhatsApp -----------------------------------------------------------------------------------

def new_number(country: str = "+49") -> str:
    return f"whatsapp:{country}15{secrets.randbelow(10**8):08d}"


def whatsapp_form(sender: str, body: str, **fields: str) -> dict[str, str]:
    return {
        "From": sender, "To": "whatsapp:+14155238886", "Body": body, "NumMedia": "0",
        "MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, **fields,
    }


async def sent_to(twilio_url: str, to: str) -> list[str]:
    """Bodies the stand-in received for `to`, oldest first."""
    return [m["body"] for m in await messages_to(twilio_url, to)]


async def messages_to(twilio_url: str, to: str) -> list[dict[str, Any]]:
    """The message resources the stand-in recorded for `to`, oldest first."""
    async with aiohttp.ClientSession(headers={"Authorization": basic(ACCOUNT_SID, AUTH_TOKEN)}) as session:
        async with session.get(f"{twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", params={"To": to}) as response:
            assert response.status == 200, await response.text()
            listing = await response.json()
    return list(reversed(listing["messages"]))


# -- WhatsApp through Meta's Cloud API ---------------------------------------------------------------

def cloud_message(number: str, message_id: str | None = None, **content: Any) -> dict[str, Any]:
    """A webhook payload carrying one message from `number` ("whatsapp:+49…" or "+49…"), e.g.
    `cloud_message(n, type="text", text={"body": "Hallo"})`."""
    wa_id = number.removeprefix("whatsapp:").removeprefix("+")
    message = {"from": wa_id, "id": message_id or "wamid." + secrets.token_hex(12), "timestamp": str(int(time.time())), **content}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "4930123456", "phone_number_id": CLOUD_PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Kundin"}, "wa_id": wa_id}], "messages": [message],
    }}]}]}


def cloud_text(number: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    return cloud_message(number, message_id, type="text", text={"body": text})


async def cloud_sent_to(cloud_url: str, number: str) -> list[dict[str, Any]]:
    """The messages the Graph API stand-in recorded for `number`, oldest first."""
    to = number.removeprefix("whatsapp:").removeprefix("+")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {CLOUD_TOKEN}"}) as session:
        async with session.get(f"{cloud_url}/v21.0/{CLOUD_PHONE_NUMBER_ID}/messages", params={"to": to}) as response:
            assert response.status == 200, await response.text()
            return list(reversed((await response.json())["data"]))


def cloud_texts(sent: list[dict[str, Any]]) -> list[str]:
    """What the customer reads of each sent message: its text, or the body of its choices."""
    return [m["text"]["body"] if m["type"] == "text" else m.get("interactive", {}).get("body", {}).get("text", "")
            for m in sent]


# -- web chat -----------------------------------------------------------------------------------

def new_session_id() -> str:
    return secrets.token_urlsafe(18)


def webchat_id(session_id: str) -> str:
    """The conversation id the gateway gives a web chat session (tests never build ids by hand)."""
    return webchat.conversation_id(session_id, TEST_SECRET)


def whatsapp_id(number: str) -> str:
    """The conversation id the gateway gives a WhatsApp number (both providers)."""
    return whatsapp.conversation_id(number, TEST_SECRET)


class WebchatClient:
    """A websocket speaking the widget's frames."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, ws_url: str, session_id: str | None = None, language: str = "de", headers: dict[str, str] | None = None,
    ) -> AsyncIterator[WebchatClient]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url, headers=headers) as ws:
                client = cls(session, ws)
                if session_id is not None:
                    await ws.send_json({"type": "hello", "session_id": session_id, "language": language})
                yield client

    async def say(self, text: str, client_id: str | None = None) -> None:
        await self.ws.send_json({"type": "message", "text": text, "client_id": client_id or secrets.token_hex(6)})

    async def ask(self, text: str, client_id: str | None = None) -> None:
        """Says it and waits for the gateway's acknowledgement (the message is in the inbox)."""
        await self.say(text, client_id)
        await self.next("ack")

    async def next(self, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The next frame of this type (frames of other types are kept in `frames`)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind!r} frame within {timeout} s; got {self.frames[-5:]}")
            try:
                frame = await self.ws.receive_json(timeout=remaining)
            except TimeoutError:
                continue
            self.frames.append(frame)
            if frame.get("type") == kind:
                return frame

    async def messages_until_quiet(self, quiet: float = 1.5, timeout: float = 30) -> list[dict[str, Any]]:
        """The message frames that arrive until nothing came for `quiet` seconds (at least one)."""
        got = [await self.next("message", timeout)]
        while True:
            try:
                got.append(await self.next("message", quiet))
            except AssertionError:
                return got


@asynccontextmanager
async def webchat_on(settings: Settings) -> AsyncIterator[tuple[Gateway, WebchatClient, str]]:
    """A gateway on `settings` and a new web chat customer on it who has read the (empty) history:
    (gateway, chat, the conversation id)."""
    session_id = new_session_id()
    async with running_gateway(settings) as gateway, WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        yield gateway, chat, webchat_id(session_id)


# -- waiting and the database --------------------------------------------------------------------

async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 30, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(every)


async def inbox_worked(gateway: Gateway, conversation_id: str, timeout: float = 60) -> None:
    """Until the router has handled every message the gateway took for the conversation: it pops one
    from the inbox once all that it led to went out (replies, the desk's queue notice), and Redis
    drops the empty list. A duplicate or a refused request never gets into the inbox, so after this
    nothing more is sent for what was posted before."""
    redis = Redis.from_url(gateway.settings.redis_url)
    try:
        await eventually(lambda: redis.exists(keys.inbox(conversation_id)), lambda count: count == 0, timeout)
    finally:
        await redis.aclose()


async def agent_does(
    agent: aiohttp.ClientSession, gateway_url: str, conversation_id: str, action: str, body: dict[str, Any] | None = None,
) -> None:
    """`action` (claim, messages, close, ...) on the desk's API as the signed-in `agent`; the desk must take it."""
    async with agent.post(f"{gateway_url}/api/handoff/{conversation_id}/{action}", json=body) as response:
        assert response.status == 200, await response.text()


async def agent_claims_and_says(agent: aiohttp.ClientSession, gateway_url: str, conversation_id: str, text: str) -> None:
    """The agent takes the conversation and writes `text` to its customer."""
    await agent_does(agent, gateway_url, conversation_id, "claim")
    await agent_does(agent, gateway_url, conversation_id, "messages", {"text": text})


async def attempts(redis: Redis, conversation_id: str, message_id: str) -> int:
    """How often the router has tried to handle one message (its `keys.handling` hash)."""
    return int(await redis.hget(keys.handling(conversation_id, message_id), "attempts") or 0)


async def transcript(database_url: str, conversation_id: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )).all()
        return [(row.sender, row.text) for row in rows]
    finally:
        await engine.dispose()


async def feedback(database_url: str, conversation_id: str) -> list[tuple[int | None, str | None]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.scalars(select(Feedback).where(Feedback.conversation_id == conversation_id))).all()
        return [(row.rating, row.agent_id) for row in rows]
    finally:
        await engine.dispose()


async def last_wrote_hours_ago(database_url: str, conversation_id: str, hours: float) -> None:
    """Moves the customer's last message `hours` into the past (the reply window's clock)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(update(Contact).where(Contact.conversation_id == conversation_id).values(
                last_inbound_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours),
            ))
    finally:
        await engine.dispose()


async def rasa_heard(rasa_url: str, conversation_id: str, text: str) -> int:
    """How often Rasa's tracker has this customer text as a user message."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_url}/conversations/{conversation_id}/tracker") as response:
            assert response.status == 200, await response.text()
            tracker = await response.json()
    return sum(1 for e in tracker["events"] if e.get("event") == "user" and e.get("text") == text)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
