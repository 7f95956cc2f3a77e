"""Complaints at the desk: agents read a customer's complaints with their timeline and move them
through their lifecycle (db/complaints.py); a resolved or rejected complaint is told to the customer.

    GET  /api/complaints?conversation_id=…   {"complaints": [complaint with "timeline", newest first]}
    POST /api/complaints/{reference}         {"status": "in_progress"|"resolved"|"rejected"|"open",
                                              "resolution": "<text for the customer>"}

Every agent may work every complaint: a filed complaint is work for the desk by itself (the bot files
it for the agents), so the roles' reading rule (handoff.web.access) does not narrow these two routes.
Resolving or rejecting needs a resolution text. Errors: 400 bad_request, 404 unknown_complaint,
409 invalid_transition (a resolved or rejected complaint stays so), 422 reply_window_closed and
502 delivery_failed (the state changed, the customer could not be told). The customer is told through the gateway's
`Delivery` in the complaint's language; the delivery applies the channel's rules (a reply window's
template, a web chat customer who is not connected reads it in the history on the next visit).
Then the assistant asks the customer to rate how the complaint was handled (the external intent
`EXTERNAL_complaint_closed` through the `BotTrigger`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from core import texts
from core.contract import BotTrigger, Outbound, WindowClosed
from db import complaints as lifecycle
from db.models import Complaint
from handoff.web.api import AgentRoutes, error
from handoff.work.parts import DeskParts

log = logging.getLogger(__name__)

COMPLAINT_CLOSED = "EXTERNAL_complaint_closed"
MAX_RESOLUTION = 2000



class NotTold(Exception):
    """The state changed, but the customer could not be told (the channel refused or failed)."""


class ComplaintDesk:
    def __init__(self, parts: DeskParts, bot: BotTrigger) -> None:
        self._sessionmaker = parts.sessionmaker
        self._delivery = parts.delivery
        self._bot = bot

    async def of_customer(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self._sessionmaker() as session:
            rows = await lifecycle.of_customer(session, conversation_id)
            return [lifecycle.complaint_view(row, await lifecycle.timeline(session, row)) for row in rows]

    async def change(
        self, reference: str, status: lifecycle.Status, resolution: str | None, agent: str,
    ) -> dict[str, Any]:
        """Raises UnknownComplaint, InvalidTransition; a final state tells the customer and asks for a rating."""
        async with self._sessionmaker() as session:
            change = await lifecycle.change_status(session, reference, status, resolution, agent)
            await session.commit()
            complaint = change.complaint
        log.info("complaint %s: %s → %s by %s", reference, change.before, complaint.status, agent)
        if change.closed:
            await self._tell_customer(complaint.id, agent)
        async with self._sessionmaker() as session:
            row = await lifecycle.by_reference(session, reference)
            assert row is not None
            return lifecycle.complaint_view(row, await lifecycle.timeline(session, row))

    async def _tell_customer(self, complaint_id: int, agent: str) -> None:
        async with self._sessionmaker() as session:
            complaint = await session.get(Complaint, complaint_id)
            assert complaint is not None
            text = texts.text(f"complaint_{complaint.status}", complaint.language, reference=complaint.reference,
                              resolution=complaint.resolution or "")
            notice = Outbound(text=text, sender="agent", agent_id=agent)
            try:
                await self._delivery.deliver(complaint.conversation_id, [notice])
            except WindowClosed:
                raise
            except Exception as exc:
                log.exception("complaint %s: the customer could not be told", complaint.reference)
                raise NotTold(f"the complaint is {complaint.status}, "
                              f"but the message to the customer failed: {exc}") from exc
            lifecycle.add_event(session, complaint, lifecycle.EventKind.notice, agent, text=text)
            await session.commit()
            conversation_id = complaint.conversation_id
        try:
            await self._bot.trigger(conversation_id, COMPLAINT_CLOSED, {"agent_id": agent})
        except Exception:
            # The customer has the outcome; only the rating question is missing.
            log.exception("asking for the complaint rating failed conversation=%s", conversation_id)


class ComplaintRoutes:
    def __init__(self, desk: ComplaintDesk, routes: AgentRoutes) -> None:
        self.desk = desk
        self.routes = routes

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/api/complaints", self.routes.guard(self.list))
        app.router.add_post("/api/complaints/{reference}", self.routes.guard(self.change))

    async def list(self, request: web.Request, _agent: str) -> web.Response:
        conversation_id = request.query.get("conversation_id", "").strip()
        if not conversation_id:
            return error(400, "bad_request", "add ?conversation_id=<the customer's conversation id>")
        return web.json_response({"conversation_id": conversation_id,
                                  "complaints": await self.desk.of_customer(conversation_id)})

    async def change(self, request: web.Request, agent: str) -> web.Response:
        reference = request.match_info["reference"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        statuses = ", ".join(s.value for s in lifecycle.Status)
        if not isinstance(body, dict) or body.get("status") not in {s.value for s in lifecycle.Status}:
            return error(400, "bad_request", f'send {{"status": <one of {statuses}>, "resolution": "<text>"}}')
        status = lifecycle.Status(body["status"])
        resolution = body.get("resolution")
        if resolution is not None and not isinstance(resolution, str):
            return error(400, "bad_request", "resolution is a text")
        resolution = (resolution or "").strip() or None
        if resolution and len(resolution) > MAX_RESOLUTION:
            return error(400, "bad_request",
                         f"the resolution has {len(resolution)} characters, at most {MAX_RESOLUTION}")
        if status in lifecycle.FINAL and not resolution:
            return error(400, "bad_request", f"a {status.value} complaint needs a resolution text for the customer")
        try:
            view = await self.desk.change(reference, status, resolution, agent)
        except lifecycle.UnknownComplaint:
            return error(404, "unknown_complaint", f"no complaint has the reference {reference}")
        except lifecycle.InvalidTransition as exc:
            return error(409, "invalid_transition", str(exc))
        except WindowClosed as exc:
            return error(422, "reply_window_closed", f"the complaint is {status.value}, but the customer cannot be "
                         f"sent free text now: {exc}")
        except NotTold as exc:
            return error(502, "delivery_failed", str(exc))
        return web.json_response({"complaint": view})
