"""Web chat photo upload: `POST /webchat/upload` (multipart: `session_id`, `client_id`, `file`,
optional `text` and `language`), the widget's way to send a picture.

The session id names the conversation exactly as the websocket's hello does. The photo is checked
by its bytes and size (core.attachments: images only, ATTACHMENT_MAX_MB), stored, and handed to
the intake like any customer message with the picture as media (dedup on client_id, rate limit):
it lands in the transcript, reaches the agent, and the assistant's complaint form takes it as the
complaint's photo.

Answers: 200 `{"ok": true, "attachment": {url, content_type, name}}` (`"duplicate": true` for a
client_id taken before), 400 bad_session_id/malformed, 413 too_large, 415 type, 429 rate_limited,
address_rate_limited or too_many_conversations (the limits of bot/limits.py, as on the websocket).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from aiohttp import web

from bot.channels.base import ChannelParts
from bot.limits import Refused
from bot.settings import Settings
from core.attachments import AttachmentRejected, AttachmentStore, read_upload
from core.client_address import TrustedProxies, client_address
from core.contract import LANGUAGES, Inbound, Media

log = logging.getLogger(__name__)

PATH = "/webchat/upload"
FAMILY = "webchat"
_STATUS = {"too_large": 413, "type": 415}
_TOO_FAST = ("rate_limited", "address_rate_limited")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# The widget runs on the shop's pages (another origin); no cookies are involved, the session id is in the form.
CORS = {"Access-Control-Allow-Origin": "*"}


def _answer(status: int, reason: str, detail: str, text: str | None = None) -> web.Response:
    """A refusal; `text` tells the customer (in their language) what happened and what to do."""
    return web.json_response({"ok": False, "error": reason, "detail": detail, "text": text}, status=status, headers=CORS)


def upload_route(
    store: AttachmentStore, settings: Settings, parts: ChannelParts, conversation_of: Callable[[str], str],
) -> web.RouteDef:
    """`conversation_of`: the web chat's conversation id of a session id (bot/channels/webchat/channel.py)."""
    trusted = TrustedProxies.parse(settings.trusted_proxies)

    async def upload(request: web.Request) -> web.Response:
        try:
            form = await read_upload(request, store.max_bytes)
            session_id = form.fields.get("session_id", "")
            if not _SESSION_ID.fullmatch(session_id):
                return _answer(400, "bad_session_id", "session_id must be 16-64 characters of A-Z, a-z, 0-9, '-' or '_'")
            client_id, caption = form.fields.get("client_id", ""), form.fields.get("text", "").strip()
            if form.data is None or not 0 < len(client_id) <= 64:
                raise AttachmentRejected("malformed", "the form needs a file and a client_id of 1-64 characters")
            store.check(form.data, allow_pdf=False)
        except AttachmentRejected as rejected:
            parts.metrics.errors.labels(f"upload_{rejected.reason}").inc()
            return _answer(_STATUS.get(rejected.reason, 400), rejected.reason, rejected.detail)
        conversation_id = conversation_of(session_id)
        raw_language = form.fields.get("language", "")[:2].lower()
        language = raw_language if raw_language in LANGUAGES else None
        who = await parts.addresses.pseudonym(client_address(request, trusted))
        try:  # a photo into a conversation without a line opens it, as a hello would
            if not await parts.transcript.history(conversation_id, limit=1):
                await parts.addresses.new_conversation(who, conversation_id, language)
        except Refused as refused:
            parts.metrics.errors.labels(f"rejected_{refused.reason}").inc()
            return _answer(429, refused.reason, refused.detail, refused.text)
        stored = await store.save(form.data, form.filename, conversation_id, allow_pdf=False)
        attachment = stored.public(settings.public_url)
        try:
            taken = await parts.intake.take(Inbound(
                conversation_id=conversation_id, channel=FAMILY, text=caption,
                language=language, external_id=client_id, address=who,
                media=(Media(url=attachment["url"], content_type=stored.content_type),), accepts_media=True,
            ))
        except Refused as refused:
            store.delete(stored.token)
            return _answer(429 if refused.reason in _TOO_FAST else 400, refused.reason, refused.detail, refused.text)
        if not taken:
            store.delete(stored.token)
            return web.json_response({"ok": True, "duplicate": True}, headers=CORS)
        log.info("webchat photo conversation=%s type=%s bytes=%d", conversation_id, stored.content_type, stored.size)
        return web.json_response({"ok": True, "attachment": attachment}, headers=CORS)

    return web.post(PATH, upload)
