"""Privacy routes on the gateway, and the retention job's place in its life.

Supervisors (`Authorization: Bearer <token>` of an AGENT_TOKENS entry `name:token:supervisor`;
agents get 403 `supervisor_only`):
- `GET /api/privacy/export?whatsapp=+49…|webchat=<session id>|conversation_id=<id>` → the JSON document
  (the fields are the channel families': each family names its customers, bot/privacy/stores.py)
- `POST /api/privacy/erase` with `{"whatsapp": …}`, `{"webchat": …}` or `{"conversation_id": …}` →
  `{"erased": true, "conversations": n, "counts": {store: rows}}`
- `GET /api/privacy/log` → the newest audit rows

The customer (web chat): `POST /webchat/erase` `{"session_id": …}` erases the web conversation of
that session (the session id is what the browser holds, the same proof as the chat socket's
hello); `GET /webchat/config` tells the widget the `PRIVACY_URL` for its notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy.audit import CUSTOMER
from bot.privacy.retention import Retention
from bot.privacy.service import Privacy
from bot.privacy.stores import BadSubject, Families, Stores, tracker_engine
from bot.router import Router
from bot.settings import Settings
from core.attachments import AttachmentStore
from core.request_body import json_body
from handoff.web.api import AgentRoutes, error
from handoff.web.auth import Role

PRIVACY = web.AppKey("privacy", Privacy)
WIDGET_FAMILY = "webchat"  # the family of the customers who use `POST /webchat/erase`


class PrivacyRoutes:
    def __init__(self, privacy: Privacy, settings: Settings) -> None:
        self.privacy = privacy
        self.settings = settings

    def add_to(self, app: web.Application, agents: AgentRoutes) -> None:
        app.router.add_get("/api/privacy/export", agents.guard(self.export, Role.supervisor))
        app.router.add_post("/api/privacy/erase", agents.guard(self.erase, Role.supervisor))
        app.router.add_get("/api/privacy/log", agents.guard(self.log, Role.supervisor))
        app.router.add_post("/webchat/erase", self.customer_erase)
        app.router.add_get("/webchat/config", self.widget_config)

    async def export(self, request: web.Request, supervisor: str) -> web.Response:
        try:
            subject = self.privacy.stores.families.subject(dict(request.query))
        except BadSubject as exc:
            return error(400, "bad_request", str(exc))
        return web.json_response(await self.privacy.export(subject, supervisor))

    async def erase(self, request: web.Request, supervisor: str) -> web.Response:
        body = await json_body(request)
        try:
            subject = self.privacy.stores.families.subject(body if isinstance(body, dict) else {})
        except BadSubject as exc:
            return error(400, "bad_request", str(exc))
        conversations, counts = await self.privacy.erase(subject, supervisor)
        return web.json_response({"erased": True, "conversations": conversations, "counts": dict(counts)})

    async def log(self, _request: web.Request, _supervisor: str) -> web.Response:
        return web.json_response({"entries": await self.privacy.audit.entries()})

    async def customer_erase(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        session_id = body.get("session_id") if isinstance(body, dict) else None
        try:  # the widget's own route: a web chat customer names themselves by their session id
            subject = self.privacy.stores.families.subject({WIDGET_FAMILY: session_id})
        except BadSubject as exc:
            return error(400, "bad_request", str(exc))
        conversations, _ = await self.privacy.erase(subject, CUSTOMER)
        return web.json_response({"erased": True, "conversations": conversations})

    async def widget_config(self, _request: web.Request) -> web.Response:
        return web.json_response({"privacy_url": self.settings.privacy_url or None},
                                 headers={"Cache-Control": "max-age=300"})


def setup_privacy(
    app: web.Application, settings: Settings, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
    agents: AgentRoutes, router: Router, families: Families,
) -> Privacy:
    """Adds the privacy routes and the retention job (every RETENTION_INTERVAL_SECONDS, in one process)."""
    stores = Stores(sessionmaker, tracker_engine(settings.rasa_tracker_db_url), redis,
                    AttachmentStore.from_config(settings), secret=settings.shopdesk_secret, families=families)
    privacy = Privacy(stores)
    PrivacyRoutes(privacy, settings).add_to(app, agents)
    retention = Retention(privacy, settings.retention_days, settings.complaint_retention_days,
                          settings.retention_interval_seconds)
    app[PRIVACY] = privacy
    router.erase = privacy.erase_from_chat

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(retention.loop(), name="privacy:retention")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if stores.tracker is not None:
            await stores.tracker.dispose()

    app.cleanup_ctx.append(lifecycle)
    return privacy
