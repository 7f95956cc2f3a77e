"""Security headers on every response of the gateway, and the token in front of `/metrics`.

`security_headers` runs on `on_response_prepare`, so it reaches every response, including static
files, websocket handshakes, errors and the router's own 404s, without wrapping any handler:
- `Content-Security-Policy`: scripts, styles and connections only from the gateway itself, no
  inline script or style, no plugins, no `<base>`; images also from https (customer photos a
  channel stores elsewhere) and data:/blob: (previews); `frame-ancestors 'none'`: no page of the
  gateway (console, reports, demo shop) can be framed by another site (clickjacking). The customer
  widget is a script a shop's page loads (`<script src=…/widget.js>`), never a frame, so it stays
  embeddable; it brings its styles as a constructed style sheet, which a shop's strict CSP allows too.
- `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
- `X-Content-Type-Options: nosniff`: a file is only ever what its content type says.
- `Referrer-Policy: no-referrer`: a link opened from the console or a chat tells the target nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' https: data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def metrics_guard(token: str, handler: Handler) -> Handler:
    """`/metrics` as it is without METRICS_TOKEN; with it, only for `Authorization: Bearer <token>`
    (401 otherwise), as Prometheus sends it with `authorization: {credentials: …}`."""
    if not token:
        return handler
    expected = f"Bearer {token}".encode()

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return web.json_response(
                {"error": "unauthorized", "detail": "send Authorization: Bearer <METRICS_TOKEN>"}, status=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return await handler(request)

    return guarded
