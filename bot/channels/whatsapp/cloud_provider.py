"""WhatsApp through Meta's Cloud API, for shops connected to Meta directly.

In: `GET /webhooks/whatsapp/cloud` answers Meta's verification (`hub.mode=subscribe` and
`hub.verify_token` equal to WHATSAPP_CLOUD_VERIFY_TOKEN → `hub.challenge` as plain text, else
403). `POST /webhooks/whatsapp/cloud` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw
body with WHATSAPP_CLOUD_APP_SECRET, compared in constant time; bad or missing → 403, nothing
processed; no secret configured → 503), then takes `entry[].changes[].value.messages[]`: text,
interactive `button_reply` / `list_reply` (a choice only while it is on offer), and images
(their media id). A message id taken before is dropped (the intake's dedup). `statuses`
events only log a failed delivery. The answer is 200 at once; replies go out asynchronously.

Out: `POST {WHATSAPP_CLOUD_API_BASE}/v21.0/{WHATSAPP_CLOUD_PHONE_NUMBER_ID}/messages` with
`Authorization: Bearer {WHATSAPP_CLOUD_TOKEN}`: `text`, and choices as `interactive` reply
buttons (up to 3) or a list (up to 10 rows), so a star rating is a tap. Outside the reply
window the template WHATSAPP_CLOUD_TEMPLATE goes out instead. What WhatsApp allows is the rule
of bot/channels/whatsapp/rules.py, shared with the Twilio provider.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import ChannelParts, Malformed, send_with_retries, server_error
from bot.channels.whatsapp import rules as whatsapp
from bot.channels.whatsapp.settings import WhatsAppSettings
from core import texts
from core.contract import Button, Media, Outbound, Route, WindowClosed

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp/cloud"
API_VERSION = "v21.0"
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
BUTTON_TITLE_CHARS = 20
ROW_TITLE_CHARS = 24
INTERACTIVE_BODY_CHARS = 1024


class CloudApiError(Exception):
    def __init__(self, status: int, code: object) -> None:
        super().__init__(f"HTTP {status}, code {code}")
        self.status = status
        self.code = code


def _transient(exc: Exception) -> bool:
    if isinstance(exc, CloudApiError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (OSError, aiohttp.ClientError, asyncio.TimeoutError))


def _described(exc: Exception) -> str:
    if isinstance(exc, CloudApiError):
        return f"status={exc.status} code={exc.code}"
    return f"error={type(exc).__name__}"


def signature_of(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def interactive(message: Outbound, language: str) -> dict[str, Any]:
    """Choices as Meta shows them: reply buttons when they fit, else a list."""
    body = {"text": (message.text or "…")[:INTERACTIVE_BODY_CHARS]}
    buttons = message.buttons
    if len(buttons) <= MAX_REPLY_BUTTONS and all(len(b.title) <= BUTTON_TITLE_CHARS for b in buttons):
        return {"type": "button", "body": body, "action": {"buttons": [
            {"type": "reply", "reply": {"id": b.payload, "title": b.title}} for b in buttons
        ]}}
    return {"type": "list", "body": body, "action": {
        "button": texts.text("choose", language),
        "sections": [{"rows": [{"id": b.payload, "title": b.title[:ROW_TITLE_CHARS]} for b in buttons[:MAX_LIST_ROWS]]}],
    }}


def _messages(payload: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `messages` and `statuses` of a webhook payload (Malformed when it has not Meta's shape)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise Malformed("the body has no entry list")
    messages: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    for entry in payload["entry"]:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            messages += [m for m in value.get("messages") or [] if isinstance(m, dict)]
            statuses += [s for s in value.get("statuses") or [] if isinstance(s, dict)]
    return messages, statuses


class CloudWhatsApp(whatsapp.WhatsAppProvider):
    """The `Channel` unit of WhatsApp through Meta's Cloud API."""

    name = "whatsapp_cloud"

    def __init__(self, own: WhatsAppSettings, parts: ChannelParts, customers: whatsapp.WhatsAppCustomers) -> None:
        super().__init__(own, parts, customers)
        self._session: aiohttp.ClientSession | None = None
        self._url = f"{own.whatsapp_cloud_api_base}/{API_VERSION}/{own.whatsapp_cloud_phone_number_id}/messages"

    def has_template(self) -> bool:
        return bool(self._own.whatsapp_cloud_template)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.verify)
        app.router.add_post(PATH, self.webhook)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- out ------------------------------------------------------------------------------

    async def send(self, route: Route, messages: list[Outbound]) -> None:
        number = self.sendable(route)
        if number is None:
            return
        conversation_id, to = route.conversation_id, number.removeprefix("+")
        language = whatsapp.language_of_number(number) or "en"
        for message in messages:
            if not self.window_open(route):
                body = whatsapp.numbered(message)
                if not self._own.whatsapp_cloud_template:  # the window ran out after the route was read
                    raise WindowClosed(route.window.why)
                await self._post(conversation_id, {"to": to, "type": "template", "template": {
                    "name": self._own.whatsapp_cloud_template, "language": {"code": language},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": body}]}],
                }})
                continue
            if message.buttons:
                await self._customers.offer(conversation_id, message.buttons)
                await self._post(conversation_id, {"to": to, "type": "interactive",
                                                   "interactive": interactive(message, language)})
                continue
            for piece in whatsapp.split_message(message.text or ""):
                await self._post(conversation_id, {"to": to, "type": "text", "text": {"body": piece}})

    async def _post(self, conversation_id: str, message: dict[str, Any]) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("CloudWhatsApp.start() was not awaited (the app's cleanup_ctx starts it)")
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        headers = {"Authorization": f"Bearer {self._own.whatsapp_cloud_token}"}

        async def post() -> str:
            async with session.post(self._url, json=body, headers=headers) as response:
                data = await response.json(content_type=None)
                if response.status >= 300:
                    error = data.get("error") if isinstance(data, dict) else None
                    raise CloudApiError(response.status, error.get("code") if isinstance(error, dict) else None)
                return str(((data.get("messages") or [{}])[0]).get("id", ""))

        sent = await send_with_retries(
            post, _transient, _described, self._own.whatsapp_send_attempts, self._own.whatsapp_retry_seconds,
            conversation_id, self._parts.metrics, "whatsapp_cloud",
        )
        log.info("whatsapp cloud sent conversation=%s id=%s", conversation_id, sent)

    # -- in -------------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        expected = self._own.whatsapp_cloud_verify_token
        token = request.query.get("hub.verify_token", "")
        if request.query.get("hub.mode") != "subscribe" or not expected or not hmac.compare_digest(token, expected):
            log.warning("whatsapp cloud verification refused")
            raise web.HTTPForbidden(text="hub.verify_token does not match WHATSAPP_CLOUD_VERIFY_TOKEN")
        return web.Response(text=request.query.get("hub.challenge", ""), content_type="text/plain")

    async def webhook(self, request: web.Request) -> web.Response:
        secret = self._own.whatsapp_cloud_app_secret
        if not secret:
            log.error("whatsapp cloud webhook refused: WHATSAPP_CLOUD_APP_SECRET is not set")
            raise web.HTTPServiceUnavailable(text="WHATSAPP_CLOUD_APP_SECRET is not configured")
        raw = await request.read()
        signature = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(signature, signature_of(raw, secret)):
            self._parts.metrics.errors.labels("rejected_signature").inc()
            log.warning("whatsapp cloud webhook refused: %s X-Hub-Signature-256", "missing" if not signature else "wrong")
            raise web.HTTPForbidden(text="X-Hub-Signature-256 is missing or is not the HMAC of the body")
        try:
            messages, statuses = _messages(json.loads(raw))
        except (ValueError, Malformed) as exc:
            self._parts.metrics.errors.labels("rejected_malformed").inc()
            raise web.HTTPBadRequest(text=f"malformed: {exc}") from None
        for status in statuses:
            if status.get("status") == "failed":
                codes = [e.get("code") for e in status.get("errors") or [] if isinstance(e, dict)]
                self._parts.metrics.errors.labels("whatsapp_cloud_delivery").inc()
                log.warning("whatsapp cloud delivery failed message=%s codes=%s", status.get("id"), codes)
        try:
            for message in messages:
                await self._take(message)
        except Exception as exc:
            raise server_error(self._parts.metrics, "whatsapp_cloud_webhook", exc) from None
        return web.Response(text="ok")

    async def _take(self, message: dict[str, Any]) -> None:
        number, message_id, kind = message.get("from"), message.get("id"), message.get("type")
        if not isinstance(number, str) or not number.strip() or not isinstance(message_id, str) or not message_id:
            log.warning("whatsapp cloud message without from or id ignored")
            return
        body, choice = "", None
        media: tuple[Media, ...] = ()
        if kind == "text":
            body = str((message.get("text") or {}).get("body") or "")
        elif kind == "interactive":
            reply = message.get("interactive") or {}
            picked = reply.get("button_reply") or reply.get("list_reply") or {}
            body = str(picked.get("title") or "")
            choice = Button(title=body, payload=str(picked.get("id") or ""))
        elif kind == "image":
            image = message.get("image") or {}
            body = str(image.get("caption") or "")
            media = (Media(url=f"whatsapp-media:{image.get('id', '')}", content_type=str(image.get("mime_type") or "image/jpeg")),)
        else:
            log.info("whatsapp cloud message of type %s ignored", kind)
            return
        if not body.strip() and not media:
            return
        await self._customers.receive(self.name, message_id, number, body, media, choice=choice)
