"""Gateway A of bench/handoff_latency.py: `python -m bot` plus the bare-transport baseline.

The application is the real `bot.app.build_gateway(Settings.from_env())`, served the way
`python -m bot` serves it; bench/bare_transport.py adds its two routes and its subscriber to it,
so the baseline shares the process, the event loop and the Redis pool with the desk's paths.

BENCH_PROFILE=<file>: profile with cProfile between `POST /bench/profile/on` and `…/off` (the
benchmark's agent-message phases with --profile-a) and write the stats there on shutdown.
"""

from __future__ import annotations

import cProfile
import logging
import os
import sys
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bare_transport import BareTransport  # noqa: E402

from bot.app import build_gateway  # noqa: E402
from bot.settings import Settings  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()

    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None

    async def toggle(request: web.Request) -> web.Response:
        assert profiler is not None
        (profiler.enable if request.match_info["state"] == "on" else profiler.disable)()
        return web.json_response({})

    async def app() -> web.Application:
        gateway = build_gateway(settings)
        application = gateway.app
        BareTransport(gateway.redis).add_to(application)
        if profiler:
            application.router.add_post("/bench/profile/{state}", toggle)
        return application

    try:
        web.run_app(app(), host=settings.gateway_host, port=settings.gateway_port, access_log=None,
                    print=lambda text: logging.getLogger("bot").info(text.strip().replace("\n", " ")))
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
