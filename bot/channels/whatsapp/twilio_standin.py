"""A stand-in for Twilio's Messages API, for tests and `make run` without a Twilio account.

`POST /2010-04-01/Accounts/{sid}/Messages.json` (form fields To, From, Body or ContentSid,
Basic auth with TWILIO_ACCOUNT_SID:TWILIO_AUTH_TOKEN) records the message and answers like
Twilio (201, a message resource with a fresh `SM…` sid). `GET` of the same path lists the
recorded messages in Twilio's list shape, newest first; `?To=` filters like Twilio's.

For tests of failures, `POST /2010-04-01/Accounts/{sid}/StandinFailures.json` with JSON
`{"to": "whatsapp:+49…", "count": N, "status": 503, "code": 20503}` makes the next N sends to
that address fail with that status and Twilio error code (nothing recorded); `GET` of the same
path with `?to=` answers `{"remaining": n, "failed": k}` (k: failures served so far).

    python -m bot.channels.whatsapp.twilio_standin --port 8099
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import logging
import os
import secrets
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from bot.channels.whatsapp.settings import WhatsAppSettings

PATH = "/2010-04-01/Accounts/{sid}/Messages.json"
FAILURES_PATH = "/2010-04-01/Accounts/{sid}/StandinFailures.json"
RECORDED: web.AppKey[list[dict[str, Any]]] = web.AppKey("recorded")
# Per address: {"remaining", "failed", "status", "code"} of the failures a test asked for.
FAILURES: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("failures")
CREDENTIALS: web.AppKey[tuple[str, str]] = web.AppKey("credentials")


def _authorized(request: web.Request) -> bool:
    sid, token = request.app[CREDENTIALS]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic ") or request.match_info["sid"] != sid:
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, sid) and secrets.compare_digest(password, token)


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status=status,
    )


async def create_message(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 20003, "Authenticate")
    form = await request.post()
    to, from_ = form.get("To"), form.get("From")
    body, content_sid = form.get("Body"), form.get("ContentSid")
    if not isinstance(to, str) or not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    failure = request.app[FAILURES].get(to)
    if failure and failure["remaining"] > 0:
        failure["remaining"] -= 1
        failure["failed"] += 1
        return _error(failure["status"], failure["code"], "Failure requested through StandinFailures.json.")
    if not from_:
        return _error(400, 21603, "A 'From' phone number is required.")
    if not body and not content_sid:
        return _error(400, 21602, "Message body is required.")
    if body and len(str(body)) > 1600:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    now = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
    account = request.match_info["sid"]
    sid = "SM" + secrets.token_hex(16)
    message: dict[str, Any] = {
        "account_sid": account, "api_version": "2010-04-01", "body": body or "", "content_sid": content_sid,
        "content_variables": form.get("ContentVariables"), "media_url": form.getall("MediaUrl", []),
        "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": from_, "messaging_service_sid": None,
        "num_media": str(len(form.getall("MediaUrl", []))), "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
        "status": "queued", "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        "to": to, "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }
    request.app[RECORDED].append(message)
    return web.json_response(message, status=201)


async def list_messages(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 20003, "Authenticate")
    recorded: list[dict[str, Any]] = request.app[RECORDED]
    messages = recorded[::-1]
    if to := request.query.get("To"):
        messages = [m for m in messages if m["to"] == to]
    uri = request.path_qs
    return web.json_response({
        "messages": messages, "end": max(len(messages) - 1, 0), "first_page_uri": uri, "next_page_uri": None,
        "page": 0, "page_size": len(messages), "previous_page_uri": None, "start": 0, "uri": uri,
    })


async def set_failures(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 20003, "Authenticate")
    try:
        spec = await request.json()
        to, count, status, code = str(spec["to"]), int(spec["count"]), int(spec["status"]), int(spec["code"])
    except (ValueError, KeyError, TypeError):
        return _error(400, 21000, "Send JSON {to, count, status, code}.")
    if not 400 <= status <= 599:
        return _error(400, 21000, "status must be an HTTP error status (400-599).")
    request.app[FAILURES][to] = {"remaining": count, "failed": 0, "status": status, "code": code}
    return web.json_response(request.app[FAILURES][to])


async def get_failures(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(401, 20003, "Authenticate")
    failure = request.app[FAILURES].get(request.query.get("to", ""), {"remaining": 0, "failed": 0})
    return web.json_response({"remaining": failure["remaining"], "failed": failure["failed"]})


def create_app(account_sid: str, auth_token: str) -> web.Application:
    app = web.Application()
    app[RECORDED] = []
    app[FAILURES] = {}
    app[CREDENTIALS] = (account_sid, auth_token)
    app.router.add_post(PATH, create_message)
    app.router.add_get(PATH, list_messages)
    app.router.add_post(FAILURES_PATH, set_failures)
    app.router.add_get(FAILURES_PATH, get_failures)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = WhatsAppSettings.from_env(os.environ)
    if not settings.twilio_auth_token:
        raise SystemExit("the Twilio stand-in checks Basic auth with TWILIO_AUTH_TOKEN: set it (make run generates one)")
    web.run_app(create_app(settings.twilio_account_sid, settings.twilio_auth_token), host=args.host, port=args.port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
