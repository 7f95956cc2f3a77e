"""Agents working together and faster: internal notes, transfer, presence, canned replies, the
customer column, and what the console's socket says besides ping (`viewing`).

Routes (JSON, agent token):
  GET  /api/handoff/agents                  the accounts, whether they are online, what they hold
  GET  /api/handoff/replies                 the shop's canned replies (REPLIES_FILE)
  POST /api/conversations/{id}/notes        {"text"}: an internal note (never sent to the customer)
  POST /api/handoff/{id}/transfer           {"to": "<agent>"|null, "note"}: to that agent, or null
                                            back to the queue; the note becomes an internal note
  POST /api/handoff/{id}/attachments        multipart `file` (image or PDF, ATTACHMENT_MAX_MB) and `text`:
                                            sent to the customer (413 too_large, 415 type)
Socket frames from the console: `{"type": "viewing", "conversation_id"}` (presence) and
`{"type": "typing", "conversation_id"}` (the customer sees "‹agent› schreibt …" where the channel can).
Events: `note` (conversation_id, note), `transferred` (conversation_id, from, to, note),
`viewers` (conversation_id, agents).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from core.attachments import AttachmentRejected, AttachmentStore, read_upload
from core.contract import DeliveryFailed, WindowClosed
from handoff.labels import customer_label
from handoff.queue import keys
from handoff.queue.desk_queue import NotOwner
from handoff.queue.state import ConversationState
from handoff.web.access import DeskAccess
from handoff.web.auth import AgentAuth
from handoff.work.customer import CustomerView
from handoff.work.desk import HandoffDesk
from handoff.work.notes import MAX_NOTE, Notes
from handoff.work.presence import Presence
from handoff.work.replies import CannedReplies
from handoff.work.transfer import TargetFull, Transfers

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Guard = Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]
Reads = Callable[[Handler], Handler]
Error = Callable[..., web.Response]


class TeamWork:
    def __init__(self, desk: HandoffDesk, auth: AgentAuth, access: DeskAccess) -> None:
        parts = desk.parts
        self.desk = desk
        self.parts = parts
        self.auth = auth
        self.access = access
        self.notes = Notes(parts.sessionmaker)
        self.customers = CustomerView(parts.sessionmaker)
        self.presence = Presence(parts.redis, parts.events)
        self.transfers = Transfers(parts.redis)
        self.replies = CannedReplies(Path(parts.config.replies_file))
        self.attachments = AttachmentStore.from_config(parts.config)

    def add_to(self, app: web.Application, guard: Guard, reads: Reads, error: Error) -> None:
        self._error = error
        app.router.add_get("/api/handoff/agents", guard(self.agents))
        app.router.add_get("/api/handoff/replies", guard(self.canned))
        app.router.add_post("/api/conversations/{conversation_id}/notes", guard(reads(self.add_note)))
        app.router.add_post("/api/handoff/{conversation_id}/transfer", guard(self.transfer))
        app.router.add_post("/api/handoff/{conversation_id}/attachments", guard(self.attach))

    # -- what the conversation view carries besides the desk's card ---------------------------

    async def extras(self, view: dict[str, Any]) -> dict[str, Any]:
        cid = view["conversation_id"]
        return {
            "customer_label": customer_label(cid),
            "notes": await self.notes.of(cid),
            "customer": await self.customers.of(cid, view["card"].get("order_number")),
            "viewers": await self.presence.of(cid),
        }

    # -- routes --------------------------------------------------------------------------------

    async def agents(self, _request: web.Request, _agent: str) -> web.Response:
        now = time.time()
        found = []
        for name in self.auth.names():
            fresh = now - self.desk.events.stale_seconds
            online = await self.parts.redis.zcount(keys.agent_sockets(name), fresh, "+inf")
            held = await self.parts.redis.scard(keys.agent_conversations(name))
            found.append({"name": name, "online": online > 0, "conversations": held})
        return web.json_response({"agents": found, "max_conversations": self.parts.config.agent_max_conversations})

    async def canned(self, _request: web.Request, _agent: str) -> web.Response:
        return web.json_response({"replies": self.replies.current(), "problem": self.replies.problem})

    async def add_note(self, request: web.Request, agent: str) -> web.Response:
        cid = request.match_info["conversation_id"]
        text = await _field(request, "text")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "bad_request", 'send {"text": "<internal note>"}')
        if len(text) > MAX_NOTE:
            return self._error(400, "bad_request", f"a note has at most {MAX_NOTE} characters, this one {len(text)}")
        note = await self.notes.add(cid, agent, text.strip())
        await self.desk.events.publish({"type": "note", "conversation_id": cid, "note": note})
        return web.json_response({"note": note})

    async def transfer(self, request: web.Request, agent: str) -> web.Response:
        cid = request.match_info["conversation_id"]
        body = await _body(request)
        target, note = body.get("to"), body.get("note") or ""
        if target is not None and (not isinstance(target, str) or target not in self.auth.names()):
            return self._error(400, "unknown_agent",
                               f"{target!r} is not an agent account (see GET /api/handoff/agents)")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            return self._error(400, "bad_request",
                               f'send {{"to": "<agent>"|null, "note": "<at most {MAX_NOTE} characters>"}}')
        if target == agent:
            return self._error(400, "bad_request", "you already hold this conversation")
        position = None
        try:
            if target is None:
                position = await self.desk.agents.release(cid, agent)
            else:
                limit = self.parts.config.agent_max_conversations
                await self.transfers.to_agent(cid, agent, target, limit, time.time())
        except NotOwner as exc:
            return self._error(403, "not_owner", f"you do not hold this conversation (it is {exc.state.value})",
                               owner=exc.owner, state=exc.state.value)
        except TargetFull:
            limit = self.parts.config.agent_max_conversations
            return self._error(409, "target_full",
                               f"{target} already holds {limit} conversations (AGENT_MAX_CONVERSATIONS)")
        saved = await self.notes.add(cid, agent, note.strip()) if note.strip() else None
        await self.desk.events.publish({
            "type": "transferred", "conversation_id": cid, "from": agent, "to": target, "note": saved,
            "customer_label": customer_label(cid),
        })
        if saved is not None:
            await self.desk.events.publish({"type": "note", "conversation_id": cid, "note": saved})
        return web.json_response({"transferred": True, "to": target, "position": position})

    async def attach(self, request: web.Request, agent: str) -> web.Response:
        cid = request.match_info["conversation_id"]
        state, owner, _ = await self.parts.queue.holder(cid)
        if state is not ConversationState.agent or owner != agent:
            return self._error(403, "not_owner", f"you do not hold this conversation (it is {state.value})",
                               owner=owner, state=state.value)
        try:
            upload = await read_upload(request, self.attachments.max_bytes)
            if upload.data is None:
                raise AttachmentRejected("malformed", "send the file as the multipart field 'file'")
            stored = await self.attachments.save(upload.data, upload.filename, cid, allow_pdf=True)
        except AttachmentRejected as rejected:
            status = {"too_large": 413, "type": 415}.get(rejected.reason, 400)
            return self._error(status, rejected.reason, rejected.detail)
        attachment = stored.public(self.parts.config.public_url)
        text = upload.fields.get("text", "").strip() or f"📎 {stored.name}"
        try:
            await self.desk.agents.send(cid, agent, text, attachment)
        except NotOwner as exc:
            return self._error(403, "not_owner", f"you do not hold this conversation (it is {exc.state.value})",
                               owner=exc.owner, state=exc.state.value)
        except WindowClosed as exc:
            self.attachments.delete(stored.token)
            return self._error(422, "reply_window_closed", str(exc))
        except DeliveryFailed as exc:
            log.error("agent attachment not delivered conversation=%s", cid)
            return self._error(502, "delivery_failed", f"the attachment could not be sent to the customer: {exc}")
        return web.json_response({"sent": True, "attachment": attachment})

    # -- the agent socket ----------------------------------------------------------------------

    async def frame(self, agent: str, viewing: dict[str, str | None], raw: str) -> None:
        """A frame from the console's socket; `viewing` is that socket's state (what it shows)."""
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        cid = frame.get("conversation_id")
        if cid is not None and (not isinstance(cid, str) or not 0 < len(cid) <= 128):
            return
        if frame.get("type") == "typing" and cid:
            await self.desk.typing.agent(cid, agent)
            return
        if frame.get("type") != "viewing":
            return
        if cid and not await self.access.may_read(cid, agent):
            cid = None  # presence only for a conversation the console could open (handoff.web.access)
        before = viewing.get("conversation_id")
        if before and before != cid:
            await self.presence.left(agent, before)
        viewing["conversation_id"] = cid
        if cid:
            await self.presence.viewing(agent, cid)

    async def gone(self, agent: str, viewing: dict[str, str | None]) -> None:
        before = viewing.get("conversation_id")
        if before:
            await self.presence.left(agent, before)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _field(request: web.Request, name: str) -> Any:
    return (await _body(request)).get(name)
