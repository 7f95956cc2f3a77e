"""A stand-in for Meta's Graph API messages endpoint, for tests and `make run` without a Meta app.

`POST /v21.0/{phone_number_id}/messages` (JSON as the Cloud API takes it, `Authorization: Bearer
WHATSAPP_CLOUD_TOKEN`, the configured phone number id) records the message and answers like
Meta (200, `{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid.…"}]}`);
a wrong token gets Meta's 401 error shape, a body without `to` or `type` a 400 (code 100).
`GET` of the same path lists the recorded messages, newest first (`?to=` filters) — an addition
of the stand-in, which Meta does not have.

    python -m bot.channels.whatsapp.cloud_standin --port 8098
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import secrets
from typing import Any

from aiohttp import web

from bot.channels.whatsapp.settings import WhatsAppSettings

PATH = "/v21.0/{phone_number_id}/messages"
RECORDED: web.AppKey[list[dict[str, Any]]] = web.AppKey("recorded")
CREDENTIALS: web.AppKey[tuple[str, str]] = web.AppKey("credentials")  # (phone number id, token)


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "OAuthException", "code": code,
                                        "fbtrace_id": secrets.token_hex(8)}}, status=status)


def _authorized(request: web.Request) -> bool:
    phone_number_id, token = request.app[CREDENTIALS]
    header = request.headers.get("Authorization", "")
    return request.match_info["phone_number_id"] == phone_number_id and hmac.compare_digest(header, f"Bearer {token}")


async def create_message(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 190, "Invalid OAuth access token.")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, 100, "The request body is not JSON.")
    if not isinstance(body, dict) or not body.get("to") or body.get("type") not in ("text", "interactive", "template", "image"):
        return _error(400, 100, "Invalid parameter: to and a known type are required.")
    message_id = "wamid." + secrets.token_hex(16)
    request.app[RECORDED].append({"id": message_id, **body})
    return web.json_response({
        "messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
        "messages": [{"id": message_id}],
    })


async def list_messages(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 190, "Invalid OAuth access token.")
    messages = request.app[RECORDED][::-1]
    if to := request.query.get("to"):
        messages = [m for m in messages if m["to"] == to]
    return web.json_response({"data": messages})


def create_app(phone_number_id: str, token: str) -> web.Application:
    app = web.Application()
    app[RECORDED] = []
    app[CREDENTIALS] = (phone_number_id, token)
    app.router.add_post(PATH, create_message)
    app.router.add_get(PATH, list_messages)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = WhatsAppSettings.from_env(os.environ)
    app = create_app(settings.whatsapp_cloud_phone_number_id, settings.whatsapp_cloud_token)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
