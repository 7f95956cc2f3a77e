"""WhatsApp through Twilio: the webhook in, the official twilio client out.

In: `POST /webhooks/twilio/whatsapp` with Twilio's form fields. The `X-Twilio-Signature` is
checked with twilio's RequestValidator against PUBLIC_URL + path (403 when missing or wrong,
nothing processed; 503 while TWILIO_AUTH_TOKEN is not set: there is no built-in secret), malformed forms get 400 with the reason, a MessageSid taken before is
acknowledged and dropped (the intake's dedup). The answer is always an empty TwiML
`<Response/>` right away; the bot's replies go out asynchronously.

Out: `client.messages.create_async` through twilio's AsyncTwilioHttpClient, with
`https://api.twilio.com` replaced by TWILIO_API_BASE. A send that fails transiently (network,
timeout, 429, 5xx) is tried again with backoff, at most WHATSAPP_SEND_ATTEMPTS times within
WHATSAPP_RETRY_SECONDS; other 4xx are final (logged with Twilio's error code) and raise
`DeliveryFailed`. A retry after a timeout may reach Twilio twice. What WhatsApp allows
(window, numbered choices, length) is the rule of bot/channels/whatsapp/rules.py.

Quick replies: with TWILIO_CONTENT_RATING_SID / TWILIO_CONTENT_YESNO_SID the star rating and
yes/no questions go out as those Content templates (bot/channels/whatsapp/twilio_content.py), inside the
window and outside it; a tapped button comes back as `ButtonPayload` / `ButtonText`. An agent's
attachment goes out as `MediaUrl` (the gateway's unguessable /media/ link) with the text.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import ChannelParts, Malformed, send_with_retries, server_error
from bot.channels.whatsapp import rules as whatsapp
from bot.channels.whatsapp import twilio_content as whatsapp_content
from bot.channels.whatsapp.settings import WhatsAppSettings
from bot.settings import Settings
from core.contract import Button, Media, Outbound, Route, WindowClosed

log = logging.getLogger(__name__)
# twilio's HTTP client logs every request in several INFO lines; ours logs one line per send.
_twilio_http_log = logging.getLogger(__name__ + ".twilio_http")
_twilio_http_log.setLevel(logging.WARNING)

PATH = "/webhooks/twilio/whatsapp"
TWILIO_API = "https://api.twilio.com"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class _RewritingHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio's async HTTP client, sending every `https://api.twilio.com` call to `api_base`."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_twilio_http_log)
        self._api_base = api_base.rstrip("/")

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        if url.startswith(TWILIO_API):
            url = self._api_base + url[len(TWILIO_API):]
        return await super().request(method, url, *args, **kwargs)


def transient(exc: Exception) -> bool:
    """Worth another try: network trouble, Twilio's rate limit or its server errors; not a
    refused request (bad number, template, auth) nor an answer the client could not read."""
    if isinstance(exc, TwilioRestException):
        status: int = exc.status
        return status == 429 or status >= 500
    return isinstance(exc, (OSError, aiohttp.ClientError, asyncio.TimeoutError))


def _described(exc: Exception) -> str:
    # Status and Twilio's code only: the exception's message may hold the number.
    return f"status={getattr(exc, 'status', None)} code={getattr(exc, 'code', None)} error={type(exc).__name__}"


def _media(form: Any) -> tuple[Media, ...]:
    raw = form.get("NumMedia", "0") or "0"
    if not raw.isdigit() or int(raw) > 10:
        raise Malformed("NumMedia must be a whole number from 0 to 10")
    media = []
    for i in range(int(raw)):
        url = form.get(f"MediaUrl{i}")
        if not url:
            raise Malformed(f"NumMedia is {raw} but MediaUrl{i} is missing")
        media.append(Media(url=url, content_type=form.get(f"MediaContentType{i}", "application/octet-stream")))
    return tuple(media)


def _twiml() -> web.Response:
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


class TwilioWhatsApp(whatsapp.WhatsAppProvider):
    """The `Channel` unit of WhatsApp through Twilio."""

    name = "twilio"

    def __init__(self, settings: Settings, own: WhatsAppSettings, parts: ChannelParts,
                 customers: whatsapp.WhatsAppCustomers) -> None:
        super().__init__(own, parts, customers)
        self._public_url = settings.public_url
        self._http: _RewritingHttpClient | None = None
        self._client: Client | None = None

    def has_template(self) -> bool:
        return bool(self._own.whatsapp_template_sid)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.webhook)

    async def start(self) -> None:
        self._http = _RewritingHttpClient(self._own.twilio_api_base, timeout=15)
        self._client = Client(self._own.twilio_account_sid, self._own.twilio_auth_token, http_client=self._http)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def sends_outside_window(self, message: Outbound) -> bool:
        return whatsapp_content.content_template(message, self._own) is not None

    # -- out ------------------------------------------------------------------------------

    async def send(self, route: Route, messages: list[Outbound]) -> None:
        number = self.sendable(route)
        if number is None:
            return
        conversation_id, to = route.conversation_id, "whatsapp:" + number
        for message in messages:
            if message.buttons:
                await self._customers.offer(conversation_id, message.buttons)
            body = whatsapp.numbered(message)
            quick = whatsapp_content.content_template(message, self._own)
            if quick is not None:
                await self._create(conversation_id, to=to, content_sid=str(quick["content_sid"]),
                                   content_variables=json.dumps(quick["variables"]))
                continue
            if not self.window_open(route):
                template = whatsapp.template_for(body, self._own.whatsapp_template_sid)
                if template is None:  # the window ran out after the route was read
                    raise WindowClosed(route.window.why)
                await self._create(conversation_id, to=to, content_sid=str(template["content_sid"]),
                                   content_variables=json.dumps(template["variables"]))
                continue
            attachment = (message.custom or {}).get("attachment")
            pieces = whatsapp.split_message(body)
            for index, piece in enumerate(pieces):
                if attachment and index == len(pieces) - 1:
                    await self._create(conversation_id, to=to, body=piece, media_url=[attachment["url"]])
                else:
                    await self._create(conversation_id, to=to, body=piece)

    async def _create(self, conversation_id: str, **fields: str | list[str]) -> None:
        client = self._client
        if client is None:
            raise RuntimeError("TwilioWhatsApp.start() was not awaited (the app's cleanup_ctx starts it)")
        sent = await send_with_retries(
            lambda: client.messages.create_async(from_=self._own.twilio_whatsapp_from, **fields),
            transient, _described, self._own.whatsapp_send_attempts, self._own.whatsapp_retry_seconds,
            conversation_id, self._parts.metrics, "twilio",
        )
        log.info("twilio sent conversation=%s sid=%s", conversation_id, sent.sid)

    # -- in -------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        if not self._own.twilio_auth_token:
            # No built-in secret: a webhook nobody can sign is refused, not checked against a default.
            self._parts.metrics.errors.labels("webhook_unconfigured").inc()
            log.warning("webhook refused: TWILIO_AUTH_TOKEN is not set (set it to the auth token of your Twilio account)")
            raise web.HTTPServiceUnavailable(text="TWILIO_AUTH_TOKEN is not set: the Twilio webhook cannot check signatures")
        form = await request.post()
        signature = request.headers.get("X-Twilio-Signature")
        url = self._public_url + request.path_qs
        if not signature or not RequestValidator(self._own.twilio_auth_token).validate(url, form, signature):
            self._parts.metrics.errors.labels("rejected_signature").inc()
            log.warning("webhook refused: %s X-Twilio-Signature", "missing" if not signature else "wrong")
            raise web.HTTPForbidden(text="X-Twilio-Signature is missing or does not match PUBLIC_URL + path and the auth token")
        try:
            sender, sid, body = form.get("From"), form.get("MessageSid"), form.get("Body", "")
            if not isinstance(sender, str) or not sender.strip():
                raise Malformed("the form has no From")
            if not isinstance(sid, str) or not sid.strip() or len(sid) > 64:
                raise Malformed("the form has no MessageSid")
            if not isinstance(body, str):
                raise Malformed("Body must be text")
            media = _media(form)
            if not body.strip() and not media:
                raise Malformed("the message has neither Body nor media")
        except Malformed as exc:
            self._parts.metrics.errors.labels("rejected_malformed").inc()
            raise web.HTTPBadRequest(text=f"malformed: {exc}") from None
        try:
            tapped, title = form.get("ButtonPayload"), form.get("ButtonText")
            choice = Button(str(title or tapped), tapped) if isinstance(tapped, str) and tapped else None
            await self._customers.receive(self.name, sid, sender, body, media, choice)
        except Exception as exc:
            # Twilio retries a webhook that got a 5xx; nothing of the message was taken.
            raise server_error(self._parts.metrics, "webhook", exc) from None
        return _twiml()
