"""WhatsApp through Twilio: the webhook in, the official twilio client out.

In: `POST /webhooks/twilio/whatsapp` with Twilio's form fields. The `X-Twilio-Signature` is
checked with twilio's RequestValidator against PUBLIC_URL + path (403 when missing or wrong,
nothing processed), malformed forms get 400 with the reason, a MessageSid seen before is
acknowledged and dropped (Redis SET NX with a TTL; released again when taking the message
fails, so Twilio's retry of the 500 is processed). The answer is always an empty TwiML
`<Response/>` right away; the bot's replies go out asynchronously.
STOP / Abmelden opts the number out: nothing is sent until the customer writes again.
A reply "2" or a button's title stands for the payload of the buttons offered last.

Out: `client.messages.create_async` through twilio's AsyncTwilioHttpClient, with
`https://api.twilio.com` replaced by TWILIO_API_BASE. Buttons become a numbered list ("1) …"),
texts over 1,600 characters are split at paragraph, line or sentence boundaries. A send that
fails transiently (network, timeout, 429, 5xx) is tried again with backoff, at most
TWILIO_SEND_ATTEMPTS times within TWILIO_RETRY_SECONDS; other 4xx are final (logged with
Twilio's error code). A retry after a timeout may reach Twilio twice. Outside
WhatsApp's reply window (WHATSAPP_WINDOW_HOURS after the customer's last message) only an
approved template goes out: a message's `custom["whatsapp_template"]` (set by the desk) or
WHATSAPP_TEMPLATE_SID with the text as variable 1; without one the message is not sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import appkeys, keys
from bot.contacts import Contacts
from bot.conversations import language_of_number, whatsapp_id
from bot.limits import Rejected, check_length, customer_text
from bot.metrics import Metrics
from bot.outbound import Button, Channel, Inbound, Media, Outbound
from bot.settings import Settings

log = logging.getLogger(__name__)
# twilio's HTTP client logs every request in several INFO lines; ours logs one line per send.
_twilio_http_log = logging.getLogger(__name__ + ".twilio_http")
_twilio_http_log.setLevel(logging.WARNING)

PATH = "/webhooks/twilio/whatsapp"
TWILIO_API = "https://api.twilio.com"
MAX_CHARS = 1600
SEEN_SECONDS = 24 * 3600
BUTTONS_SECONDS = 24 * 3600
SEND_FIRST_BACKOFF = 0.5
SEND_MAX_BACKOFF = 5.0
OPT_OUT_WORDS = frozenset({"stop", "stopp", "abmelden", "unsubscribe"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# -- out ------------------------------------------------------------------------------------

def numbered(message: Outbound) -> str:
    """A message as WhatsApp text: buttons become "1) title" lines under the text."""
    lines = [message.text] if message.text else []
    lines += [f"{i}) {b.title}" for i, b in enumerate(message.buttons, start=1)]
    return "\n".join(lines)


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def split_message(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces of at most `limit` characters, cut at the last paragraph, line, sentence or word
    boundary that fits (a single word longer than the limit is cut hard)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = 0
        for pattern in _BREAKS:
            ends = [m.start() for m in pattern.finditer(window) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1]
                break
        if cut == 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


class _RewritingHttpClient(AsyncTwilioHttpClient):
    """twilio's async HTTP client, sending every `https://api.twilio.com` call to `api_base`."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_twilio_http_log)
        self._api_base = api_base.rstrip("/")

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        if url.startswith(TWILIO_API):
            url = self._api_base + url[len(TWILIO_API):]
        return await super().request(method, url, *args, **kwargs)


class WhatsAppSender:
    """The WhatsApp `ChannelSender`: the Delivery calls it after the transcript is written."""

    def __init__(self, settings: Settings, contacts: Contacts, redis: Redis, metrics: Metrics) -> None:
        self._settings = settings
        self._contacts = contacts
        self._redis = redis
        self._metrics = metrics
        self._http: _RewritingHttpClient | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        self._http = _RewritingHttpClient(self._settings.twilio_api_base, timeout=15)
        self._client = Client(self._settings.twilio_account_sid, self._settings.twilio_auth_token, http_client=self._http)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def typing(self, conversation_id: str) -> None:
        """WhatsApp through Twilio has no typing indicator for free-form replies."""

    async def send(self, conversation_id: str, messages: list[Outbound]) -> None:
        if self._client is None:
            raise RuntimeError("WhatsAppSender.start() was not awaited (the app's cleanup_ctx starts it)")
        contact = await self._contacts.get(conversation_id)
        if contact is None:
            log.warning("no WhatsApp contact conversation=%s; not sent", conversation_id)
            return
        if contact.opted_out:
            log.info("opted out, not sent conversation=%s messages=%d", conversation_id, len(messages))
            return
        outside_window = self._outside_window(contact.last_inbound_at)
        for message in messages:
            if message.buttons:
                await self._redis.set(
                    keys.buttons(conversation_id),
                    json.dumps([[b.title, b.payload] for b in message.buttons]), ex=BUTTONS_SECONDS,
                )
            body = numbered(message)
            template = (message.custom or {}).get("whatsapp_template")
            if template is None and outside_window and body:
                if not self._settings.whatsapp_template_sid:
                    self._metrics.errors.labels("whatsapp_window").inc()
                    log.warning("outside the WhatsApp window and no WHATSAPP_TEMPLATE_SID; not sent conversation=%s", conversation_id)
                    continue
                template = {"content_sid": self._settings.whatsapp_template_sid, "variables": {"1": body}}
            if template is not None:
                await self._create(
                    conversation_id, to=contact.address, content_sid=template["content_sid"],
                    content_variables=json.dumps(template.get("variables") or {}),
                )
                continue
            for piece in split_message(body):
                await self._create(conversation_id, to=contact.address, body=piece)

    def _outside_window(self, last_inbound_at: dt.datetime | None) -> bool:
        if last_inbound_at is None:
            return False
        age = dt.datetime.now(dt.timezone.utc) - last_inbound_at
        return age > dt.timedelta(hours=self._settings.whatsapp_window_hours)

    async def _create(self, conversation_id: str, **fields: str) -> None:
        assert self._client is not None
        deadline = time.monotonic() + self._settings.twilio_retry_seconds
        backoff = SEND_FIRST_BACKOFF
        attempt = 0
        while True:
            attempt += 1
            try:
                sent = await self._client.messages.create_async(from_=self._settings.twilio_whatsapp_from, **fields)
            except (TwilioException, OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                # Status and Twilio's code only: the exception's message may hold the number.
                status, code = getattr(exc, "status", None), getattr(exc, "code", None)
                remaining = deadline - time.monotonic()
                if not transient(exc) or attempt >= self._settings.twilio_send_attempts or remaining <= 0:
                    self._metrics.errors.labels("twilio").inc()
                    log.error("twilio send failed conversation=%s attempts=%d status=%s code=%s error=%s",
                              conversation_id, attempt, status, code, type(exc).__name__)
                    return
                log.warning("twilio send failed conversation=%s attempt=%d status=%s code=%s error=%s; retrying in %.1f s",
                            conversation_id, attempt, status, code, type(exc).__name__, min(backoff, remaining))
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, SEND_MAX_BACKOFF)
                continue
            log.info("twilio sent conversation=%s sid=%s attempts=%d", conversation_id, sent.sid, attempt)
            return


def transient(exc: BaseException) -> bool:
    """Worth another try: network trouble, Twilio's rate limit or its server errors; not a
    refused request (bad number, template, auth) nor an answer the client could not read."""
    if isinstance(exc, TwilioRestException):
        return exc.status == 429 or exc.status >= 500
    return not isinstance(exc, TwilioException)


# -- in -------------------------------------------------------------------------------------

async def _button_for_reply(redis: Redis, conversation_id: str, text: str) -> Button | None:
    """The offered button that "2" or "Versand" names, if any."""
    raw = await redis.get(keys.buttons(conversation_id))
    if raw is None:
        return None
    offered = [Button(title, payload) for title, payload in json.loads(raw)]
    answer = text.strip().rstrip(".)").strip()
    chosen = None
    if answer.isdigit() and 1 <= int(answer) <= len(offered):
        chosen = offered[int(answer) - 1]
    else:
        chosen = next((b for b in offered if b.title.strip().casefold() == answer.casefold()), None)
    return chosen


def _shown(body: str, button: Button | None) -> str | None:
    """What the transcript keeps of a button reply: "2 (Versand)", so the agent reads the choice."""
    if button is None:
        return None
    typed = body.strip()
    return button.title if typed.casefold() == button.title.strip().casefold() else f"{typed} ({button.title})"


def _media(form: Any) -> tuple[Media, ...]:
    raw = form.get("NumMedia", "0") or "0"
    if not raw.isdigit() or int(raw) > 10:
        raise Rejected("malformed", "NumMedia must be a whole number from 0 to 10")
    media = []
    for i in range(int(raw)):
        url = form.get(f"MediaUrl{i}")
        if not url:
            raise Rejected("malformed", f"NumMedia is {raw} but MediaUrl{i} is missing")
        media.append(Media(url=url, content_type=form.get(f"MediaContentType{i}", "application/octet-stream")))
    return tuple(media)


def _twiml(status: int = 200) -> web.Response:
    return web.Response(text=EMPTY_TWIML, content_type="text/xml", status=status)


async def webhook(request: web.Request) -> web.Response:
    app = request.app
    settings, redis, metrics = app[appkeys.SETTINGS], app[appkeys.REDIS], app[appkeys.METRICS]
    form = await request.post()
    signature = request.headers.get("X-Twilio-Signature")
    url = settings.public_url + request.path_qs
    if not signature or not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        metrics.errors.labels("rejected_signature").inc()
        log.warning("webhook refused: %s X-Twilio-Signature", "missing" if not signature else "wrong")
        raise web.HTTPForbidden(text="X-Twilio-Signature is missing or does not match PUBLIC_URL + path and the auth token")

    try:
        sender, sid, body = form.get("From"), form.get("MessageSid"), form.get("Body", "")
        if not isinstance(sender, str) or not sender.strip():
            raise Rejected("malformed", "the form has no From")
        if not isinstance(sid, str) or not sid.strip() or len(sid) > 64:
            raise Rejected("malformed", "the form has no MessageSid")
        if not isinstance(body, str):
            raise Rejected("malformed", "Body must be text")
        media = _media(form)
        if not body.strip() and not media:
            raise Rejected("malformed", "the message has neither Body nor media")
    except Rejected as rejected:
        metrics.errors.labels("rejected_malformed").inc()
        raise web.HTTPBadRequest(text=f"{rejected.reason}: {rejected.detail}") from None

    seen = keys.seen("twilio", sid)
    if not await redis.set(seen, "1", nx=True, ex=SEEN_SECONDS):
        log.info("duplicate MessageSid dropped sid=%s", sid)
        return _twiml()
    try:
        await _accept(app, sender, sid, body, media)
    except Exception as exc:
        # Twilio retries a webhook that got a 5xx: the retry must not be taken for a duplicate.
        try:
            await redis.delete(seen)
        except RedisError:
            log.warning("could not release the MessageSid after a failure sid=%s", sid)
        metrics.errors.labels("webhook").inc()
        # Only the type: database errors carry the SQL parameters (the number, the text).
        log.error("webhook failed, Twilio will retry sid=%s error=%s", sid, type(exc).__name__)
        raise web.HTTPInternalServerError(text="the message could not be taken; retry later") from None
    return _twiml()


async def _accept(app: web.Application, sender: str, sid: str, body: str, media: tuple[Media, ...]) -> None:
    """A new message: the contact, then opt-out, limits, and the router's inbox."""
    settings, redis, metrics = app[appkeys.SETTINGS], app[appkeys.REDIS], app[appkeys.METRICS]
    conversation_id = whatsapp_id(sender)
    language = language_of_number(sender)
    opting_out = body.strip().casefold() in OPT_OUT_WORDS
    await app[appkeys.CONTACTS].saw_inbound(conversation_id, Channel.whatsapp.value, sender, opted_out=opting_out)
    if opting_out:
        await app[appkeys.TRANSCRIPT].record(conversation_id, Channel.whatsapp.value, "customer", body.strip())
        log.info("opted out conversation=%s", conversation_id)
        return

    try:
        check_length(body, settings.max_message_chars)
        limiter = app[appkeys.RATE_LIMITER]
        count = await limiter.hit(conversation_id)
        if limiter.over(count):
            raise Rejected("rate_limited", f"more than {limiter.per_minute} messages a minute")
    except Rejected as rejected:
        metrics.errors.labels(f"rejected_{rejected.reason}").inc()
        log.info("whatsapp rejected conversation=%s reason=%s", conversation_id, rejected.reason)
        # Say it once per minute, not once per flooding message.
        if rejected.reason != "rate_limited" or count == limiter.per_minute + 1:
            await app[appkeys.DELIVERY].deliver(conversation_id, [Outbound(
                text=customer_text(rejected.reason, language, limit=settings.max_message_chars),
            )])
        return

    button = await _button_for_reply(redis, conversation_id, body)
    await app[appkeys.ROUTER].submit(Inbound(
        conversation_id=conversation_id, channel=Channel.whatsapp, text=button.payload if button else body.strip(),
        language=language, media=media, external_id=sid, shown=_shown(body, button),
    ))
    if button:
        # Only now: a webhook that failed before this point is retried by Twilio and must
        # still find the offer.
        await redis.delete(keys.buttons(conversation_id))


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, webhook)
