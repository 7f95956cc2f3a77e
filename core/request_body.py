"""The JSON body of a request to the gateway's or the desk's API."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def json_body(request: web.Request) -> Any:
    """The decoded body: {} when the request has none, None when it is not JSON (the caller answers 400)."""
    if not request.can_read_body:
        return {}
    try:
        return await request.json()
    except ValueError:
        return None
