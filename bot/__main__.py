"""`python -m bot`: the gateway on the Settings read from the environment."""

from __future__ import annotations

import logging
import socket

from aiohttp import web

from bot.app import create_app
from bot.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a setting that cannot work: say which and how to fix it, no traceback
        raise SystemExit(f"shopdesk gateway cannot start: {exc}") from None

    async def app() -> web.Application:
        return create_app(settings)

    health = socket.create_server(("127.0.0.1", settings.gateway_health_port)) if settings.gateway_health_port else None
    web.run_app(app(), host=settings.gateway_host, port=settings.gateway_port, sock=health,
                reuse_port=settings.gateway_reuse_port or None, access_log=None,
                print=lambda text: logging.getLogger("bot").info(text.strip().replace("\n", " ")))


if __name__ == "__main__":
    main()
